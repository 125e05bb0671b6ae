"""Writes of the integrations app: receiving deliveries and processing stored events."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from scoring.services import NoAward, award_reconcile

from .models import Integration, IntegrationStep, SeenChange, WebhookEvent, webhook_secret_generate
from .sources import Change, DeliveryError, SourceUnavailable, adapter_for
from .steps import StepError, StepOutcome, points_step_evaluate, users_step_apply

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
    error = json_problem(body)

    # `headers` is case-insensitive when it comes from request.headers.
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    # One INSERT, committed on its own (no BEGIN/COMMIT round trips on the hot path); the task
    # is queued once it is committed: right away in autocommit, or when the caller's
    # transaction commits.
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


MAX_JSON_DEPTH = 64


def json_problem(body: bytes) -> str:
    """Why a body is not a JSON delivery we accept, or "" when it is."""
    return json_parse(body)[1]


def json_parse(body: bytes) -> tuple[Any, str]:
    """The delivery's JSON and "", or None and why it is not a delivery we accept."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8 text: {exc}"
    except RecursionError:
        return None, f"body nests deeper than {MAX_JSON_DEPTH} levels"
    except ValueError as exc:
        return None, f"body is not valid JSON: {exc}"
    if _depth(payload) > MAX_JSON_DEPTH:
        return None, f"body nests deeper than {MAX_JSON_DEPTH} levels"
    return payload, ""


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (a hostile body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def event_enqueue_on_commit(*, event_id: int) -> None:
    from .tasks import event_process_task

    # robust: a broker that is down must not turn a stored delivery into an error answer; the
    # event stays pending in the outbox.
    transaction.on_commit(partial(event_process_task.delay, event_id), robust=True)


def event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored event, exactly once.

    The delivery is split into changes first, outside any transaction (HubSpot's records come
    from its API). Then the event row is locked for the whole evaluation, inside one
    transaction: a second worker handed the same task waits, then sees the event is no longer
    pending and does nothing. If the worker dies, the transaction rolls back and the event is
    still pending for the redelivery. SourceUnavailable and database errors propagate, leaving
    the event pending, so the task retries later.
    """
    # Counted outside the transaction so that attempts that crashed are still counted.
    WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.PENDING).update(
        attempts=F("attempts") + 1
    )
    event = WebhookEvent.objects.select_related("integration").filter(pk=event_id).first()
    if event is None:
        logger.warning("event %s does not exist; nothing to process", event_id)
        return None
    if event.status != WebhookEvent.Status.PENDING:
        return event
    if event.attempts > settings.EVENT_MAX_ATTEMPTS:
        # Crashed or kept failing this often: stop, and show why in the admin.
        last = f"; last error: {event.error}" if event.error else ""
        WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.PENDING).update(
            status=WebhookEvent.Status.FAILED,
            error=f"gave up after {event.attempts - 1} attempts{last}",
            processed_at=timezone.now(),
        )
        event.refresh_from_db()
        return event
    split = _event_split(event)
    with transaction.atomic():
        locked = (
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("integration")
            .get(pk=event_id)
        )
        if locked.status != WebhookEvent.Status.PENDING:
            return locked
        if isinstance(split, Verdict):
            verdict = split
        else:
            locked.source_type = next((c.object_type for c in split if not c.ignored), "")[:50]
            refs = dict.fromkeys(f"{c.object_type}:{c.object_id}" for c in split)
            locked.object_refs = " ".join(refs)[:1000]
            verdict = changes_apply(
                integration=locked.integration,
                changes=split,
                event=locked,
                received_at=locked.received_at,
            )
        locked.status = verdict.status
        locked.error = verdict.error
        locked.outcome = verdict.outcome
        locked.processed_at = timezone.now()
        locked.save(
            update_fields=[
                "status", "error", "outcome", "processed_at", "source_type", "object_refs",
            ]
        )  # fmt: skip
    return locked


@dataclass(frozen=True)
class Verdict:
    status: str
    error: str = ""
    outcome: list[dict[str, Any]] = field(default_factory=list)


def _event_split(event: WebhookEvent) -> list[Change] | Verdict:
    """The delivery's changes, or the verdict when there is nothing to evaluate."""
    integration = event.integration
    if event.payload_pruned_at is not None:
        return Verdict(WebhookEvent.Status.FAILED, "the payload was pruned: nothing to process")
    payload, problem = json_parse(bytes(event.body))
    if problem:
        return Verdict(WebhookEvent.Status.FAILED, problem)
    if not integration.enabled:
        return Verdict(WebhookEvent.Status.IGNORED, outcome=[{"message": "integration disabled"}])
    try:
        return adapter_for(integration.type).split(integration, payload)
    except DeliveryError as exc:
        return Verdict(WebhookEvent.Status.FAILED, str(exc))
    except (SourceUnavailable, DatabaseError):
        raise  # try again later
    except Exception as exc:  # a shape no adapter foresaw must not retry forever
        logger.exception("could not split event %s", event.pk)
        return Verdict(WebhookEvent.Status.FAILED, f"could not read the delivery: {exc!r}")


def changes_apply(
    *,
    integration: Integration,
    changes: list[Change],
    event: WebhookEvent | None,
    received_at: datetime,
) -> Verdict:
    """Run every matching enabled step over every change, in order: the one path by which
    webhooks and pull syncs book points. `event` is None for changes pulled from an API (they
    carry no dedupe key). The caller holds a transaction."""
    Status = WebhookEvent.Status
    steps = list(
        integration.steps.filter(enabled=True)
        .select_related("series")
        .prefetch_related("filters")
        .order_by("order", "id")
    )
    outcomes: list[dict[str, Any]] = []
    applied = False
    errors = []
    for change in changes:
        if change.ignored:
            outcomes.append(
                {"change": change.label, "result": "ignored", "message": change.ignored}
            )
            continue
        if event and change.dedupe_key and _seen_elsewhere(event, change.dedupe_key):
            outcomes.append(
                {"change": change.label, "result": "duplicate",
                 "message": f"duplicate: change {change.dedupe_key} was already processed"}
            )  # fmt: skip
            continue
        matching = [s for s in steps if _step_listens(s, change)]
        if not matching:
            outcomes.append(
                {"change": change.label, "result": "no_step",
                 "message": f"no enabled step for {change.object_type} {change.action}"}
            )  # fmt: skip
        for step in matching:
            outcome = _step_run(step, change, event, received_at)
            outcomes.append(outcome.as_json())
            applied = applied or outcome.applied
            if outcome.result == "error":
                errors.append(outcome.as_json()["message"])
    if errors:
        return Verdict(Status.FAILED, "; ".join(errors), outcomes)
    return Verdict(Status.PROCESSED if applied else Status.IGNORED, "", outcomes)


def _seen_elsewhere(event: WebhookEvent, key: str) -> bool:
    """Record the change's key; True when another event recorded it first."""
    SeenChange.objects.bulk_create(
        [SeenChange(integration_id=event.integration_id, key=key[:255], event=event)],
        ignore_conflicts=True,
    )
    first = SeenChange.objects.filter(integration_id=event.integration_id, key=key[:255])
    return first.values_list("event_id", flat=True).get() != event.pk


def _step_listens(step: IntegrationStep, change: Change) -> bool:
    return step.source_type.strip().lower() == change.object_type and (
        not step.event_type or step.event_type == change.action
    )


def _step_run(
    step: IntegrationStep, change: Change, event: WebhookEvent | None, received_at: datetime
) -> StepOutcome:
    """One step on one change, in a savepoint: a failing step never stops the others."""
    try:
        with transaction.atomic():
            if step.kind == IntegrationStep.Kind.USERS:
                return users_step_apply(step, change)
            return _points_step_apply(step, change, event, received_at)
    except StepError as exc:
        return StepOutcome(step, change, "error", str(exc))
    except (OperationalError, InterfaceError):
        raise  # the database is unwell: retry the whole event later
    except DatabaseError as exc:  # the data did not fit (too long, out of range): this step only
        return StepOutcome(step, change, "error", f"the database refused the data: {exc}")
    except Exception as exc:
        logger.exception(
            "step %s failed on %s (event %s)", step.pk, change.label, event and event.pk
        )
        return StepOutcome(step, change, "error", f"unexpected error: {exc!r}")


def _points_step_apply(
    step: IntegrationStep, change: Change, event: WebhookEvent | None, received_at: datetime
) -> StepOutcome:
    evaluation = points_step_evaluate(step, change)
    desired = evaluation.desired
    result = award_reconcile(
        step=step,
        object_id=evaluation.object_id,
        source_object=f"{step.source_type}:{evaluation.object_id}",
        desired=desired,
        version=change.version,
        default_time=change.version or received_at,
        event=event,
    )
    message = "; ".join([result.message, *evaluation.notes])
    ids = [t.pk for t in result.booked]
    if result.stale:
        return StepOutcome(step, change, "stale", message)
    if isinstance(desired, NoAward):
        kind = "unknown_player" if not desired.moves_version else "filtered"
        # A revoke booked because of a miss still counts as work done.
        return StepOutcome(step, change, kind, message, applied=bool(ids), transaction_ids=ids)
    return StepOutcome(
        step, change, "booked" if ids else "unchanged", message, applied=True, transaction_ids=ids
    )


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
    """Queue events still pending a while after they arrived: the broker was down when they
    came, or the worker that had them died. Safe to overlap with the regular tasks: processing
    an event twice is a no-op.
    """
    if older_than_seconds is None:
        older_than_seconds = settings.SWEEP_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in ids:
        event_enqueue_on_commit(event_id=event_id)
    return len(ids)


def integration_secret_rotate(*, integration: Integration) -> str:
    """A new webhook secret: the old URL stops working at once."""
    integration.webhook_secret = webhook_secret_generate()
    integration.save(update_fields=["webhook_secret", "updated_at"])
    return integration.webhook_secret


def events_prune(*, days: int | None = None) -> int:
    """Drop raw payloads (body, headers) older than EVENT_PAYLOAD_DAYS; keep the event's status,
    outcome and objects, and the ledger. Pending events keep theirs: they are not done."""
    from django.conf import settings

    keep_days = settings.EVENT_PAYLOAD_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    return (
        WebhookEvent.objects.filter(received_at__lt=cutoff, payload_pruned_at__isnull=True)
        .exclude(status=WebhookEvent.Status.PENDING)
        .update(body=b"", headers={}, payload_pruned_at=timezone.now())
    )
