"""An integration as a JSON file (DESIGN §8, §9 "Files"): `integration_import` and
`integration_export`."""

from __future__ import annotations

import copy
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.config_file import ConfigError, integration_import
from integrations.models import Integration, IntegrationStep, StepFilter
from players.services import player_upsert
from scoring.models import PointType, ScoreSeries, Transaction
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db

# DESIGN §8's example, verbatim.
EXAMPLE: dict[str, Any] = json.loads("""
{
  "name": "Pipedrive (sales)",
  "type": "pipedrive",
  "enabled": true,
  "webhook_secret": "kept-secret-123",
  "credentials": {"basic_auth_user": "pd", "basic_auth_password": "s3cret"},
  "series": [
    {"name": "Deals"},
    {"name": "Activities", "point_types": [{"name": "Call", "points": 1}, {"name": "Meeting", "points": 10}]}
  ],
  "steps": [
    {"kind": "users", "name": "Users", "enabled": true, "source_type": "user", "event_type": "",
     "player_id": "id", "player_id_prefix": "pd:", "player_name": "name", "player_email": "email",
     "filters": [{"field": "active_flag", "operator": "in", "values": ["true"]}]},
    {"kind": "points", "name": "Won deals", "enabled": true, "source_type": "deal", "event_type": "",
     "series": "Deals", "points": "value", "point_type": "", "score_id": "id",
     "player_id": "owner_id", "player_id_prefix": "pd:", "player_name": "", "player_email": "",
     "comment": "title", "tags": ["status", "#notes"], "create_tags": true,
     "point_time": "won_time", "revoke": "on_change",
     "filters": [{"field": "status", "operator": "in", "values": ["won"]}]}
  ]
}
""")


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


