"""Claiming stored events for processing: drains of many at once, tasks of one, the sweeper."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from scoring.booking import BatchBooking, rows_update

from ..models import WebhookEvent
from ..sources import Change, SourceUnavailable
from .apply import EVENT_RESULT_FIELDS, Verdict, event_process, event_split, events_apply
from .wake import wake_flag_clear

logger = logging.getLogger(__name__)


def events_drain(*, limit: int | None = None, more: Any = None) -> int:
    """Claim up to `limit` pending events (oldest first) and process them in one transaction,
    reading what they share once and writing the ledger with a statement per kind. Returns how
    many were claimed; when the batch was full, `more()` queues the next drain first, so the
    workers share a backlog.

    Exactly once: events are locked and re-checked as pending inside the transaction, and the
    ledger, award states, totals and statuses commit together or not at all. Per object: award
    states are locked up front in one sorted order, and events are applied in arrival order.
    Anything unusual (data the database refuses, a step that fails after it wrote, an
    unexpected exception) rolls the batch back and processes its events one at a time as
    `event_process` does, each step in a savepoint.

    Only events never tried before are batched: an event whose batch died with its worker (or
    failed) is left to the one-event task (queued here on failure, by the sweeper after a
    crash), so an event that kills workers costs only its own attempts."""
    wake_flag_clear()
    limit = limit or settings.EVENT_BATCH_SIZE
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookEvent.Status.PENDING, attempts=0)
            .exclude(claimed_until__gt=now)
            .order_by("received_at", "id")  # the partial index of pending events
            .values_list("pk", flat=True)[:limit]
        )
        # Counted before processing, so that attempts that crashed are still counted.
        WebhookEvent.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1,
            claimed_until=now + timedelta(seconds=settings.EVENT_CLAIM_SECONDS),
        )
    if not ids:
        return 0
    try:
        if len(ids) == limit and more is not None:
            more()
        _claimed_process(ids)
    except Exception:
        # A deadlock or an outage: each event goes on alone, with the one-event task's retries.
        for event_id in ids:
            event_enqueue_on_commit(event_id=event_id)
        raise
    return len(ids)


def _claimed_process(ids: list[int]) -> None:
    events = WebhookEvent.objects.select_related("integration").filter(pk__in=ids).order_by("id")
    splits: dict[int, list[Change] | Verdict] = {}
    for event in events:
        if event.status != WebhookEvent.Status.PENDING:
            continue
        try:
            splits[event.pk] = event_split(event)
        except SourceUnavailable as exc:
            # Stays pending; the sweeper queues it on its own, with retries and backoff.
            event_retry_note(event_id=event.pk, error=f"will retry: {exc}")
    if not splits:
        return
    if connection.vendor == "postgresql":  # elsewhere the careful path is the only one
        try:
            _batch_apply(splits)
            return
        except (OperationalError, InterfaceError):
            raise  # the database is unwell: the task retries
        except Exception as exc:
            logger.warning("a batch of %s events goes one at a time: %r", len(splits), exc)
    for event_id in splits:
        try:
            event_process(event_id=event_id, count_attempt=False)
        except SourceUnavailable as exc:  # stays pending; the sweeper retries it
            event_retry_note(event_id=event_id, error=f"will retry: {exc}")


def _batch_apply(splits: dict[int, list[Change] | Verdict]) -> None:
    """The claimed events through one BatchBooking, in one transaction."""
    with transaction.atomic():
        locked = list(
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("integration")
            .filter(pk__in=list(splits), status=WebhookEvent.Status.PENDING)
            .order_by("id")
        )
        booking = BatchBooking()
        events_apply(locked, splits, booking=booking)
        booking.flush()
        rows_update(locked, EVENT_RESULT_FIELDS)


def event_enqueue_on_commit(*, event_id: int) -> None:
    from ..tasks import event_process_task

    # robust: a broker that is down must not turn a stored delivery into an error answer; the
    # event stays pending in the outbox.
    transaction.on_commit(partial(event_process_task.delay, event_id), robust=True)


def event_retry_note(*, event_id: int, error: str) -> None:
    """A retriable failure (the source's API is down): keep the reason while the event waits."""
    WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.PENDING).update(
        error=error[:2000]
    )


def events_reprocess(*, event_ids: list[int]) -> int:
    """Put events back in the queue. Safe by construction: reconciling twice books nothing new.
    Their attempts start again from zero."""
    with transaction.atomic():
        ids = list(WebhookEvent.objects.filter(pk__in=event_ids).values_list("pk", flat=True))
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=WebhookEvent.Status.PENDING, error="", attempts=0
        )
        for event_id in ids:
            event_enqueue_on_commit(event_id=event_id)
    return len(ids)


def events_sweep(*, older_than_seconds: int | None = None, limit: int = 1000) -> int:
    """Queue what is still pending a while after it arrived; returns the tasks queued.

    Events never tried (the broker was down when they came, or a backlog) get one drain,
    whatever the wake-up flag says. Events tried before (their batch died with its worker, or
    their source's API was down) go on alone, one task each. Safe to overlap with the regular
    tasks: processing an event twice is a no-op.
    """
    from ..tasks import events_drain_task

    if older_than_seconds is None:
        older_than_seconds = settings.SWEEP_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = WebhookEvent.objects.filter(
        status=WebhookEvent.Status.PENDING, received_at__lt=cutoff
    )
    tried = list(
        waiting.filter(attempts__gt=0)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in tried:
        event_enqueue_on_commit(event_id=event_id)
    if waiting.filter(attempts=0).exists():
        transaction.on_commit(events_drain_task.delay, robust=True)
        return len(tried) + 1
    return len(tried)
