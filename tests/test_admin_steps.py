"""The step page reads like the seed; it refuses unusable steps naming the field; the test
console shows each filter's verdict and what would be booked, booking nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import IntegrationStep, StepFilter
from players.services import player_upsert
from scoring.models import AwardState, ScoreSeries, Transaction
from tests.pipedrive_payloads import deal_v2
from tests.support import fixture_bytes

pytestmark = pytest.mark.django_db


def step_form_data(step: IntegrationStep, **changes: Any) -> dict[str, Any]:
    data = {
        "integration": step.integration_id, "kind": step.kind, "name": step.name,
        "order": step.order, "enabled": "on", "series": step.series_id or "",
        "player_id": step.player_id, "player_id_prefix": step.player_id_prefix,
        "player_name": step.player_name, "player_email": step.player_email,
        "points": step.points, "point_type": step.point_type, "score_id": step.score_id,
        "comment": step.comment, "point_time": step.point_time, "tags": "\n".join(step.tags),
        "create_tags": "on", "revoke": step.revoke, "source_type": step.source_type,
        "event_type": step.event_type,
        "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
        "filters-MIN_NUM_FORMS": "0", "filters-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, flt in enumerate(step.filters.all()):
        data.update({f"filters-{index}-id": flt.pk, f"filters-{index}-step": step.pk,
                     f"filters-{index}-field": flt.field,
                     f"filters-{index}-operator": flt.operator,
                     f"filters-{index}-values": "\n".join(flt.values)})  # fmt: skip
        data["filters-TOTAL_FORMS"] = data["filters-INITIAL_FORMS"] = str(index + 1)
    data.update(changes)
    return data


def test_step_page_groups_fields_as_the_seed_with_its_help_texts(
    admin_client: Client, pipedrive: Any
) -> None:
    step = pipedrive.steps.get(name="Won deals")

    page = admin_client.get(reverse("admin:integrations_integrationstep_change", args=[step.pk]))

    text = page.content.decode()
    for heading in ("Mappings", "Tag column(s) in source", "Revoke settings", "Webhook settings"):
        assert f">{heading}<" in text
    assert "Do not revoke points. Once points have been given, they stay." in text
    assert 'type="radio" name="revoke"' in text
    assert "Do not change this unless you know what you are doing." in text
    assert "Test this step on a sample" in text
    assert "won" in text  # the filter's value is visible on the step page


def test_integration_page_links_each_step_with_a_gear_wheel(
    admin_client: Client, pipedrive: Any
) -> None:
    page = admin_client.get(reverse("admin:integrations_integration_change", args=[pipedrive.pk]))

    text = page.content.decode()
    for step in pipedrive.steps.all():
        url = reverse("admin:integrations_integrationstep_change", args=[step.pk])
        assert f'href="{url}"' in text
    assert f"http://testserver/hooks/{pipedrive.webhook_secret}/" in text
    assert "HTTP Auth in Pipedrive" in text  # the source's sign-in help, beside the URL


def test_a_filter_with_two_values_is_saved_from_the_step_page(
    admin_client: Client, pipedrive: Any
) -> None:
    step = pipedrive.steps.get(name="Won deals")
    data = step_form_data(step, revoke="on_change_or_time")
    n = int(data["filters-TOTAL_FORMS"])
    data.update({f"filters-{n}-field": "pipeline_id", f"filters-{n}-operator": "in",
                 f"filters-{n}-values": "1\n3", "filters-TOTAL_FORMS": str(n + 1)})  # fmt: skip

    response = admin_client.post(
        reverse("admin:integrations_integrationstep_change", args=[step.pk]), data
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    step.refresh_from_db()
    assert step.revoke == "on_change_or_time"
    assert StepFilter.objects.get(step=step, field="pipeline_id").values == ["1", "3"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"points": "", "point_type": ""}, "points",
         "Points column in source is required for a points step: a column or a fixed number"),
        ({"points": "", "point_type": "type"}, "point_type",
         "Point type column in source &#x27;type&#x27; is matched to the point types of series "
         "&#x27;Deals&#x27;, and that series has no point types"),
        ({"point_type": "type"}, "point_type", "not both"),
        ({"series": ""}, "series", "Add points to score series is required for a points step."),
        ({"player_id": ""}, "player_id", "Player id in source is required"),
    ],
)  # fmt: skip
def test_unusable_steps_are_refused_naming_the_field(
    admin_client: Client, pipedrive: Any, changes: dict[str, str], field: str, message: str
) -> None:
    step = pipedrive.steps.get(name="Won deals")

    response = admin_client.post(
        reverse("admin:integrations_integrationstep_change", args=[step.pk]),
        step_form_data(step, **changes),
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert message in text
    assert re.search(rf'class="form-row errors[^"]*field-{field}', text), f"no error on {field}"


def test_filter_needs_a_value_for_is_one_of(admin_client: Client, pipedrive: Any) -> None:
    step = pipedrive.steps.get(name="Won deals")
    data = step_form_data(step)
    data["filters-0-values"] = ""

    response = admin_client.post(
        reverse("admin:integrations_integrationstep_change", args=[step.pk]), data
    )

    assert "Operator &#x27;is one of&#x27; needs at least one value." in response.content.decode()


def console(client: Client, step: IntegrationStep, **data: Any) -> str:
    url = reverse("admin:integrations_integrationstep_test", args=[step.pk])
    return client.post(
        url, {"sample_kind": "delivery", "action": "changed", **data}
    ).content.decode()


def test_console_shows_verdicts_player_points_and_what_would_be_booked(
    admin_client: Client, pipedrive: Any
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    step = pipedrive.steps.get(name="Won deals")

    text = console(admin_client, step, sample=json.dumps(deal_v2(5, value=250, title="ACME")))

    assert "status is one of won" in text
    assert "holds" in text
    assert "Ann (pd:1001)" in text
    assert "+250" in text
    assert "award +250 to Ann in Deals" in text
    assert not Transaction.objects.exists()
    assert not AwardState.objects.exists()


def test_console_reports_a_failing_filter_with_the_value_it_saw(
    admin_client: Client, pipedrive: Any
) -> None:
    step = pipedrive.steps.get(name="Won deals")

    text = console(
        admin_client, step, sample=fixture_bytes("pipedrive/v2-deal-change.json").decode()
    )

    assert "&#x27;open&#x27;" in text
    assert "<strong>fails</strong>" in text
    assert "filter status is one of [won] failed: value was &#x27;open&#x27;" in text


def test_console_against_current_award_state_shows_the_revoke(
    admin_client: Client, pipedrive: Any, deliver: Any
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    player_upsert(external_id="pd:1002", name="Bob", email="")
    deliver(pipedrive, deal_v2(5, owner_id=1001, update_time="2024-01-01T10:00:00Z"))
    step = pipedrive.steps.get(name="Won deals")

    text = console(admin_client, step, sample=json.dumps(
        deal_v2(5, owner_id=1002, update_time="2024-01-01T11:00:00Z")))  # fmt: skip

    assert "revoke -100 to Ann in Deals (cancels #" in text
    assert "award +100 to Bob in Deals" in text
    assert Transaction.objects.count() == 1


def test_console_takes_one_record_or_a_stored_event(
    admin_client: Client, pipedrive: Any, deliver: Any
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    step = pipedrive.steps.get(name="Won deals")
    record = deal_v2(9, value=40)["data"]
    event = deliver(pipedrive, deal_v2(7, value=70))

    as_record = console(admin_client, step, sample=json.dumps(record), sample_kind="record")
    from_event = console(admin_client, step, event=event.pk)

    assert "award +40 to Ann in Deals" in as_record
    assert "already booked #" in from_event  # the event was processed: nothing new


def test_console_explains_bad_samples(admin_client: Client, pipedrive: Any) -> None:
    step = pipedrive.steps.get(name="Won deals")

    broken = console(admin_client, step, sample="{not json")
    wrong_type = console(
        admin_client, step, sample=fixture_bytes("pipedrive/v2-user-create.json").decode()
    )
    nothing = console(admin_client, step)

    assert "the sample is not valid JSON" in broken
    assert "This step listens to deal created/changed/deleted; the sample holds user:" in wrong_type
    assert "Paste a sample or pick a stored event." in nothing


def test_point_type_series_message_names_the_series(admin_client: Client, pipedrive: Any) -> None:
    ScoreSeries.objects.get(name="Deals")
    step = pipedrive.steps.get(name="Won deals")
    response = admin_client.post(
        reverse("admin:integrations_integrationstep_change", args=[step.pk]),
        step_form_data(step, points="", point_type="stage"),
    )
    assert "series &#x27;Deals&#x27;" in response.content.decode()
