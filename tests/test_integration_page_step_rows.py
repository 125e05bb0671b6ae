"""The step rows on an integration's page go through the same checks as a step's own page: a
new row without what its kind needs (series, points, player id) is refused naming the fields
and saves nothing; a complete row is saved; a row left untouched is not checked, so an older
step the checks would refuse does not stop the page from being saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import Integration, IntegrationStep
from scoring.models import ScoreSeries

pytestmark = pytest.mark.django_db

ROW_FIELDS = ("order", "name", "kind", "source_type", "player_id", "series", "points")


def page_data(integration: Integration, *new_rows: dict[str, Any], **changes: Any) -> dict:
    steps = list(integration.steps.order_by("order", "id"))
    data: dict[str, Any] = {
        "name": integration.name, "enabled": "on", "webhook_secret": integration.webhook_secret,
        "pipedrive__basic_auth_user": "", "pipedrive__api_base_url": "",
        "steps-TOTAL_FORMS": str(len(steps) + len(new_rows)),
        "steps-INITIAL_FORMS": str(len(steps)), "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, step in enumerate(steps):
        data[f"steps-{index}-id"] = step.pk
        data[f"steps-{index}-integration"] = integration.pk
        for name in ROW_FIELDS:
            value = step.series_id if name == "series" else getattr(step, name)
            data[f"steps-{index}-{name}"] = "" if value is None else value
        if step.enabled:
            data[f"steps-{index}-enabled"] = "on"
    for offset, row in enumerate(new_rows, start=len(steps)):
        data[f"steps-{offset}-integration"] = integration.pk
        data.update({f"steps-{offset}-{name}": value for name, value in row.items()})
    return data | changes


def save(client: Client, integration: Integration, data: dict[str, Any]) -> Any:
    url = reverse("admin:integrations_integration_change", args=[integration.pk])
    return client.post(url, data)


def row_errors(response: Any) -> list[str]:
    [inline] = response.context["inline_admin_formsets"]
    return [m for errors in inline.formset.errors for ms in errors.values() for m in ms]


def test_a_new_points_row_without_series_points_or_player_id_is_refused_naming_them(
    admin_client: Client, pipedrive: Integration
) -> None:
    row = {"order": "9", "name": "Big deals", "kind": "points", "source_type": "deal",
           "enabled": "on"}  # fmt: skip

    response = save(admin_client, pipedrive, page_data(pipedrive, row))

    assert response.status_code == 200
    assert sorted(row_errors(response)) == [
        "Add points to score series is required for a points step.",
        "Player id in source is required: the column with the user's id.",
        "Points column in source is required for a points step: a column or a fixed number "
        "(or a point type column in source instead).",
    ]
    assert not IntegrationStep.objects.filter(name="Big deals").exists()
    assert 'aria-invalid="true"' in response.content.decode()  # the inputs are marked


def test_a_complete_points_row_is_saved(admin_client: Client, pipedrive: Integration) -> None:
    deals = ScoreSeries.objects.get(name="Deals")
    row = {"order": "9", "name": "Big deals", "kind": "points", "source_type": "deal",
           "player_id": "owner_id", "series": deals.pk, "points": "10", "enabled": "on"}  # fmt: skip

    response = save(admin_client, pipedrive, page_data(pipedrive, row))

    assert response.status_code == 302
    step = IntegrationStep.objects.get(name="Big deals")
    assert (step.kind, step.series, step.points, step.player_id) == ("points", deals, "10",
                                                                      "owner_id")  # fmt: skip


def test_a_users_row_with_a_series_is_refused_naming_it(
    admin_client: Client, pipedrive: Integration
) -> None:
    deals = ScoreSeries.objects.get(name="Deals")
    row = {"order": "9", "name": "People", "kind": "users", "source_type": "person",
           "player_id": "id", "series": deals.pk, "enabled": "on"}  # fmt: skip

    response = save(admin_client, pipedrive, page_data(pipedrive, row))

    assert row_errors(response) == [
        "Add points to score series is for points steps only: a users step leaves it blank "
        "(given 'Deals')."
    ]


def test_an_older_step_the_checks_refuse_stops_the_page_only_when_it_is_changed(
    admin_client: Client, pipedrive: Integration
) -> None:
    # Saved before the checks had one home: a points step without a series.
    IntegrationStep.objects.filter(name="Completed calls").update(series=None)

    renamed = save(admin_client, pipedrive, page_data(pipedrive, name="Pipedrive (sales)"))
    data = page_data(pipedrive)
    index = next(i for i in range(8) if data.get(f"steps-{i}-name") == "Completed calls")
    data[f"steps-{index}-points"] = "2"
    touched = save(admin_client, pipedrive, data)

    assert renamed.status_code == 302
    assert Integration.objects.get(pk=pipedrive.pk).name == "Pipedrive (sales)"
    assert row_errors(touched) == ["Add points to score series is required for a points step."]


def test_a_row_kind_cannot_be_changed(admin_client: Client, pipedrive: Integration) -> None:
    data = page_data(pipedrive)
    index = next(i for i in range(8) if data.get(f"steps-{i}-name") == "Won deals")
    data[f"steps-{index}-kind"] = "users"
    data[f"steps-{index}-name"] = "Won deals (renamed)"

    response = save(admin_client, pipedrive, data)

    assert response.status_code == 302
    assert IntegrationStep.objects.get(name="Won deals (renamed)").kind == "points"
