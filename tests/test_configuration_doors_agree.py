"""The three doors to a configuration — the admin (its add forms, with the filter inline), the
REST API and import files — accept exactly the same configurations, with the same messages
naming the same fields; and whatever they accept, the engine runs: a delivery that matches
never meets a configuration error.

Each generated configuration goes through every door in a savepoint that is rolled back, and
each door's answer becomes a set of (field, message), with the doors' ways of naming a field
mapped onto the services' (`credentials.api_token`, `filters[1].values`). The admin cannot
express everything the others can (a credential it has no field for, a list, paths of a type
without paths, points fields on a users step, which its form does not have): such
configurations are compared between the API and the file only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.config_file import integration_import
from integrations.configuration import integration_create, step_create
from integrations.models import Integration, WebhookEvent
from integrations.sources.registry import Field, Source, source_for, sources
from players.services import player_upsert
from scoring.models import PointType, ScoreSeries
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db

T = TypeVar("T")
Problems = set[tuple[str, str]]

# --- what is generated --------------------------------------------------------------------------
#
# A configuration that is right, with none, one or two faults drawn from a list: most are
# accepted as a whole (the engine then runs them), and each fault comes up often.

GOOD: dict[str, str] = {"text": "s3cret-value-1", "header": "X-Shop-Signature"}
# Credentials whose form is declared (a pattern): a value of that form.
GOOD_BY_KEY = {"organization_id": "00D5e000000AbCdEAA", "email": "agent@example.com",
               "subdomain": "acme"}  # fmt: skip


def good_value(field: Field) -> str:
    if field.key in GOOD_BY_KEY:
        return GOOD_BY_KEY[field.key]
    if field.kind == "url":
        return field.placeholder  # on the source's own hosts
    return GOOD.get(field.kind, GOOD["text"])


BAD: dict[str, list[str]] = {
    "text": [" spaced ", "a\x01b", "short"],
    "url": ["ftp://files.example.com", "https://h.example.com/?q=1", "https://elsewhere.example"],
    "header": ["bad header"],
}
UNKNOWN = "api_tokn"  # a typo of a credential
# Good paths that never collide in a delivery built from them (see webhook_delivery).
PATHS = {"object_type": "kind", "object_id": "data.id", "action": "event",
         "time": "data.updated_at", "event_id": "eid", "record": "data"}  # fmt: skip
INTEGRATION_FAULTS = ["unknown key", "a list", "a bad value", "short secret", "unsafe secret",
                      "no paths", "no object id path", "no object type path", "bad path",
                      "paths where there are none"]  # fmt: skip


@st.composite
def integration_configs(draw: st.DrawFn) -> dict[str, Any]:
    source = draw(st.sampled_from(sources()))
    credentials: dict[str, Any] = {}
    for field in source.credentials:
        if draw(st.booleans()):
            credentials[field.key] = good_value(field)
    config: dict[str, Any] = {"type": source.type, "credentials": credentials}
    if draw(st.booleans()):
        config["webhook_secret"] = "kept-secret-123"
    if source.paths:
        config["paths"] = {k: v for k, v in PATHS.items() if draw(st.booleans()) or k in
                           ("object_id", "object_type")}  # fmt: skip
        if draw(st.booleans()):
            del config["paths"]["object_type"]
            config["paths"]["source_type"] = "deal"
    for fault in draw(st.lists(st.sampled_from(INTEGRATION_FAULTS), max_size=2, unique=True)):
        paths = config.get("paths")
        if fault == "unknown key":
            credentials[UNKNOWN] = "x"
        elif fault == "a list" and source.credentials:
            credentials[source.credentials[0].key] = ["a"]  # the old JSON box took this
        elif fault == "a bad value" and source.credentials:
            field = draw(st.sampled_from(source.credentials))
            kind = field.kind if field.kind in BAD else "text"
            bad = [*BAD[kind], "x" * (field.max_length + 1)]
            credentials[field.key] = draw(st.sampled_from(bad))
        elif fault == "short secret":
            config["webhook_secret"] = "a"
        elif fault == "unsafe secret":
            config["webhook_secret"] = "not url safe!"
        elif fault == "no paths" and paths is not None:
            del config["paths"]
        elif fault == "no object id path" and paths is not None:
            paths.pop("object_id", None)
        elif fault == "no object type path" and paths is not None:
            paths.pop("object_type", None)
            paths.pop("source_type", None)
        elif fault == "bad path" and paths is not None:
            paths[draw(st.sampled_from(["object_type", "record"]))] = " kind"
        elif fault == "paths where there are none" and not source.paths:
            config["paths"] = {"object_id": "id"}
    return config


# A good filter of each operator holds for the delivered record (RECORD), so the step runs.
HOLDING = {
    "in": ("status", ["won"]),
    "not_in": ("status", ["lost"]),
    "contains": ("title", ["T"]),
    "gt": ("value", ["10"]),
    "lt": ("value", ["1000"]),
    "empty": ("lost_reason", []),
    "not_empty": ("status", []),
}
FILTER_FAULTS = ["no field", "no values", "not a number", "two values", "a value too many"]


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(list(HOLDING)))
    field, values = HOLDING[operator]
    fault = draw(st.sampled_from([None, None, None, *FILTER_FAULTS]))
    if fault == "no field" and operator != "in":  # a blank "is one of" row is no row at all
        field = ""
    elif fault == "no values":
        values = []
    elif fault == "not a number":
        values = ["ten"]
    elif fault == "two values":
        values = ["10", "1"]
    elif fault == "a value too many":
        values = [*values, "won"]
    return {"field": field, "operator": operator, "values": values}


POINTS_FAULTS = ["no series", "no points", "points and point type", "too large",
                 "untyped series", "no player id", "no source type"]  # fmt: skip
USERS_FAULTS = ["no player id", "no source type", "points fields"]
RIGHT_POINTS = [{"series": "Deals", "points": "value", "point_type": ""},
                {"series": "Activities", "points": "5", "point_type": ""},
                {"series": "Activities", "points": "", "point_type": "type"}]  # fmt: skip


@st.composite
def steps(draw: st.DrawFn, index: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["points", "users"]))
    step: dict[str, Any] = {"kind": kind, "name": f"Step {index}", "source_type": "deal",
                            "player_id": "owner_id", "player_id_prefix": "x:"}  # fmt: skip
    if kind == "points":
        step |= draw(st.sampled_from(RIGHT_POINTS))
    faults = POINTS_FAULTS if kind == "points" else USERS_FAULTS
    for fault in draw(st.lists(st.sampled_from(faults), max_size=2, unique=True)):
        if fault == "no series":
            step["series"] = ""
        elif fault == "no points":
            step["points"] = step["point_type"] = ""
        elif fault == "points and point type":
            step["points"], step["point_type"] = "value", "type"
        elif fault == "too large":
            step["points"], step["point_type"] = "1e20", ""
        elif fault == "untyped series":
            step["series"], step["points"], step["point_type"] = "Deals", "", "type"
        elif fault == "no player id":
            step["player_id"] = ""
        elif fault == "no source type":
            step["source_type"] = ""
        elif fault == "points fields":
            step |= {"series": "Deals", "points": "value"}
    step["filters"] = draw(st.lists(filters(), max_size=2))
    return step


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(integration_configs())
    config["steps"] = [draw(steps(n)) for n in range(draw(st.sampled_from([2, 1, 0])))]
    return config


# --- the doors ----------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def rolled_back(call: Callable[..., T], *args: Any) -> T:
    """What `call(*args)` answers, with everything it wrote undone."""
    answer: list[T] = []
    try:
        with transaction.atomic():
            answer.append(call(*args))
            raise _Rollback
    except _Rollback:
        pass
    return answer[0]


def admin_expresses(config: dict[str, Any]) -> bool:
    source = source_for(config["type"])
    assert source is not None
    credentials = config["credentials"]
    if UNKNOWN in credentials or any(not isinstance(v, str) for v in credentials.values()):
        return False
    if "paths" in config and not source.paths:
        return False
    for step in config.get("steps", []):
        if step["kind"] == "users" and any(step.get(k) for k in ("series", "points", "point_type")):
            return False
    return True


def parsed(lines: list[str], prefix: str = "") -> Problems:
    found = set()
    for line in lines:
        key, _, message = line.partition(": ")
        found.add((key.removeprefix(prefix), message))
    return found


def api_flat(errors: Any, prefix: str = "") -> Problems:
    found: Problems = set()
    for key, value in errors.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            found |= api_flat(value, name)
        else:
            found |= {(name, str(message)) for message in value}
    return found


def admin_found(response: Any, rename: Callable[[str], str] = lambda name: name) -> Problems:
    if response.status_code == 302:
        return set()
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    found = {(rename(name), str(m)) for name, messages in form.errors.items() for m in messages}
    for inline in response.context["inline_admin_formsets"]:
        for index, errors in enumerate(inline.formset.errors):
            found |= {(f"filters[{index}].{name}", str(m))
                      for name, messages in errors.items() for m in messages}  # fmt: skip
        assert not inline.formset.non_form_errors()
    return found


class Doors:
    def __init__(self, admin: Client, api: APIClient, folder: Path) -> None:
        self.admin, self.api, self.folder = admin, api, folder

    # The integration alone.

    def file_integration(self, config: dict[str, Any]) -> Problems:
        return self._import({"name": "Door", **config, "steps": []})

    def api_integration(self, config: dict[str, Any]) -> Problems:
        response = self.api.post("/api/v1/integrations/", {"name": "Door", **config}, format="json")
        return set() if response.status_code == 201 else api_flat(response.json())

    def admin_integration(self, config: dict[str, Any]) -> Problems:
        source = source_for(config["type"])
        assert source is not None
        data = {"name": "Door", "type": source.type, "enabled": "on",
                "webhook_secret": config.get("webhook_secret") or ""}  # fmt: skip
        data |= {f"{source.type}__{key}": value for key, value in config["credentials"].items()}
        data |= {f"{source.type}__path__{k}": v for k, v in config.get("paths", {}).items()}

        def rename(name: str) -> str:
            head, _, key = name.partition("__")
            if head != source.type:
                return name
            return f"paths.{key.removeprefix('path__')}" if key.startswith("path__") else (
                f"credentials.{key}")  # fmt: skip

        return admin_found(self.admin.post(reverse("admin:integrations_integration_add"), data),
                           rename)  # fmt: skip

    # One step with its filters, added to an integration of the type that is as it should be.

    def file_step(self, source: Source, step: dict[str, Any]) -> Problems:
        try:
            self._import(
                {"name": "Door", "type": source.type, **baseline(source), "steps": [step]},
                raise_=True,
            )
        except CommandError as exc:
            return parsed([line.removeprefix("  - ") for line in str(exc).splitlines()[1:]],
                          "steps[0].")  # fmt: skip
        return set()

    def api_step(self, source: Source, step: dict[str, Any]) -> Problems:
        integration = integration_create(name="Door", type=source.type, default_setup=False,
                                         **baseline(source))  # fmt: skip
        body = {k: v for k, v in step.items() if k != "filters"} | {"integration": integration.pk}
        if "series" in body:
            body["series"] = series_pk(body["series"])
        response = self.api.post("/api/v1/steps/", body, format="json")
        found = set() if response.status_code == 201 else api_flat(response.json())
        if response.status_code == 201:
            step_id = response.json()["id"]
        else:  # its filters go to a step that is as it should be, to hear what is wrong with them
            step_id = step_create(integration=stand_in(), kind="users", name="Stand-in",
                                  source_type="deal", player_id="id").pk  # fmt: skip
        for index, flt in enumerate(step["filters"]):
            answer = self.api.post("/api/v1/filters/", {**flt, "step": step_id}, format="json")
            if answer.status_code != 201:
                found |= api_flat(answer.json(), f"filters[{index}]")
        return found

    def admin_step(self, source: Source, step: dict[str, Any]) -> Problems:
        integration = integration_create(name="Door", type=source.type, default_setup=False,
                                         **baseline(source))  # fmt: skip
        data: dict[str, Any] = {
            "integration": integration.pk, "kind": step["kind"], "name": step["name"],
            "order": "0", "enabled": "on", "source_type": step["source_type"], "event_type": "",
            "player_id": step["player_id"], "player_id_prefix": step["player_id_prefix"],
            "player_name": "", "player_email": "", "series": series_pk(step.get("series")) or "",
            "points": step.get("points", ""), "point_type": step.get("point_type", ""),
            "score_id": "", "comment": "", "point_time": "", "tags": "", "create_tags": "on",
            "revoke": "on_change", "filters-TOTAL_FORMS": str(len(step["filters"])),
            "filters-INITIAL_FORMS": "0", "filters-MIN_NUM_FORMS": "0",
            "filters-MAX_NUM_FORMS": "1000",
        }  # fmt: skip
        for index, flt in enumerate(step["filters"]):
            data |= {f"filters-{index}-field": flt["field"],
                     f"filters-{index}-operator": flt["operator"],
                     f"filters-{index}-values": "\n".join(flt["values"])}  # fmt: skip
        return admin_found(self.admin.post(reverse("admin:integrations_integrationstep_add"), data))

    def _import(self, data: dict[str, Any], raise_: bool = False) -> Problems:
        path = self.folder / "integration.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        try:
            call_command("integration_import", str(path), stdout=StringIO())
        except CommandError as exc:
            if raise_:
                raise
            return parsed([line.removeprefix("  - ") for line in str(exc).splitlines()[1:]])
        return set()


def baseline(source: Source) -> dict[str, Any]:
    """An integration of the type with nothing wrong: its required paths set."""
    if not source.paths:
        return {}
    paths = {f.key: "data.id" for f in source.paths if f.required and not f.unless}
    paths |= {f.unless: "deal" for f in source.paths if f.required and f.unless}
    return {"paths": paths}


def stand_in() -> Integration:
    takes_deliveries = next(s for s in sources() if not s.api_only)
    return integration_create(name="Stand-in", type=takes_deliveries.type, default_setup=False,
                              **baseline(takes_deliveries))  # fmt: skip


def series_pk(name: str | None) -> int | None:
    return ScoreSeries.objects.get(name=name).pk if name else None


@pytest.fixture
def doors(tmp_path: Path, admin_client: Client) -> Iterator[Doors]:
    writer = User.objects.create_user("writer", is_staff=True)
    writer.groups.add(Group.objects.get(name="scoring admin"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=writer).key}")
    ScoreSeries.objects.create(name="Deals")
    activities = ScoreSeries.objects.create(name="Activities")
    PointType.objects.create(series=activities, name="Call", points=1)
    player_upsert(external_id="x:1001", name="Ann", email="")
    yield Doors(admin_client, api, tmp_path)


# --- processing ---------------------------------------------------------------------------------

RECORD = {
    "id": 1,
    "owner_id": 1001,
    "value": 100,
    "status": "won",
    "type": "Call",
    "title": "T",
    "lost_reason": None,
}


def put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def webhook_delivery(paths: dict[str, Any]) -> dict[str, Any]:
    """A generic webhook's event holding a deal where its paths say."""
    event: dict[str, Any] = {}
    if paths.get("record"):
        put(event, paths["record"], dict(RECORD))
    else:
        event.update(RECORD)
    values = {"object_type": "deal", "object_id": 1, "action": "updated",
              "time": "2024-01-01T12:00:00Z", "event_id": "e-1"}  # fmt: skip
    for key, value in values.items():
        if paths.get(key):
            put(event, paths[key], value)
    return event


