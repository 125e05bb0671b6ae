"""The whole way: HTTP -> stored event -> Redis -> a real Celery worker process -> PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from integrations.models import Integration, WebhookEvent
from tests.support import fixture_bytes, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_posted_fixture_is_processed_by_a_real_worker(celery_worker, client: Client) -> None:
    assert connection.vendor == "postgresql"
    integration = Integration.objects.create(name="Pipedrive", type=Integration.Type.PIPEDRIVE)

    response = client.post(
        integration.webhook_path,
        data=fixture_bytes("pipedrive/v2-deal-create.json"),
        content_type="application/json",
    )

    assert response.status_code == 202
    event_id = response.json()["event_id"]

    def processed() -> WebhookEvent | None:
        return WebhookEvent.objects.filter(pk=event_id, status="processed").first()

    event = wait_for(processed, what=f"event {event_id} to be processed by the worker")
    assert event.attempts == 1
    assert event.processed_at is not None


def test_reprocess_goes_through_the_worker_again(celery_worker, client: Client) -> None:
    from integrations import services

    integration = Integration.objects.create(name="Pipedrive", type=Integration.Type.PIPEDRIVE)
    event_id = client.post(
        integration.webhook_path,
        data=fixture_bytes("pipedrive/v2-user-create.json"),
        content_type="application/json",
    ).json()["event_id"]
    wait_for(
        lambda: WebhookEvent.objects.filter(pk=event_id, status="processed").exists(),
        what="first processing",
    )

    assert services.events_reprocess(event_ids=[event_id]) == 1

    event = wait_for(
        lambda: WebhookEvent.objects.filter(pk=event_id, status="processed", attempts=2).first(),
        what="second processing",
    )
    assert event.attempts == 2
