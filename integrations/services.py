"""Writes of the integrations app: receiving deliveries and processing stored events."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from scoring.batch import BatchFallback
from scoring.services import NoAward, award_reconcile

from .models import Integration, IntegrationStep, SeenChange, WebhookEvent, webhook_secret_generate
from .sources import Change, DeliveryError, SourceUnavailable, adapter_for
from .steps import (
    StepError,
    StepOutcome,
    points_step_evaluate,
    score_object_id,
    users_step_apply,
)

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
    event_id: int
    error: str  # empty when the delivery was accepted for processing
    stored: dict[str, Any]  # the values the delivery was stored with

    @property
    def event(self) -> WebhookEvent:
        """The stored event (built on demand: the webhook answers with its id alone)."""
        event = WebhookEvent(pk=self.event_id, **self.stored)
        event._state.adding = False
        return event


class IntegrationChanged(Exception):
    """The integration was changed (or its URL rotated) after the caller read it."""


def webhook_receive(
    *, integration: Integration, body: bytes, headers: Mapping[str, str], guarded: bool = False
) -> Receipt:
    """Store a delivery; have it processed once the row is committed.

    A body that is not JSON is stored as `failed` with the reason, so an admin can see what the
    source sent, and is never processed. `guarded`: store it only if the integration is still
    as the caller read it (same secret, not changed since), in the same statement; otherwise
    raise IntegrationChanged and store nothing.
    """
    error = json_problem(body)

    # `headers` is case-insensitive when it comes from request.headers.
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    stored = {
        "integration": integration,
        "received_at": timezone.now(),
        "headers": kept,
        "body": body,
        "status": WebhookEvent.Status.FAILED if error else WebhookEvent.Status.PENDING,
        "error": error,
    }
    # One INSERT, committed on its own (no BEGIN/COMMIT round trips on the hot path).
    if guarded:
        event_id = _event_insert_guarded(stored)
    else:
        event_id = WebhookEvent.objects.create(**stored).pk
    if not error:
        # After the commit: right away in autocommit, or when the caller's transaction commits.
        transaction.on_commit(events_wake_soon, robust=True)
    return Receipt(event_id=event_id, error=error, stored=stored)


def _event_insert_guarded(stored: dict[str, Any]) -> int:
    """INSERT the event only while the integration has the secret and version the caller
    authenticated the delivery against: one round trip on PostgreSQL. Returns its id."""
    integration: Integration = stored["integration"]
    if connection.vendor != "postgresql":
        current = Integration.objects.filter(
            pk=integration.pk,
            webhook_secret=integration.webhook_secret,
            updated_at=integration.updated_at,
        )
        if not current.exists():
            raise IntegrationChanged
        return WebhookEvent.objects.create(**stored).pk
    sql, variable = _guarded_insert_sql()
    # The values as the fields would prepare them, without a model instance per delivery.
    values = [
        integration.pk if f.name == "integration"
        else connection.ops.adapt_json_value(stored[f.name], f.encoder)
        if f.name == "headers"
        else stored[f.name]
        for f in variable
    ]  # fmt: skip
    connection.ensure_connection()
    # A prepared statement on a connection that is kept (CONN_MAX_AGE): PostgreSQL stops
    # planning the INSERT for every delivery. Django binds values client-side and never
    # prepares; this cursor is wrapped as Django wraps its own, so queries are still logged.
    raw = _PreparedCursor(connection.connection)
    raw.prepared = settings.DATABASES["default"].get("CONN_MAX_AGE", 0) != 0
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            sql, [*values, integration.pk, integration.webhook_secret, integration.updated_at]
        )
        row = cursor.fetchone()
    if row is None:
        raise IntegrationChanged
    return int(row[0])


class _PreparedCursor(psycopg.Cursor[Any]):
    prepared = False

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True if self.prepared else None)
        return super().execute(query, params, **kwargs)


# What a delivery sets; every other column of a new event holds its default.
_DELIVERY_FIELDS = ("integration", "received_at", "headers", "body", "status", "error")
_guarded_insert: tuple[str, list[Any]] | None = None


def _guarded_insert_sql() -> tuple[str, list[Any]]:
    """The INSERT ... SELECT of _event_insert_guarded, written once per process from the model:
    the defaults as literals, a parameter for each field a delivery sets."""
    global _guarded_insert
    if _guarded_insert is None:
        quote = connection.ops.quote_name
        fields = [f for f in WebhookEvent._meta.concrete_fields if not f.primary_key]
        blank = WebhookEvent()
        variable, values = [], []
        for f in fields:
            cast = f"CAST(%s AS {f.db_type(connection)!s})"
            if f.name in _DELIVERY_FIELDS:
                variable.append(f)
                values.append(cast)
            else:
                default = f.get_db_prep_save(getattr(blank, f.attname), connection)
                literal = connection.ops.compose_sql(cast, [default])  # type: ignore[attr-defined]
                values.append(literal.replace("%", "%%"))
        columns = ", ".join(quote(str(f.column)) for f in fields)
        _guarded_insert = (
            f"INSERT INTO {quote(WebhookEvent._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {quote(Integration._meta.db_table)} "
            "WHERE id = %s AND webhook_secret = %s AND updated_at = %s RETURNING id",
            variable,
        )
    return _guarded_insert


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
    # Only a body with such an escape can hold such text (JSON allows no raw NUL in a string,
    # and a raw surrogate is not UTF-8); the walk confirms, since an escaped backslash before
    # "u0000" is plain text.
    if _UNSTORABLE_ESCAPE.search(body):
        problem = _unstorable_text(payload)
        if problem:
            return None, problem
    return payload, ""


# PostgreSQL text holds neither NUL nor unpaired surrogates: a delivery carrying them could never
# be processed (DataError in the worker, retried until it gave up), so it is refused on arrival.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_text(payload: Any) -> str:
    """Why the payload cannot be stored as text, naming where, or "" when it can."""

    def problem(char: str, path: str, *, in_key: bool = False) -> str:
        what = "a NUL character" if char == "\x00" else "an unpaired surrogate"
        where = f"{'in a key ' if in_key else ''}at {path[:200] or 'the top level'}"
        return f"body holds {what} (\\u{ord(char):04x}) {where}: the database cannot store it"

    stack: list[tuple[Any, str]] = [(payload, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if found := _UNSTORABLE.search(item):
                return problem(found.group(), path)
        elif isinstance(item, dict):
            for key, value in item.items():
                if found := _UNSTORABLE.search(key):
                    return problem(found.group(), path, in_key=True)
                stack.append((value, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(item))
    return ""


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


def events_wake() -> None:
    """Make sure a drain task starts after this moment (so it sees every event committed
    before it), without queueing a task per delivery.

    A flag in Redis says a drain is queued and has not started yet; only the delivery that sets
    it queues a task. The drain clears the flag before it claims events, so an event committed
    before a failed attempt to set the flag is claimed by that queued drain. The flag expires:
    a task lost with its broker is queued again by a later delivery (and the sweeper catches
    what is left pending meanwhile)."""
    from .tasks import events_drain_task

    if eager():
        events_drain_task.delay()
        return
    flags = _redis()
    if flags.set(WAKE_FLAG, "1", nx=True, ex=WAKE_FLAG_SECONDS):
        try:
            events_drain_task.delay()
        except Exception:
            flags.delete(WAKE_FLAG)
            raise


def events_wake_soon() -> None:
    """events_wake() from this process's waker thread within WAKE_DELAY (50 ms): deliveries
    arriving together share one wake (one Redis round trip) instead of paying one each. Called
    after the delivery's commit, so the wake that follows still comes after it. Eager mode
    (no broker) wakes at once, in this thread."""
    if eager():
        events_wake()
        return
    _waker.request()


def eager() -> bool:
    """Tasks run in this process (no broker): nothing to wake. Read once per process (Celery's
    configuration lookup costs a delivery more than the rest of the wake-up)."""
    global eager_cached
    if eager_cached is None:
        from celery import current_app

        eager_cached = bool(current_app.conf.task_always_eager)
    return eager_cached


eager_cached: bool | None = None


class _Waker:
    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._pid = 0

    def request(self) -> None:
        if self._pid != os.getpid():  # first use in this process (gunicorn forks workers)
            self._pid = os.getpid()
            self._wanted = threading.Event()
            threading.Thread(target=self._run, name="events-waker", daemon=True).start()
        if not self._wanted.is_set():  # already due: nothing to notify (a notify costs)
            self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(WAKE_DELAY)
            # Cleared before waking: a request from now on is served by the next round.
            self._wanted.clear()
            try:
                events_wake()
            except Exception:  # the sweeper queues what is left pending
                logger.exception("could not wake the event drain")


WAKE_DELAY = 0.05
_waker = _Waker()
WAKE_FLAG = f"pointagram:{settings.CELERY_TASK_DEFAULT_QUEUE}:drain-queued"
WAKE_FLAG_SECONDS = 30
_redis_client: Any = None


def _redis() -> Any:
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=5
        )
    return _redis_client


def events_drain(*, limit: int | None = None, more: Any = None) -> int:
    """Claim up to `limit` pending events (oldest first) and process them in one transaction,
    reading what they share once and writing the ledger with a statement per kind. Returns how
    many were claimed; when the batch was full, `more()` queues the next drain first, so the
    workers share a backlog.

    Exactly once: events are locked and re-checked as pending inside the transaction, and the
    ledger, award states, totals and statuses commit together or not at all. Per object: award
    states are locked up front in one sorted order, and events are applied in arrival order.
    Anything unusual (a step error, data the database refuses, an unexpected exception) rolls
    the batch back and processes its events one at a time as `event_process` does.

    Only events never tried before are batched: an event whose batch died with its worker (or
    failed) is left to the one-event task (queued here on failure, by the sweeper after a
    crash), so an event that kills workers costs only its own attempts."""
    if not eager():
        _redis().delete(WAKE_FLAG)
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
        _batch_process(ids)
    except Exception:
        # A deadlock or an outage: each event goes on alone, with the one-event task's retries.
        for event_id in ids:
            event_enqueue_on_commit(event_id=event_id)
        raise
    return len(ids)


def _batch_process(ids: list[int]) -> None:
    events = WebhookEvent.objects.select_related("integration").filter(pk__in=ids).order_by("id")
    splits: dict[int, list[Change] | Verdict] = {}
    for event in events:
        if event.status != WebhookEvent.Status.PENDING:
            continue
        try:
            splits[event.pk] = _event_split(event)
        except SourceUnavailable as exc:
            # Stays pending; the sweeper queues it on its own, with retries and backoff.
            event_retry_note(event_id=event.pk, error=f"will retry: {exc}")
    if not splits:
        return
    try:
        _batch_apply(splits)
    except (OperationalError, InterfaceError):
        raise  # the database is unwell: the task retries
    except (BatchFallback, DatabaseError) as exc:
        cause = exc.__cause__ or exc
        logger.warning("a batch of %s events goes one at a time: %r", len(splits), cause)
        for event_id in splits:
            try:
                event_process(event_id=event_id, count_attempt=False)
            except SourceUnavailable as exc:  # stays pending; the sweeper retries it
                event_retry_note(event_id=event_id, error=f"will retry: {exc}")


def _batch_apply(splits: dict[int, list[Change] | Verdict]) -> None:
    from scoring.batch import booking_batch, rows_update
    from scoring.services import award_states_lock

    with transaction.atomic(), booking_batch() as batch:
        if batch is None:  # not PostgreSQL: the careful path is the only one
            raise BatchFallback
        locked = list(
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("integration")
            .filter(pk__in=list(splits), status=WebhookEvent.Status.PENDING)
            .order_by("id")
        )
        steps: dict[int, list[IntegrationStep]] = {}
        keys: list[tuple[int | None, str]] = []
        seen_keys: list[SeenChange] = []
        for event in locked:
            split = splits[event.pk]
            if isinstance(split, Verdict):
                continue
            if event.integration_id not in steps:
                steps[event.integration_id] = _steps_enabled(event.integration)
            for change in split:
                if change.ignored:
                    continue
                if change.dedupe_key:
                    key = change.dedupe_key[:255]
                    seen = SeenChange(integration_id=event.integration_id, key=key, event=event)
                    seen_keys.append(seen)
                for step in steps[event.integration_id]:
                    if step.kind == IntegrationStep.Kind.POINTS and _step_listens(step, change):
                        try:
                            keys.append((step.pk, score_object_id(step, change)))
                        except StepError:
                            raise BatchFallback from None
        # The first event to record a change's key owns it; later ones are duplicates. Sorted,
        # so two drains meeting the same keys wait for each other instead of deadlocking.
        seen_keys.sort(key=lambda seen: (seen.integration_id, seen.key, seen.event_id))
        SeenChange.objects.bulk_create(seen_keys, ignore_conflicts=True)
        owners = {
            (row.integration_id, row.key): row.event_id
            for row in SeenChange.objects.filter(key__in={s.key for s in seen_keys})
        }
        award_states_lock(keys=keys)
        done = timezone.now()
        for event in locked:
            verdict = _event_verdict(
                event, splits[event.pk], steps=steps.get(event.integration_id), owners=owners
            )
            event.status, event.error = verdict.status, verdict.error
            event.outcome, event.processed_at = verdict.outcome, done
        batch.flush()
        rows_update(locked, EVENT_RESULT_FIELDS)


EVENT_RESULT_FIELDS = ["status", "error", "outcome", "processed_at", "source_type", "object_refs"]


def _event_give_up(event: WebhookEvent) -> None:
    """Crashed or kept failing this often: stop, and show why in the admin."""
    last = f"; last error: {event.error}" if event.error else ""
    WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.PENDING).update(
        status=WebhookEvent.Status.FAILED,
        error=f"gave up after {event.attempts - 1} attempts{last}",
        processed_at=timezone.now(),
    )
    event.refresh_from_db()


def _event_verdict(
    event: WebhookEvent,
    split: list[Change] | Verdict,
    *,
    steps: list[IntegrationStep] | None = None,
    owners: dict[tuple[int, str], int] | None = None,
) -> Verdict:
    """Apply a locked event's changes (or take the verdict its split already is)."""
    if isinstance(split, Verdict):
        return split
    _event_describe(event, split)
    return changes_apply(
        integration=event.integration,
        changes=split,
        event=event,
        received_at=event.received_at,
        steps=steps,
        owners=owners,
    )