# The types whose deliveries this test builds: Pipedrive's, and generic webhooks' (from their
# paths). Steps of other types run on a Pipedrive integration (a step does not depend on its
# integration's type); API-only types have no steps.
def pipedrive_delivery(config: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {k: v for k, v in RECORD.items() if k != "id"}
    return deal_v2(1, **fields)


DELIVERED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pipedrive": pipedrive_delivery,
    "webhook": lambda config: webhook_delivery(config.get("paths", {})),
}


def processed(config: dict[str, Any], deliver: Any) -> WebhookEvent | None:
    """The configuration imported as a file, and a matching delivery processed (None: this
    test builds no deliveries of its type)."""
    if config["type"] not in DELIVERED:
        return None
    integration, _ = integration_import(data={"name": "Door", **config})
    return deliver(integration, DELIVERED[config["type"]](config))


def runs(config: dict[str, Any], deliver: Any) -> None:
    """A matching delivery meets no configuration error (nor any error: it fits the steps)."""
    delivered = rolled_back(processed, config, deliver)
    if delivered is not None:
        event(f"delivered: {delivered.status}")
        errors = [o["message"] for o in delivered.outcome if o.get("result") == "error"]
        assert delivered.status != "failed" and not errors, (delivered.error, errors)


def delivering(source: Source) -> Source:
    """The source itself when this test builds its deliveries, else Pipedrive."""
    found = source_for(source.type if source.type in DELIVERED else "pipedrive")
    assert found is not None
    return found


