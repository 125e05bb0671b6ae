"""Writes of the integrations app: receiving deliveries and processing stored events."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Integration, WebhookEvent

logger = logging.getLogger(__name__)

# Headers worth keeping with a delivery. Never Authorization or signatures: no secret is stored.
KEPT_HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-Request-Id",
    "X-HubSpot-Request-Timestamp",
    "X-HubSpot-Signature-Version",
)


@dataclass(frozen=True)
class Receipt:
    event: WebhookEvent
    error: str  # empty when the delivery was accepted for processing


def webhook_receive(
    *, integration: Integration, body: bytes, headers: Mapping[str, str]
) -> Receipt:
    """Store a delivery; enqueue its processing once the row is committed.

    A body that is not JSON is stored as `failed` with the reason, so an admin can see what the
    source sent, and is never processed.
    """
    error = ""
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        error = f"body is not UTF-8 text: {exc}"
    except ValueError as exc:
        error = f"body is not valid JSON: {exc}"

    # `headers` is case-insensitive when it comes from request.headers.
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            integration=integration,
            received_at=timezone.now(),
            headers=kept,
            body=body,
            status=WebhookEvent.Status.FAILED if error else WebhookEvent.Status.PENDING,
            error=error,
        )
        if not error:
            event_enqueue_on_commit(event_id=event.pk)
    return Receipt(event=event, error=error)


def event_enqueue_on_commit(*, event_id: int) -> None:
    from .tasks import event_process_task

    # robust: a broker that is down must not turn a stored delivery into an error answer; the
    # event stays pending in the outbox.
    transaction.on_commit(partial(event_process_task.delay, event_id), robust=True)


def event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored event, exactly once.

    The event row is locked for the whole evaluation, inside one transaction: a second worker
    handed the same task waits, then sees the event is no longer pending and does nothing. If the
    worker dies, the transaction rolls back and the event is still pending for the redelivery.
    """
    # Counted outside the transaction so that attempts that crashed are still counted.
    WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.PENDING).update(
        attempts=F("attempts") + 1
    )
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            logger.warning("event %s does not exist; nothing to process", event_id)
            return None
        if event.status != WebhookEvent.Status.PENDING:
            return event
        try:
            json.loads(event.body_text)
        except ValueError as exc:
            event.status = WebhookEvent.Status.FAILED
            event.error = f"body is not valid JSON: {exc}"
        else:
            event.status = WebhookEvent.Status.PROCESSED
            event.error = ""
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
    return event


def events_reprocess(*, event_ids: list[int]) -> int:
    """Put events back in the queue. Safe by construction: reconciling twice books nothing new."""
    with transaction.atomic():
        ids = list(WebhookEvent.objects.filter(pk__in=event_ids).values_list("pk", flat=True))
        WebhookEvent.objects.filter(pk__in=ids).update(status=WebhookEvent.Status.PENDING, error="")
        for event_id in ids:
            event_enqueue_on_commit(event_id=event_id)
    return len(ids)
