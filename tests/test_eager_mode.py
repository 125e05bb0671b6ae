"""The embedded default (no broker): the task runs right after the commit, before the 202."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from integrations.models import Integration, WebhookEvent
from pointagram_site.celery import app
from tests.support import fixture_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager() -> Iterator[None]:
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_without_broker_event_is_processed_before_the_answer(
    eager: None, client: Client, django_capture_on_commit_callbacks
) -> None:
    integration = Integration.objects.create(name="Pipedrive", type=Integration.Type.PIPEDRIVE)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            integration.webhook_path,
            data=fixture_bytes("pipedrive/v1-deal-updated-won.json"),
            content_type="application/json",
        )

    assert response.status_code == 202
    event = WebhookEvent.objects.get(pk=response.json()["event_id"])
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 1


def test_reprocessing_twice_is_safe(eager: None, django_capture_on_commit_callbacks) -> None:
    from integrations import services

    integration = Integration.objects.create(name="Pipedrive", type=Integration.Type.PIPEDRIVE)
    with django_capture_on_commit_callbacks(execute=True):
        receipt = services.webhook_receive(
            integration=integration, body=b'{"meta": {}}', headers={}
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.events_reprocess(event_ids=[receipt.event.pk, receipt.event.pk])

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 2
