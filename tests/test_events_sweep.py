"""The beat sweeper queues pending events nobody queued (the broker was down when they came)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from integrations import services
from integrations.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_old_pending_events_are_queued_again_and_fresh_ones_left(
    pipedrive: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks():
        old = services.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
        fresh = services.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    done = services.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
    WebhookEvent.objects.filter(pk=done.pk).update(
        status="processed", received_at=timezone.now() - timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks() as queued:
        count = services.events_sweep()

    assert count == 1
    assert [callback.args for callback in queued] == [(old.pk,)]  # partial(task.delay, id)
    assert fresh.status == "pending"