def _event_describe(event: WebhookEvent, split: list[Change]) -> None:
    event.source_type = next((c.object_type for c in split if not c.ignored), "")[:50]
    refs = dict.fromkeys(f"{c.object_type}:{c.object_id}" for c in split)
    event.object_refs = " ".join(refs)[:1000]


def _steps_enabled(integration: Integration) -> list[IntegrationStep]:
    return list(
        integration.steps.filter(enabled=True)
        .select_related("series")
        .prefetch_related("filters")
        .order_by("order", "id")
    )


def event_process(*, event_id: int, count_attempt: bool = True) -> WebhookEvent | None:
    """Process one stored event, exactly once.

    The delivery is split into changes first, outside any transaction (HubSpot's records come
    from its API). Then the event row is locked for the whole evaluation, inside one
    transaction: a second worker handed the same task waits, then sees the event is no longer
    pending and does nothing. If the worker dies, the transaction rolls back and the event is
    still pending for the redelivery. SourceUnavailable and database errors propagate, leaving
    the event pending, so the task retries later.
    """
    # Counted outside the transaction so that attempts that crashed are still counted.
    if count_attempt:
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
        _event_give_up(event)
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
        verdict = _event_verdict(locked, split)
        locked.status = verdict.status
        locked.error = verdict.error
        locked.outcome = verdict.outcome
        locked.processed_at = timezone.now()
        locked.save(update_fields=EVENT_RESULT_FIELDS)
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
    steps: list[IntegrationStep] | None = None,
    owners: dict[tuple[int, str], int] | None = None,
) -> Verdict:
    """Run every matching enabled step over every change, in order: the one path by which
    webhooks and pull syncs book points. `event` is None for changes pulled from an API (they
    carry no dedupe key). The caller holds a transaction. A batch passes the steps it read and
    the events that own the changes' keys (recorded already)."""
    Status = WebhookEvent.Status
    if steps is None:
        steps = _steps_enabled(integration)
    outcomes: list[dict[str, Any]] = []
    applied = False
    errors = []
    for change in changes:
        if change.ignored:
            outcomes.append(
                {"change": change.label, "result": "ignored", "message": change.ignored}
            )
            continue
        if event and change.dedupe_key and _seen_elsewhere(event, change.dedupe_key, owners):
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