def write_file(tmp_path: Path, data: Any, name: str = "integration.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def import_file(tmp_path: Path, data: Any) -> str:
    out = StringIO()
    call_command("integration_import", write_file(tmp_path, data), stdout=out)
    return out.getvalue()


def export(name: str, *flags: str) -> dict[str, Any]:
    out = StringIO()
    call_command("integration_export", name, *flags, stdout=out)
    return json.loads(out.getvalue())


def steps_of(integration: Integration) -> dict[str, IntegrationStep]:
    return {s.name: s for s in IntegrationStep.objects.filter(integration=integration)}


def filters_of(step: IntegrationStep) -> list[tuple[str, str, list[Any]]]:
    return [(f.field, f.operator, f.values) for f in step.filters.order_by("id")]


def database_snapshot() -> dict[str, Any]:
    """Everything an import may write, to show that a refused file changed nothing."""
    return {
        "integrations": list(
            Integration.objects.order_by("id").values(
                "id", "name", "type", "enabled", "webhook_secret", "credentials"
            )
        ),
        "steps": list(IntegrationStep.objects.order_by("id").values()),
        "filters": list(StepFilter.objects.order_by("id").values()),
        "series": list(ScoreSeries.objects.order_by("id").values()),
        "point_types": list(PointType.objects.order_by("id").values()),
    }


def problem_naming(problems: list[str], *words: str) -> str:
    """The one problem line that mentions all `words`; fails listing every line otherwise."""
    found = [p for p in problems if all(w in p for w in words)]
    assert found, f"no problem names {words!r}; problems were:\n" + "\n".join(problems)
    return found[0]


# Import of the example


def test_design_example_imports_with_its_series_point_types_and_steps(tmp_path) -> None:
    output = import_file(tmp_path, example())

    integration = Integration.objects.get()
    assert "created integration 'Pipedrive (sales)' (2 steps)" in output
    assert integration.name == "Pipedrive (sales)"
    assert integration.type == "pipedrive"
    assert integration.enabled is True
    assert integration.webhook_secret == "kept-secret-123"
    assert integration.webhook_path == "/hooks/kept-secret-123/"
    assert integration.credentials == {"basic_auth_user": "pd", "basic_auth_password": "s3cret"}

    assert sorted(ScoreSeries.objects.values_list("name", flat=True)) == ["Activities", "Deals"]
    assert not PointType.objects.filter(series__name="Deals").exists()
    activities = PointType.objects.filter(series__name="Activities").order_by("name")
    assert [(p.name, p.points) for p in activities] == [("Call", 1), ("Meeting", 10)]


def test_design_example_steps_keep_every_field_and_filter(tmp_path) -> None:
    import_file(tmp_path, example())

    steps = steps_of(Integration.objects.get())
    assert list(steps) == ["Users", "Won deals"]
    users, won = steps["Users"], steps["Won deals"]
    assert (users.kind, users.order, users.enabled) == ("users", 0, True)
    assert (users.source_type, users.event_type) == ("user", "")
    assert (users.player_id, users.player_id_prefix) == ("id", "pd:")
    assert (users.player_name, users.player_email) == ("name", "email")
    assert users.series is None
    assert filters_of(users) == [("active_flag", "in", ["true"])]

    assert (won.kind, won.order, won.enabled) == ("points", 1, True)
    assert (won.source_type, won.event_type) == ("deal", "")
    assert won.series is not None and won.series.name == "Deals"
    assert (won.points, won.point_type, won.score_id) == ("value", "", "id")
    assert (won.player_id, won.player_id_prefix) == ("owner_id", "pd:")
    assert (won.player_name, won.player_email) == ("", "")
    assert (won.comment, won.tags, won.create_tags) == ("title", ["status", "#notes"], True)
    assert (won.point_time, won.revoke) == ("won_time", "on_change")
    assert filters_of(won) == [("status", "in", ["won"])]


# Export


def masked_example() -> dict[str, Any]:
    masked = example()
    masked["webhook_secret"] = "***"
    masked["credentials"]["basic_auth_password"] = "***"
    return masked


@pytest.mark.parametrize(
    ("flags", "expected"),
    [((), masked_example()), (("--with-secrets",), example())],
    ids=["masked", "with-secrets"],
)
def test_export_prints_the_design_example_back(tmp_path, flags, expected) -> None:
    import_file(tmp_path, example())

    assert export("Pipedrive (sales)", *flags) == expected


def test_export_prints_secrets_as_stars(tmp_path) -> None:
    import_file(tmp_path, example())

    printed = export("Pipedrive (sales)")

    assert printed["webhook_secret"] == "***"
    assert printed["credentials"] == {"basic_auth_user": "pd", "basic_auth_password": "***"}
    assert printed["steps"] == EXAMPLE["steps"]
    assert "s3cret" not in json.dumps(printed)
    assert "kept-secret-123" not in json.dumps(printed)


def test_export_with_secrets_prints_the_stored_values(tmp_path) -> None:
    import_file(tmp_path, example())

    printed = export("Pipedrive (sales)", "--with-secrets")

    assert printed["webhook_secret"] == "kept-secret-123"
    assert printed["credentials"] == {"basic_auth_user": "pd", "basic_auth_password": "s3cret"}
    assert printed["steps"] == EXAMPLE["steps"]


def test_export_of_an_unknown_name_is_refused_naming_the_integrations(tmp_path) -> None:
    import_file(tmp_path, example())

    with pytest.raises(CommandError, match=r"no integration named 'Nope'.*Pipedrive \(sales\)"):
        export("Nope")


# Round trip and re-import


def test_export_then_import_round_trip_is_stable(tmp_path) -> None:
    import_file(tmp_path, example())
    first = export("Pipedrive (sales)", "--with-secrets")
    before = database_snapshot()

    output = import_file(tmp_path, first)

    assert "updated integration 'Pipedrive (sales)'" in output
    assert export("Pipedrive (sales)", "--with-secrets") == first
    after = database_snapshot()
    # Filters are rewritten on import (new ids); everything else is the same rows.
    assert {k: v for k, v in after.items() if k != "filters"} == {
        k: v for k, v in before.items() if k != "filters"
    }
    assert [(f["step_id"], f["field"], f["operator"], f["values"]) for f in after["filters"]] == [
        (f["step_id"], f["field"], f["operator"], f["values"]) for f in before["filters"]
    ]


def test_masked_export_imported_again_keeps_the_stored_secrets(tmp_path) -> None:
    import_file(tmp_path, example())
    with_secrets = export("Pipedrive (sales)", "--with-secrets")

    import_file(tmp_path, export("Pipedrive (sales)"))

    assert export("Pipedrive (sales)", "--with-secrets") == with_secrets


def test_reimport_matches_by_name_and_updates_without_duplicates(tmp_path) -> None:
    import_file(tmp_path, example())
    integration = Integration.objects.get()
    step_ids = {name: step.pk for name, step in steps_of(integration).items()}
    changed = example()
    changed["enabled"] = False
    changed["credentials"]["basic_auth_user"] = "pipedrive"
    changed["series"][1]["point_types"][1]["points"] = 12
    won = changed["steps"][1]
    won.update(points="weighted_value", revoke="never", tags=["stage_id"])
    won["filters"] = [
        {"field": "status", "operator": "in", "values": ["won"]},
        {"field": "value", "operator": "gt", "values": [0]},
    ]

    output = import_file(tmp_path, changed)

    assert "updated integration 'Pipedrive (sales)' (2 steps)" in output
    assert Integration.objects.get().pk == integration.pk
    integration.refresh_from_db()
    assert integration.enabled is False
    assert integration.credentials == {
        "basic_auth_user": "pipedrive",
        "basic_auth_password": "s3cret",
    }
    steps = steps_of(integration)
    assert {name: step.pk for name, step in steps.items()} == step_ids
    assert steps["Won deals"].points == "weighted_value"
    assert steps["Won deals"].revoke == "never"
    assert steps["Won deals"].tags == ["stage_id"]
    assert filters_of(steps["Won deals"]) == [("status", "in", ["won"]), ("value", "gt", [0])]
    assert StepFilter.objects.count() == 3
    assert ScoreSeries.objects.count() == 2
    meeting = PointType.objects.get(name="Meeting")
    assert PointType.objects.count() == 2
    assert meeting.points == 12


def test_steps_missing_from_a_reimported_file_are_disabled_not_deleted(tmp_path, deliver) -> None:
    import_file(tmp_path, example())
    integration = Integration.objects.get()
    player_upsert(external_id="pd:1001", name="Ann", email="")
    deliver(integration, deal_v2(123, status="won", value=100, owner_id=1001))
    award = Transaction.objects.get()
    only_users = example()
    only_users["steps"] = [only_users["steps"][0]]

    import_file(tmp_path, only_users)

    steps = steps_of(integration)
    assert list(steps) == ["Users", "Won deals"]
    assert steps["Users"].enabled is True
    assert steps["Won deals"].enabled is False
    assert filters_of(steps["Won deals"]) == [("status", "in", ["won"])]
    award.refresh_from_db()
    assert award.step == steps["Won deals"]


def test_reimported_step_is_enabled_again(tmp_path) -> None:
    import_file(tmp_path, example())
    only_users = example()
    only_users["steps"] = [only_users["steps"][0]]
    import_file(tmp_path, only_users)

    import_file(tmp_path, example())

    assert all(step.enabled for step in steps_of(Integration.objects.get()).values())


def test_stars_as_a_credential_or_secret_keep_the_stored_values(tmp_path) -> None:
    stored = example()
    stored["credentials"]["api_token"] = "tok-123"
    import_file(tmp_path, stored)
    masked = example()
    masked["webhook_secret"] = "***"
    masked["credentials"] = {
        "basic_auth_user": "pd2",
        "basic_auth_password": "***",
        "api_token": "***",
    }

    import_file(tmp_path, masked)

    integration = Integration.objects.get()
    assert integration.webhook_secret == "kept-secret-123"
    assert integration.credentials == {
        "basic_auth_user": "pd2",
        "basic_auth_password": "s3cret",
        "api_token": "tok-123",
    }


def test_a_missing_webhook_secret_is_generated(tmp_path) -> None:
    data = example()
    del data["webhook_secret"]

    import_file(tmp_path, data)

    secret = Integration.objects.get().webhook_secret
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64
    assert secret.replace("-", "").replace("_", "").isalnum()


# Defaults


def test_file_without_steps_gives_a_new_pipedrive_integration_the_default_setup(
    tmp_path,
) -> None:
    import_file(tmp_path, {"name": "Pipedrive (defaults)", "type": "pipedrive"})

    steps = list(IntegrationStep.objects.order_by("order"))
    assert [(s.name, s.kind, s.source_type) for s in steps] == [
        ("Users", "users", "user"),
        ("Won deals", "points", "deal"),
        ("Completed calls", "points", "activity"),
        ("Completed meetings", "points", "activity"),
    ]
    assert all(s.enabled for s in steps)
    assert sorted(ScoreSeries.objects.values_list("name", flat=True)) == ["Activities", "Deals"]
    by_name = {s.name: s for s in steps}
    assert by_name["Won deals"].series is not None
    assert by_name["Won deals"].series.name == "Deals"
    assert filters_of(by_name["Won deals"]) == [("status", "in", ["won"])]
    for name, activity_type in (("Completed calls", "call"), ("Completed meetings", "meeting")):
        step = by_name[name]
        assert step.series is not None and step.series.name == "Activities"
        assert step.points == "1"
        assert filters_of(step) == [
            ("done", "in", ["true"]),
            ("type", "in", [activity_type]),
        ]


def test_empty_steps_list_gives_a_new_integration_no_steps(tmp_path) -> None:
    output = import_file(tmp_path, {"name": "Bare", "type": "pipedrive", "steps": []})

    assert "created integration 'Bare' (0 steps)" in output
    assert not IntegrationStep.objects.exists()


def test_empty_steps_list_on_reimport_disables_every_step(tmp_path) -> None:
    import_file(tmp_path, example())
    emptied = example()
    emptied["steps"] = []

    import_file(tmp_path, emptied)

    assert [(s.name, s.enabled) for s in IntegrationStep.objects.order_by("name")] == [
        ("Users", False),
        ("Won deals", False),
    ]


def test_file_without_steps_on_reimport_leaves_the_steps_alone(tmp_path) -> None:
    import_file(tmp_path, example())
    before = database_snapshot()["steps"]
    no_steps = example()
    del no_steps["steps"]

    import_file(tmp_path, no_steps)

    assert database_snapshot()["steps"] == before


# Refusals


def malformed() -> dict[str, Any]:
    data = example()
    data["type"] = "freshsales"  # a type no source registers
    data["webhook_secret"] = "short"
    data["colour"] = "red"
    won = data["steps"][1]
    won["revoke"] = "sometimes"
    won["filters"][0]["operator"] = "like"
    data["steps"].append(
        {
            "kind": "points",
            "name": "Seriesless",
            "source_type": "deal",
            "points": "value",
            "player_id": "owner_id",
        }
    )
    return data


def assert_names_every_field_problem(problems: list[str]) -> None:
    problem_naming(problems, "type", "freshsales")
    problem_naming(problems, "webhook_secret", "short")
    problem_naming(problems, "steps", "revoke", "sometimes")
    problem_naming(problems, "steps", "operator", "like")
    problem_naming(problems, "steps", "series", "points step")


def test_malformed_file_is_refused_whole_with_every_problem_named() -> None:
    with pytest.raises(ConfigError) as refused:
        integration_import(data=malformed())

    problems = refused.value.problems
    problem_naming(problems, "colour", "unknown key")
    assert_names_every_field_problem(problems)


def test_malformed_file_without_unknown_keys_names_every_field_problem() -> None:
    data = malformed()
    del data["colour"]

    with pytest.raises(ConfigError) as refused:
        integration_import(data=data)

    assert_names_every_field_problem(refused.value.problems)
    assert len(refused.value.problems) == 5


def test_unknown_top_level_key_is_named() -> None:
    data = example()
    data["colour"] = "red"

    with pytest.raises(ConfigError) as refused:
        integration_import(data=data)

    problem_naming(refused.value.problems, "colour", "unknown key")


@pytest.mark.parametrize(
    "problem", ["bad type", "bad webhook_secret", "bad revoke", "bad operator", "no series"]
)
def test_refused_reimport_changes_nothing(tmp_path, problem) -> None:
    import_file(tmp_path, example())
    before = database_snapshot()
    data = example()
    # Valid changes alongside the one problem: none of them may be written.
    data["enabled"] = False
    data["credentials"]["basic_auth_password"] = "changed"
    data["series"].append({"name": "Brand new", "point_types": [{"name": "X", "points": 3}]})
    data["steps"][0]["player_name"] = "full_name"
    data["steps"].append({**data["steps"][1], "name": "Another", "series": "Other series"})
    broken = {
        "bad type": lambda: data.update(type="freshsales"),
        "bad webhook_secret": lambda: data.update(webhook_secret="a b"),
        "bad revoke": lambda: data["steps"][1].update(revoke="sometimes"),
        "bad operator": lambda: data["steps"][1]["filters"][0].update(operator="like"),
        "no series": lambda: data["steps"][1].update(series=""),
    }
    broken[problem]()

    with pytest.raises(CommandError, match="refused, nothing changed"):
        import_file(tmp_path, data)

    assert database_snapshot() == before


def test_refused_new_file_creates_nothing(tmp_path) -> None:
    with pytest.raises(CommandError) as refused:
        import_file(tmp_path, malformed())

    assert "nothing changed" in str(refused.value)
    assert database_snapshot() == {
        "integrations": [],
        "steps": [],
        "filters": [],
        "series": [],
        "point_types": [],
    }


def test_command_lists_each_problem_of_a_refused_file(tmp_path) -> None:
    data = malformed()
    del data["colour"]

    with pytest.raises(CommandError) as refused:
        import_file(tmp_path, data)

    message = str(refused.value)
    assert "refused, nothing changed (5 problem(s))" in message
    lines = [line.removeprefix("  - ") for line in message.splitlines()[1:]]
    assert len(lines) == 5
    assert_names_every_field_problem(lines)


def test_command_refuses_a_missing_file_clearly(tmp_path) -> None:
    missing = tmp_path / "nowhere.json"

    with pytest.raises(CommandError, match=r"cannot read .*nowhere\.json: No such file"):
        call_command("integration_import", str(missing), stdout=StringIO())

    assert not Integration.objects.exists()


def test_command_refuses_invalid_json_clearly(tmp_path) -> None:
    path = write_file(tmp_path, '{"name": "Broken", "type": "pipedrive",', "broken.json")

    with pytest.raises(CommandError, match=r"broken\.json is not valid JSON: .*line 1"):
        call_command("integration_import", path, stdout=StringIO())

    assert not Integration.objects.exists()


def test_command_refuses_json_that_is_not_an_object(tmp_path) -> None:
    with pytest.raises(CommandError, match="one JSON object"):
        import_file(tmp_path, [example()])

    assert not Integration.objects.exists()
