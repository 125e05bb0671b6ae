"""Beat's hourly prune (`integrations.events_prune`) empties the raw payloads of events older
than EVENT_PAYLOAD_DAYS that are done (processed, ignored, failed), keeping what happened; an
old event still pending (the workers were down, a long backlog) keeps its body and headers, and
is processed normally afterwards: pruning must never lose a delivery that was not applied yet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from integrations.models import WebhookEvent
from integrations.tasks import event_process_task, events_drain_task, events_prune_task
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import body, deal_v2

pytestmark = pytest.mark.django_db


def post(client: Client, integration: Any, data: bytes) -> WebhookEvent:
    response = client.post(integration.webhook_path, data=data, content_type="application/json")
    assert response.status_code in (202, 400), response.content
    return WebhookEvent.objects.get(pk=response.json()["event_id"])


def age(event: WebhookEvent, days: int) -> None:
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(days=days)
    )


def test_an_old_pending_event_keeps_its_body_and_is_still_processed_after_pruning(
    client: Client, pipedrive: Any, settings: Any
) -> None:
    settings.EVENT_PAYLOAD_DAYS = 30
    player_upsert(external_id="pd:1001", name="Ann", email="")
    delivered = body(deal_v2(7, value=250, owner_id=1001))
    waiting = post(client, pipedrive, delivered)  # never processed: the workers were down
    age(waiting, 40)

    events_prune_task()

    waiting.refresh_from_db()
    assert (waiting.status, bytes(waiting.body)) == ("pending", delivered)
    assert waiting.headers == {"Content-Type": "application/json"}
    assert waiting.payload_pruned_at is None
    events_drain_task()  # the sweeper's drain, once workers are back
    waiting.refresh_from_db()
    assert waiting.status == "processed", (waiting.error, waiting.outcome)
    assert list(Transaction.objects.values_list("source_object", "points")) == [("deal:7", 250)]


def test_old_events_that_are_done_are_emptied_and_keep_their_outcome_and_ledger(
    client: Client, pipedrive: Any, settings: Any
) -> None:
    settings.EVENT_PAYLOAD_DAYS = 30
    player_upsert(external_id="pd:1001", name="Ann", email="")
    processed = post(client, pipedrive, body(deal_v2(1, owner_id=1001)))
    ignored = post(client, pipedrive, body(deal_v2(2, status="open", owner_id=1001)))
    for event in (processed, ignored):
        event_process_task(event.pk)
    failed = post(client, pipedrive, b"not json")
    recent = post(client, pipedrive, body(deal_v2(3, owner_id=1001)))
    event_process_task(recent.pk)
    for event in (processed, ignored, failed):
        age(event, 31)

    events_prune_task()

    for event, status in ((processed, "processed"), (ignored, "ignored"), (failed, "failed")):
        event.refresh_from_db()
        assert (event.status, bytes(event.body), event.headers) == (status, b"", {})
        assert event.payload_pruned_at is not None
    assert processed.outcome and "booked +100 to Ann (pd:1001)" in processed.outcome[0]["message"]
    assert failed.error.startswith("body is not valid JSON")
    recent.refresh_from_db()
    assert bytes(recent.body) != b"" and recent.payload_pruned_at is None
    assert Transaction.objects.filter(event=processed).exists()