def _seen_elsewhere(
    event: WebhookEvent, key: str, owners: dict[tuple[int, str], int] | None
) -> bool:
    """Record the change's key; True when another event recorded it first."""
    if owners is not None:
        return owners[(event.integration_id, key[:255])] != event.pk
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
    """One step on one change, in a savepoint: a failing step never stops the others.

    In a batch there is no savepoint: a step error found before the step wrote anything is
    that step's outcome; anything else sends the batch to the careful path."""
    from scoring.batch import current_batch

    batched = current_batch() is not None
    try:
        with nullcontext() if batched else transaction.atomic():
            if step.kind == IntegrationStep.Kind.USERS:
                return users_step_apply(step, change)
            return _points_step_apply(step, change, event, received_at)
    except StepError as exc:
        return StepOutcome(step, change, "error", str(exc))
    except (OperationalError, InterfaceError):
        raise  # the database is unwell: retry the whole event later
    except Exception as exc:
        if batched:  # no savepoint to undo what the step did: the batch goes the careful way
            raise BatchFallback from exc
        if isinstance(exc, DatabaseError):  # the data did not fit (too long, out of range)
            return StepOutcome(step, change, "error", f"the database refused the data: {exc}")
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
    """Queue what is still pending a while after it arrived; returns the tasks queued.

    Events never tried (the broker was down when they came, or a backlog) get one drain,
    whatever the wake-up flag says. Events tried before (their batch died with its worker, or
    their source's API was down) go on alone, one task each. Safe to overlap with the regular
    tasks: processing an event twice is a no-op.
    """
    from .tasks import events_drain_task

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
