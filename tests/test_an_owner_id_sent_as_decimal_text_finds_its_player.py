"""Ids compare as text, integral numbers without a fraction (DESIGN §4 "Field paths", §9
"Values"): an owner id a source sends as the text "12415231.0" is the player pd:12415231, and
points go to that existing player, not to a new one and not to "unknown player"."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client

from integrations.config_file import integration_import
from integrations.models import WebhookEvent
from integrations.services.apply import event_process
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import deal_v2
from tests.support import fixture_json

pytestmark = pytest.mark.django_db


def post_and_process(client: Client, integration: Any, payload: Any) -> WebhookEvent:
    response = client.post(
        integration.webhook_path, data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    event = event_process(event_id=response.json()["event_id"])
    assert event is not None
    return event


@pytest.mark.parametrize(
    "owner_id",
    ["12415231.0", "12415231.00", 12415231.0, " 12415231 "],
    ids=["text with .0", "text with .00", "float", "text with spaces"],
)
def test_a_v2_deal_whose_owner_id_is_decimal_text_books_to_the_existing_player(
    client: Client, pipedrive: Any, owner_id: Any
) -> None:
    ann = player_upsert(external_id="pd:12415231", name="Ann", email="").player

    event = post_and_process(client, pipedrive, deal_v2(123, value=100, owner_id=owner_id))

    assert event.status == "processed", event.outcome
    assert list(Transaction.objects.values_list("player_id", "points")) == [(ann.pk, 100)]
    assert "booked +100 to Ann (pd:12415231)" in event.outcome[0]["message"]
    assert Player.objects.count() == 1  # no second player "pd:12415231.0"


def test_a_v1_deal_whose_user_object_has_a_decimal_text_id_books_to_the_existing_player(
    client: Client,
) -> None:
    # v1 deals name their owner in `user_id`, an object with an id; the step maps that column.
    integration, _ = integration_import(
        data={"name": "Pipedrive v1", "type": "pipedrive", "steps": [
            {"kind": "points", "name": "Won deals", "source_type": "deal", "series": "Deals",
             "points": "value", "player_id": "user_id", "player_id_prefix": "pd:",
             "filters": [{"field": "status", "values": ["won"]}]},
        ]},
    )  # fmt: skip
    ann = player_upsert(external_id="pd:12415231", name="Ann", email="").player
    payload = copy.deepcopy(fixture_json("pipedrive/v1-deal-updated-won.json"))
    payload["current"]["user_id"]["id"] = "12415231.0"

    event = post_and_process(client, integration, payload)

    assert event.status == "processed", event.outcome
    assert list(Transaction.objects.values_list("player_id", "points")) == [(ann.pk, 100)]
    assert Player.objects.count() == 1
