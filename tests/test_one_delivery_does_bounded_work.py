"""One delivery, bounded work: at most a source's cap of changes per delivery (HubSpot 100, others
WEBHOOK_MAX_CHANGES), refused on arrival above it with nothing stored; outcomes kept small; and
no list of the ledger or of events that reads the bodies and outcomes it does not show."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.config_file import integration_import
from integrations.models import Integration, WebhookEvent
from integrations.services.apply import event_process
from integrations.sources.hubspot.adapter import signature_v3
from players.services import player_upsert
from scoring.models import Transaction

pytestmark = pytest.mark.django_db

OUTCOME_KEEP = 100  # outcomes kept per event, then one summary line
OUTCOME_MESSAGE_CHARS = 500


@pytest.fixture
def generic() -> Integration:
    integration, _ = integration_import(data={
        "name": "Shop", "type": "webhook",
        "paths": {"source_type": "order", "object_id": "id", "record": ""},
        "steps": [
            {"kind": "users", "name": "Sellers", "source_type": "order", "player_id": "seller",
             "player_name": "seller"},
            {"kind": "points", "name": "Paid orders", "source_type": "order", "series": "Sales",
             "points": "1", "player_id": "seller",
             "filters": [{"field": "status", "values": ["paid"]}]},
        ],
    })  # fmt: skip
    return integration


def orders(count: int, **fields: Any) -> bytes:
    return json.dumps(
        [{"id": n, "seller": f"s{n}", "status": "paid", **fields} for n in range(count)]
    ).encode()


def test_a_delivery_over_the_change_cap_is_refused_and_stores_nothing(
    client: Client, generic: Integration
) -> None:
    """Issue 13, finding 4: 30,000 objects were answered 202, then created 30,004 players and
    30,003 ledger rows in one 107-second transaction."""
    response = client.post(generic.webhook_path, data=orders(1001), content_type="application/json")

    assert response.status_code == 413
    assert response.json()["error"] == (
        "the delivery holds 1001 changes; the limit is 1000 per delivery (WEBHOOK_MAX_CHANGES)"
    )
    assert not WebhookEvent.objects.exists()


def test_the_change_cap_is_a_setting_and_a_delivery_at_the_cap_is_taken(
    client: Client, generic: Integration, settings: Any
) -> None:
    settings.WEBHOOK_MAX_CHANGES = 3

    at_cap = client.post(generic.webhook_path, data=orders(3), content_type="application/json")
    over = client.post(generic.webhook_path, data=orders(4), content_type="application/json")

    assert at_cap.status_code == 202
    assert over.status_code == 413 and "the limit is 3 per delivery" in over.json()["error"]
    assert WebhookEvent.objects.count() == 1


def test_a_hubspot_batch_over_100_events_is_refused_before_any_fetch(
    client: Client, api: Any, settings: Any
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    hubspot, _ = integration_import(data={
        "name": "HubSpot", "type": "hubspot",
        "credentials": {"app_secret": "app-secret", "access_token": "pat-1",
                        "api_base_url": api.url},
    })  # fmt: skip
    batch = json.dumps([
        {"objectId": 4500 + n, "subscriptionType": "deal.propertyChange", "eventId": n,
         "portalId": 1, "subscriptionId": 2, "occurredAt": 1714200000000}
        for n in range(101)
    ]).encode()  # fmt: skip
    timestamp = str(int(time.time() * 1000))
    uri = f"http://testserver{hubspot.webhook_path}"
    headers = {
        "X-HubSpot-Signature-v3": signature_v3("app-secret", "POST", uri, batch, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }

    response = client.post(
        hubspot.webhook_path, data=batch, content_type="application/json", headers=headers
    )

    assert response.status_code == 413
    assert "the limit is 100 per delivery" in response.json()["error"]
    assert not WebhookEvent.objects.exists()
    assert api.connections == 0


def test_a_stored_event_over_the_cap_is_failed_without_work(
    generic: Integration, settings: Any
) -> None:
    """Stored before the cap, or spooled while the database was down: processing refuses it
    before splitting it (no player, no fetch, no ledger row)."""
    event = WebhookEvent.objects.create(
        integration=generic, received_at=generic.created_at, body=orders(5)
    )
    settings.WEBHOOK_MAX_CHANGES = 4

    processed = event_process(event_id=event.pk)

    assert processed is not None and processed.status == "failed"
    assert processed.error == (
        "the delivery holds 5 changes; the limit is 4 per delivery (WEBHOOK_MAX_CHANGES)"
    )
    assert not Transaction.objects.exists()


def test_outcomes_are_kept_small(client: Client, generic: Integration) -> None:
    body = orders(200, status="open " + "x" * 2000)
    response = client.post(generic.webhook_path, data=body, content_type="application/json")

    event = event_process(event_id=response.json()["event_id"])

    assert event is not None
    assert len(event.outcome) == OUTCOME_KEEP + 1  # of 400: two steps per change
    assert all(len(o["message"]) <= OUTCOME_MESSAGE_CHARS for o in event.outcome)
    assert event.outcome[-1] == {
        "change": "",
        "result": "summary",
        "message": "300 more outcomes not kept: 150 done, 150 filtered",
    }
    assert len(json.dumps(event.outcome)) < 100_000


def test_a_long_error_is_kept_short(client: Client, generic: Integration) -> None:
    generic.steps.filter(name="Paid orders").update(points="status")  # not a number: an error
    body = orders(300, status="paid " + "y" * 2000)
    generic.steps.filter(name="Paid orders").get().filters.all().delete()
    response = client.post(generic.webhook_path, data=body, content_type="application/json")

    event = event_process(event_id=response.json()["event_id"])

    assert event is not None and event.status == "failed"
    assert len(event.error) <= 2000
    assert re.search(r"; … and \d+ more errors$", event.error)


def test_ledger_and_event_lists_and_the_export_read_no_bodies_or_outcomes(
    admin_client: Client, generic: Integration
) -> None:
    for n in range(3):
        player_upsert(external_id=f"s{n}", name=f"Seller {n}", email="")
    response = admin_client.post(
        generic.webhook_path, data=orders(3), content_type="application/json"
    )
    event_process(event_id=response.json()["event_id"])
    assert Transaction.objects.count() == 3

    pages = ["/admin/scoring/transaction/", "/admin/scoring/transaction/export/",
             "/admin/integrations/webhookevent/"]  # fmt: skip
    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(page).status_code == 200
        sql = "\n".join(q["sql"] for q in queries.captured_queries)
        assert '"integrations_webhookevent"."body"' not in sql, page
        assert '"integrations_webhookevent"."outcome"' not in sql, page
