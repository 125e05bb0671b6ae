"""Applying changes: what every matching step's evaluation wants, made to happen through one
unit of work, ending in each event's verdict.

One path for every caller: a drain applies its batch through a BatchBooking, `event_process`
applies one event (a batch of one) and a pull sync one page through a Booking that writes at
once, each step in a savepoint. The steps' evaluation only says what should happen; here, and
only here, it happens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from scoring.booking import Booking, StateKey
from scoring.models import RevokePolicy
from scoring.services import DesiredAward, NoAward, award_reconcile

from ..models import Integration, IntegrationStep, SeenChange, WebhookEvent
from ..sources import Change, DeliveryError, SourceUnavailable
from ..sources.outbound import OutboundRefused
from ..steps import (
    StepError,
    StepOutcome,
    points_step_evaluate,
    score_object_id,
    step_listens,
    users_step_evaluate,
)
from .ingest import body_parse, changes_problem

logger = logging.getLogger(__name__)

EVENT_RESULT_FIELDS = ["status", "error", "outcome", "processed_at", "source_type", "object_refs"]
# What an event keeps of its verdict: the first outcomes and a line counting the rest, each
# message cut short, and its errors up to a length. Lists and pages read it; a delivery of
# many changes with long values must not make it megabytes.
OUTCOME_KEEP = 100
OUTCOME_MESSAGE_CHARS = 500
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Verdict:
    status: str
    error: str = ""
    outcome: list[dict[str, Any]] = field(default_factory=list)


# The events that recorded each (integration id, dedupe key) first.
Owners = Mapping[tuple[int, str], int]


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
    split = event_split(event)
    with transaction.atomic():
        locked = (
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("integration")
            .get(pk=event_id)
        )
        if locked.status != WebhookEvent.Status.PENDING:
            return locked
        booking = Booking()
        events_apply([locked], {locked.pk: split}, booking=booking)
        booking.flush()
        locked.save(update_fields=EVENT_RESULT_FIELDS)
    return locked


def _event_give_up(event: WebhookEvent) -> None:
    """Crashed or kept failing this often: stop, and show why in the admin."""
    last = f"; last error: {event.error}" if event.error else ""
    WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.PENDING).update(
        status=WebhookEvent.Status.FAILED,
        error=f"gave up after {event.attempts - 1} attempts{last}",
        processed_at=timezone.now(),
    )
    event.refresh_from_db()


def event_split(event: WebhookEvent) -> list[Change] | Verdict:
    """The delivery's changes, or the verdict when there is nothing to evaluate."""
    integration = event.integration
    if event.payload_pruned_at is not None:
        return Verdict(WebhookEvent.Status.FAILED, "the payload was pruned: nothing to process")
    source = integration.source
    payload, problem = body_parse(source, bytes(event.body))
    if problem:
        return Verdict(WebhookEvent.Status.FAILED, problem)
    too_many = changes_problem(integration, payload)  # stored before the limit, or spooled
    if too_many:
        return Verdict(WebhookEvent.Status.FAILED, too_many)
    if not integration.enabled:
        return Verdict(WebhookEvent.Status.IGNORED, outcome=[{"message": "integration disabled"}])
    if source is None:
        return Verdict(WebhookEvent.Status.FAILED, f"type {integration.type!r} is not registered")
    try:
        return source.adapter.split(integration, payload)
    except (DeliveryError, OutboundRefused) as exc:  # trying again would not change it
        return Verdict(WebhookEvent.Status.FAILED, str(exc))
    except (SourceUnavailable, DatabaseError):
        raise  # try again later
    except Exception as exc:  # a shape no adapter foresaw must not retry forever
        logger.exception("could not split event %s", event.pk)
        return Verdict(WebhookEvent.Status.FAILED, f"could not read the delivery: {exc!r}")


