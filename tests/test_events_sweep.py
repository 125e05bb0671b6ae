"""The beat sweeper queues pending events nobody queued (the broker was down when they came, or
their worker died): one drain for those never tried, one task each for those tried before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from integrations.models import WebhookEvent
from integrations.services import drain, ingest
from integrations.tasks import events_drain_task

pytestmark = pytest.mark.django_db


def test_old_pending_events_are_queued_again_and_fresh_ones_left(
    pipedrive: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks():
        old = ingest.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
        fresh = ingest.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    done = ingest.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
    WebhookEvent.objects.filter(pk=done.pk).update(
        status="processed", received_at=timezone.now() - timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks() as queued:
        count = drain.events_sweep()

    assert count == 1
    assert queued == [events_drain_task.delay]  # old was never tried: a drain takes it
    assert fresh.status == "pending"


def test_events_tried_before_are_queued_one_task_each(
    pipedrive: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Their batch died with its worker: each goes on alone, so a poison event fails alone."""
    with django_capture_on_commit_callbacks():
        died = [
            ingest.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
            for _ in range(2)
        ]
    WebhookEvent.objects.update(attempts=1, received_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks() as queued:
        count = drain.events_sweep()

    assert count == 2
    assert [callback.args for callback in queued] == [(died[0].pk,), (died[1].pk,)]
