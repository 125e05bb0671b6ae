"""A filter on a field that none of the recent deliveries of its step's source type had (a typo,
or a field the source names otherwise) is saved with a warning naming the fields that were
seen: a message in the admin, `warnings` in the API's answer, a line of the import's output.
A path is looked up by its first segment; without recent deliveries there is no warning."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.configuration import filters_unseen
from integrations.models import Integration
from players.services import player_upsert
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(pipedrive: Integration, deliver: Any) -> Integration:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    deliver(pipedrive, deal_v2(1))
    deliver(pipedrive, deal_v2(2, status="open"))
    return pipedrive


@pytest.fixture
def writer(db: None) -> APIClient:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_field_no_record_had_is_named_with_the_fields_seen(delivered: Integration) -> None:
    won = delivered.steps.get(name="Won deals")

    warnings = filters_unseen(step=won, fields=["valeu", "value", "custom_fields.abc.value"])

    assert list(warnings) == ["valeu"]
    assert warnings["valeu"].startswith(
        "Field 'valeu': none of the last 2 deal records delivered had 'valeu'; fields seen: "
        "add_time, channel, channel_id,"
    )
    assert "value, visible_to, won_time." in warnings["valeu"]


def test_without_recent_deliveries_there_is_no_warning(pipedrive: Integration) -> None:
    won = pipedrive.steps.get(name="Won deals")

    assert filters_unseen(step=won, fields=["valeu"]) == {}


def test_the_api_saves_the_filter_and_warns(writer: APIClient, delivered: Integration) -> None:
    won = delivered.steps.get(name="Won deals")

    typo = writer.post("/api/v1/filters/", {"step": won.pk, "field": "valeu", "operator": "gt",
                       "values": ["10"]}, format="json")  # fmt: skip
    right = writer.post("/api/v1/filters/", {"step": won.pk, "field": "value", "operator": "gt",
                        "values": ["10"]}, format="json")  # fmt: skip

    assert typo.status_code == right.status_code == 201
    [warning] = typo.json()["warnings"]
    assert warning.startswith("Field 'valeu': none of the last 2 deal records delivered had")
    assert right.json()["warnings"] == []
    assert won.filters.filter(field="valeu").exists()


def test_the_admin_saves_the_filter_and_warns(admin_client: Client, delivered: Integration) -> None:
    won = delivered.steps.get(name="Won deals")
    data = {"name": won.name, "order": "1", "enabled": "on", "series": won.series_id,
            "player_id": won.player_id, "player_id_prefix": won.player_id_prefix,
            "player_name": "", "player_email": "", "points": won.points, "point_type": "",
            "score_id": won.score_id, "comment": won.comment, "point_time": won.point_time,
            "tags": "", "create_tags": "on", "revoke": won.revoke, "source_type": "deal",
            "event_type": "", "filters-TOTAL_FORMS": "1", "filters-INITIAL_FORMS": "0",
            "filters-MIN_NUM_FORMS": "0", "filters-MAX_NUM_FORMS": "1000",
            "filters-0-field": "stauts", "filters-0-operator": "in",
            "filters-0-values": "won"}  # fmt: skip

    response = admin_client.post(
        reverse("admin:integrations_integrationstep_change", args=[won.pk]), data, follow=True
    )

    shown = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Field 'stauts': none of the last 2 deal records") for m in shown)
    assert won.filters.filter(field="stauts").exists()


def test_the_import_prints_a_warning_line(delivered: Integration, tmp_path: Path) -> None:
    path = tmp_path / "pipedrive.json"
    path.write_text(json.dumps({"name": "Pipedrive", "type": "pipedrive", "steps": [
        {"kind": "points", "name": "Won deals", "source_type": "deal", "series": "Deals",
         "points": "value", "player_id": "owner_id", "player_id_prefix": "pd:",
         "filters": [{"field": "status", "values": ["won"]},
                     {"field": "curency", "values": ["EUR"]}]}]}))  # fmt: skip
    out = StringIO()

    call_command("integration_import", str(path), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "updated integration 'Pipedrive' (4 steps)"
    assert lines[1].startswith(
        "warning: steps[0].filters[1].field: Field 'curency': none of the last 2 deal records"
    )
    assert len(lines) == 2
