"""Generic JSON webhooks: configured paths, arrays in order, optional HMAC-SHA256, dedupe."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client

from integrations.config_file import integration_import
from integrations.models import Integration, WebhookEvent
from integrations.services.apply import event_process
from players.services import player_upsert
from scoring.models import Transaction

pytestmark = pytest.mark.django_db

SECRET = "hook-secret"


@pytest.fixture
def shop() -> Integration:
    """A shop system posting `{"id", "event", "occurred_at", "order": {...}}` events."""
    integration, _ = integration_import(
        data={
            "name": "Shop",
            "type": "webhook",
            "credentials": {"hmac_secret": SECRET, "hmac_header": "X-Shop-Signature"},
            "paths": {"source_type": "order", "object_id": "order.id", "action": "event",
                      "time": "occurred_at", "event_id": "id", "record": "order"},
            "steps": [
                {"kind": "points", "name": "Paid orders", "source_type": "order",
                 "series": "Sales", "points": "total", "player_id": "seller",
                 "player_id_prefix": "shop:", "comment": "number",
                 "filters": [{"field": "paid", "values": ["yes"]}]},
            ],
        }
    )  # fmt: skip
    player_upsert(external_id="shop:s1", name="Sam", email="")
    return integration


def order_event(
    event_id: str, order_id: int, *, total: Any = 50, paid: bool = True,
    event: str = "order.updated", at: str = "2024-05-01T10:00:00Z",
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": event_id,
        "event": event,
        "occurred_at": at,
        "order": {"id": order_id, "number": f"#{order_id}", "total": total, "paid": paid,
                  "seller": "s1"},
    }  # fmt: skip


def post(client: Client, integration: Integration, payload: Any, *, sign: str | None = None,
         prefix: str = "sha256=") -> Any:  # fmt: skip
    body = json.dumps(payload).encode()
    digest = hmac.new((sign or SECRET).encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        integration.webhook_path, data=body, content_type="application/json",
        headers={"X-Shop-Signature": prefix + digest},
    )  # fmt: skip


def processed(response: Any) -> WebhookEvent:
    assert response.status_code == 202, response.content
    event = event_process(event_id=response.json()["event_id"])
    assert event is not None
    return event


def test_array_of_events_is_applied_in_order(client: Client, shop: Integration) -> None:
    event = processed(
        post(client, shop, [
            order_event("e1", 1, total=50),
            order_event("e2", 1, total=80, at="2024-05-01T11:00:00Z"),
            order_event("e3", 2, total=10, paid=False),
        ])
    )  # fmt: skip

    assert event.status == "processed"
    assert list(Transaction.objects.values_list("points", "kind", "comment")) == [
        (50, "award", "#1"), (-50, "revoke", "#1"), (80, "award", "#1"),
    ]  # fmt: skip
    assert "filter paid is one of [yes] failed: value was true" not in event.outcome[2]["message"]
    assert "failed: value was false" in event.outcome[2]["message"]


def test_single_object_delivery_and_deletion_words(client: Client, shop: Integration) -> None:
    processed(post(client, shop, order_event("e1", 1)))
    deleted = processed(post(client, shop, order_event("e2", 1, event="order.removed",
                                                       at="2024-05-01T12:00:00Z")))  # fmt: skip

    assert deleted.outcome[0]["change"] == "order:1 deleted"
    assert sum(t.points for t in Transaction.objects.all()) == 0


def test_same_event_id_again_is_a_duplicate(client: Client, shop: Integration) -> None:
    processed(post(client, shop, order_event("e1", 1)))

    again = processed(post(client, shop, order_event("e1", 1)))

    assert again.status == "ignored"
    assert again.outcome[0]["result"] == "duplicate"


def test_without_an_event_id_path_the_body_hash_dedupes(client: Client, shop: Integration) -> None:
    shop.credentials["paths"].pop("event_id")
    shop.save()
    processed(post(client, shop, order_event("e1", 1)))

    again = processed(post(client, shop, order_event("e1", 1)))
    other = processed(post(client, shop, order_event("e1", 1, total=60)))

    assert again.outcome[0]["result"] == "duplicate"
    assert other.outcome[0]["result"] == "booked"


@pytest.mark.parametrize("prefix", ["sha256=", ""])
def test_signature_with_or_without_prefix_is_accepted(
    client: Client, shop: Integration, prefix: str
) -> None:
    assert post(client, shop, order_event("e1", 1), prefix=prefix).status_code == 202


def test_wrong_or_missing_signature_is_401_and_stores_nothing(
    client: Client, shop: Integration
) -> None:
    wrong = post(client, shop, order_event("e1", 1), sign="guess")
    missing = client.post(shop.webhook_path, data=b"{}", content_type="application/json")

    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert "X-Shop-Signature" in wrong.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_missing_object_id_fails_the_event_with_the_path_named(
    client: Client, shop: Integration
) -> None:
    event = processed(post(client, shop, {"id": "e9", "event": "order.updated", "order": {}}))

    assert event.status == "failed"
    assert event.error == "item [0]: no object id at path 'order.id'"


def test_object_type_can_come_from_a_path(client: Client, shop: Integration) -> None:
    shop.credentials["paths"] = {"object_type": "kind", "object_id": "order.id",
                                 "record": "order"}  # fmt: skip
    shop.save()

    event = processed(post(client, shop, {"kind": "ORDER", **order_event("e1", 7)}))

    assert event.outcome[0]["change"] == "order:7 changed"
    assert Transaction.objects.get().points == 50