def events_apply(
    events: list[WebhookEvent],
    splits: Mapping[int, list[Change] | Verdict],
    *,
    booking: Booking,
) -> None:
    """Apply locked, pending events in arrival order through one unit of work, and set each
    event's verdict (the caller saves the events and flushes the booking).

    What the events share is read once: each integration's enabled steps, and the events that
    own the changes' dedupe keys (recorded first, in one sorted order, so two drains meeting
    the same keys wait for each other instead of deadlocking). The award states the points
    steps will need are handed to the booking up front, to lock in one sorted order where it
    locks up front."""
    steps: dict[int, list[IntegrationStep]] = {}
    for event in events:
        if event.integration_id not in steps and not isinstance(splits[event.pk], Verdict):
            steps[event.integration_id] = _steps_enabled(event.integration)
    owners = _dedupe_keys_record(events, splits)
    booking.award_states_lock(keys=_award_keys(events, splits, steps))
    done = timezone.now()
    for event in events:
        split = splits[event.pk]
        if isinstance(split, Verdict):
            verdict = split
        else:
            _event_describe(event, split)
            verdict = changes_apply(
                integration=event.integration,
                changes=split,
                event=event,
                received_at=event.received_at,
                booking=booking,
                steps=steps[event.integration_id],
                owners=owners,
            )
        event.status, event.error = verdict.status, _cut(verdict.error, ERROR_CHARS)
        event.outcome, event.processed_at = _outcome_kept(verdict.outcome), done


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome_kept(outcome: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first OUTCOME_KEEP outcomes, and a line counting the others by result."""
    if len(outcome) <= OUTCOME_KEEP + 1:
        return outcome
    rest = outcome[OUTCOME_KEEP:]
    counts: dict[str, int] = {}
    for entry in rest:
        result = str(entry.get("result") or "other")
        counts[result] = counts.get(result, 0) + 1
    by_result = ", ".join(f"{n} {result}" for result, n in sorted(counts.items()))
    summary = f"{len(rest)} more outcomes not kept: {by_result}"
    return [*outcome[:OUTCOME_KEEP], {"change": "", "result": "summary", "message": summary}]


def _errors_text(errors: list[str]) -> str:
    """The errors joined, at most ERROR_CHARS long: as many as fit, then how many more."""
    text = "; ".join(errors)
    if len(text) <= ERROR_CHARS:
        return text
    kept: list[str] = []
    for index, error in enumerate(errors):
        tail = f"… and {len(errors) - index} more errors"
        if len("; ".join([*kept, error, tail])) > ERROR_CHARS:
            return "; ".join([*kept, tail])
        kept.append(error)
    return _cut(text, ERROR_CHARS)  # not reached: the whole text was too long


def _dedupe_keys_record(
    events: list[WebhookEvent], splits: Mapping[int, list[Change] | Verdict]
) -> dict[tuple[int, str], int]:
    """Record the changes' dedupe keys; the first event to record a key owns it, later ones
    are duplicates. Returns the owners."""
    seen_keys: list[SeenChange] = []
    for event in events:
        split = splits[event.pk]
        if isinstance(split, Verdict):
            continue
        for change in split:
            if change.dedupe_key and not change.ignored:
                key = change.dedupe_key[:255]
                seen_keys.append(
                    SeenChange(integration_id=event.integration_id, key=key, event=event)
                )
    if not seen_keys:
        return {}
    seen_keys.sort(key=lambda seen: (seen.integration_id, seen.key, seen.event_id))
    SeenChange.objects.bulk_create(seen_keys, ignore_conflicts=True)
    return {
        (row.integration_id, row.key): row.event_id
        for row in SeenChange.objects.filter(key__in={s.key for s in seen_keys})
    }


def _award_keys(
    events: list[WebhookEvent],
    splits: Mapping[int, list[Change] | Verdict],
    steps: Mapping[int, list[IntegrationStep]],
) -> list[StateKey]:
    """The award states the events' points steps will lock. A change without a score id names
    none: its step records the error when it runs."""
    keys: list[StateKey] = []
    for event in events:
        split = splits[event.pk]
        if isinstance(split, Verdict):
            continue
        for change in split:
            if change.ignored:
                continue
            for step in steps[event.integration_id]:
                if step.kind == IntegrationStep.Kind.POINTS and step_listens(step, change):
                    try:
                        keys.append((step.pk, score_object_id(step, change)))
                    except StepError:
                        continue
    return keys


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


def changes_apply(
    *,
    integration: Integration,
    changes: list[Change],
    event: WebhookEvent | None,
    received_at: datetime,
    booking: Booking,
    steps: list[IntegrationStep] | None = None,
    owners: Owners | None = None,
) -> Verdict:
    """Run every matching enabled step over every change, in order: the one path by which
    webhooks and pull syncs book points. `event` is None for changes pulled from an API (they
    carry no dedupe key); an event comes with the `owners` of its changes' keys, recorded
    already. The caller holds a transaction and flushes the booking."""
    Status = WebhookEvent.Status
    event_id = event.pk if event is not None else None
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
        if event and owners is not None and change.dedupe_key:
            owner = owners[(event.integration_id, change.dedupe_key[:255])]
            if owner != event.pk:
                outcomes.append(
                    {"change": change.label, "result": "duplicate",
                     "message": f"duplicate: change {change.dedupe_key} was already processed"}
                )  # fmt: skip
                continue
        matching = [s for s in steps if step_listens(s, change)]
        if not matching:
            outcomes.append(
                {"change": change.label, "result": "no_step",
                 "message": f"no enabled step for {change.object_type} {change.action}"}
            )  # fmt: skip
        for step in matching:
            outcome = step_run(
                step, change, event_id=event_id, received_at=received_at, booking=booking
            )
            outcomes.append(outcome.as_json())
            applied = applied or outcome.applied
            if outcome.result == "error":
                errors.append(outcomes[-1]["message"])
    for entry in outcomes:  # a value shown in full could be a megabyte
        entry["message"] = _cut(str(entry.get("message", "")), OUTCOME_MESSAGE_CHARS)
        entry["change"] = _cut(str(entry.get("change", "")), 200)
    if errors:
        errors = [_cut(e, OUTCOME_MESSAGE_CHARS) for e in errors]
        return Verdict(Status.FAILED, _errors_text(errors), outcomes)
    return Verdict(Status.PROCESSED if applied else Status.IGNORED, "", outcomes)


def step_run(
    step: IntegrationStep,
    change: Change,
    *,
    event_id: int | None,
    received_at: datetime,
    booking: Booking,
) -> StepOutcome:
    """One step on one change; a failing step never stops the others.

    A step error is found by the evaluation, before anything is written: it is the step's
    outcome. With savepoints (one event at a time) so is anything else that goes wrong, once the
    savepoint has undone what the step wrote. Without (a batch) it propagates: the drain rolls
    the batch back and takes its events one at a time."""
    try:
        with booking.step_savepoint():
            return step_apply(
                step, change, event_id=event_id, received_at=received_at, booking=booking
            )
    except StepError as exc:
        return StepOutcome(step, change, "error", str(exc))
    except (OperationalError, InterfaceError):
        raise  # the database is unwell: retry the whole event later
    except Exception as exc:
        if not booking.savepoints:
            raise
        if isinstance(exc, DatabaseError):  # the data did not fit (too long, out of range)
            return StepOutcome(step, change, "error", f"the database refused the data: {exc}")
        logger.exception("step %s failed on %s (event %s)", step.pk, change.label, event_id)
        return StepOutcome(step, change, "error", f"unexpected error: {exc!r}")


def step_apply(
    step: IntegrationStep,
    change: Change,
    *,
    event_id: int | None,
    received_at: datetime,
    booking: Booking,
) -> StepOutcome:
    """Evaluate one step on one change and make it happen through the booking: the player
    upserted or created, the award reconciled. Raises StepError."""
    if step.kind == IntegrationStep.Kind.USERS:
        return _users_step_apply(step, change, booking)
    return _points_step_apply(step, change, event_id, received_at, booking)


def _users_step_apply(step: IntegrationStep, change: Change, booking: Booking) -> StepOutcome:
    wanted = users_step_evaluate(step, change)
    if wanted.upsert is None:
        return StepOutcome(step, change, wanted.result, wanted.message)
    external_id = wanted.upsert.external_id
    upsert = booking.player_upsert(
        external_id=external_id, name=wanted.upsert.name, email=wanted.upsert.email
    )
    label = f"{upsert.player.name} ({external_id})"
    if upsert.created:
        message = f"created offline player {label}"
    elif upsert.updated:
        message = f"updated player {label}"
    else:
        message = f"player {label} already up to date"
    return StepOutcome(step, change, "done", message, applied=True)


def _points_step_apply(
    step: IntegrationStep,
    change: Change,
    event_id: int | None,
    received_at: datetime,
    booking: Booking,
) -> StepOutcome:
    evaluation = points_step_evaluate(step, change, lookups=booking)
    desired, notes = evaluation.desired, list(evaluation.notes)
    wanted = evaluation.new_player
    if wanted is not None:
        player, created = booking.player_create(
            external_id=wanted.external_id, name=wanted.name, email=wanted.email
        )
        if created:
            notes.insert(0, f"created offline player {player.name} ({wanted.external_id})")
        if isinstance(desired, DesiredAward):
            desired = replace(desired, player=player)
    result = award_reconcile(
        booking=booking,
        step_id=step.pk,
        series=step.series,
        revoke=RevokePolicy(step.revoke),
        object_id=evaluation.object_id,
        source_object=f"{step.source_type}:{evaluation.object_id}",
        desired=desired,
        version=change.version,
        default_time=change.version or received_at,
        event_id=event_id,
    )
    message = "; ".join([result.message, *notes])
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