# --- the property -------------------------------------------------------------------------------


def step(**fields: Any) -> dict[str, Any]:
    return {"kind": "points", "name": "Step 0", "source_type": "deal", "player_id": "owner_id",
            "player_id_prefix": "x:", "series": "Deals", "points": "value", "filters": []} | fields  # fmt: skip


# Always tried, besides what hypothesis draws: the problems users met (issue 12).
MET = [
    {"type": "pipedrive", "credentials": {},  # the step row that had only a name and a kind
     "steps": [step(series="", points="", player_id="", source_type="")]},
    {"type": "pipedrive", "credentials": {}, "steps": [step(points="1e20")]},
    {"type": "pipedrive", "credentials": {"api_token": ["a"]}, "steps": []},
    {"type": "pipedrive", "credentials": {"api_tokn": "t"}, "steps": []},
    {"type": "webhook", "credentials": {"hmac_secret": "a"}, "steps": []},
    {"type": "webhook", "credentials": {}, "paths": {"object_id": "data.id"}, "steps": []},
    {"type": "pipedrive", "credentials": {}, "webhook_secret": "a", "steps": []},
    {"type": "pipedrive", "credentials": {}, "steps": [
        step(kind="users", series="Deals", points="value"),
        step(name="Step 1", filters=[{"field": "value", "operator": "gt", "values": ["ten", "2"]}]),
    ]},
]  # fmt: skip


