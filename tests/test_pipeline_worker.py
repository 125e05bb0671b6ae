"""The whole way: HTTP -> stored event -> Redis -> a real Celery worker process -> PostgreSQL."""

from __future__ import annotations

import csv
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from integrations.models import Integration, WebhookEvent
from players.models import Player
from players.services import player_upsert
from tests.pipedrive_payloads import body, deal_v2
from tests.support import fixture_bytes, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_posted_fixture_is_processed_by_a_real_worker(
    celery_worker: Any, client: Client, pipedrive: Integration
) -> None:
    assert connection.vendor == "postgresql"

    response = client.post(
        pipedrive.webhook_path,
        data=fixture_bytes("pipedrive/v2-user-create.json"),
        content_type="application/json",
    )

    assert response.status_code == 202
    event_id = response.json()["event_id"]

    def processed() -> WebhookEvent | None:
        return WebhookEvent.objects.filter(pk=event_id, status="processed").first()

    event = wait_for(processed, what=f"event {event_id} to be processed by the worker")
    assert event.attempts == 1
    assert event.processed_at is not None
    assert Player.objects.get(identities__external_id="pd:16943176").status == "offline"


def test_reprocess_goes_through_the_worker_again(
    celery_worker: Any, client: Client, pipedrive: Integration
) -> None:
    from integrations.services import drain

    event_id = client.post(
        pipedrive.webhook_path,
        data=fixture_bytes("pipedrive/v2-user-create.json"),
        content_type="application/json",
    ).json()["event_id"]
    first = wait_for(
        lambda: WebhookEvent.objects.filter(pk=event_id, status="processed").first(),
        what="first processing",
    )

    assert drain.events_reprocess(event_ids=[event_id]) == 1

    event = wait_for(
        lambda: WebhookEvent.objects.filter(
            pk=event_id, status="processed", processed_at__gt=first.processed_at
        ).first(),
        what="second processing",
    )
    assert event.attempts == 1  # a reprocess starts counting attempts again


def test_seed_example_through_http_and_a_real_worker(
    celery_worker: Any, client: Client, pipedrive: Integration
) -> None:
    """Deal 123 won by ABC, value 100 -> +100 ABC; owner -> DEF -> -100 ABC, +100 DEF; the same
    delivery again -> nothing. The ledger CSV shows exactly those three rows."""
    player_upsert(external_id="pd:1001", name="ABC", email="")
    player_upsert(external_id="pd:1002", name="DEF", email="")

    def post_and_wait(payload: Any) -> WebhookEvent:
        response = client.post(
            pipedrive.webhook_path, data=body(payload), content_type="application/json"
        )
        assert response.status_code == 202
        event_id = response.json()["event_id"]
        return wait_for(
            lambda: WebhookEvent.objects.exclude(status="pending").filter(pk=event_id).first(),
            what=f"event {event_id}",
        )

    won = post_and_wait(deal_v2(123, status="won", value=100, owner_id=1001))
    moved_payload = deal_v2(123, owner_id=1002, update_time="2024-01-01T13:00:00Z")
    moved = post_and_wait(moved_payload)
    again = post_and_wait(moved_payload)

    assert (won.status, moved.status, again.status) == ("processed", "processed", "ignored")
    assert "duplicate" in again.outcome[0]["message"]
    out = StringIO()
    call_command("ledger_export", stdout=out)
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    assert [
        (r["player"], r["points"], r["kind"], r["series"], r["source_object"]) for r in rows
    ] == [
        ("ABC", "100.00", "award", "Deals", "deal:123"),
        ("ABC", "-100.00", "revoke", "Deals", "deal:123"),
        ("DEF", "100.00", "award", "Deals", "deal:123"),
    ]
    assert rows[1]["revokes"] == rows[0]["id"]