@given(config=configurations())
@example(config=MET[0])
@example(config=MET[1])
@example(config=MET[2])
@example(config=MET[3])
@example(config=MET[4])
@example(config=MET[5])
@example(config=MET[6])
@example(config=MET[7])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_door_accepts_the_same_configurations_with_the_same_messages_and_the_engine_runs_them(
    config: dict[str, Any], doors: Doors, deliver: Any
) -> None:
    source = source_for(config["type"])
    assert source is not None
    part = {k: v for k, v in config.items() if k != "steps"}
    expressed = admin_expresses(config)

    file_found = rolled_back(doors.file_integration, part)
    api_found = rolled_back(doors.api_integration, part)
    assert api_found == file_found
    if expressed:
        assert rolled_back(doors.admin_integration, part) == file_found
    accepted = not file_found

    for step in config["steps"]:
        file_found = rolled_back(doors.file_step, source, step)
        api_found = rolled_back(doors.api_step, source, step)
        assert api_found == file_found, step
        if expressed:
            assert rolled_back(doors.admin_step, source, step) == file_found
        accepted = accepted and not file_found
        if not file_found and not source.api_only:  # each step the doors took runs
            runner = delivering(source)
            runs({"type": runner.type, **baseline(runner), "steps": [step]}, deliver)

    event(f"{source.type}: {'accepted' if accepted else 'refused'}")
    if accepted:  # and the configuration as a whole
        runs(config, deliver)
