"""The step test console: what one step would do with a sample, booking nothing.

The real evaluation and reconcile run inside a transaction that is always rolled back, so the
verdict is exactly what processing would book against the current award state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from scoring.booking import Booking
from scoring.models import Transaction
from scoring.services import DesiredAward, points_text

from .models import IntegrationStep, WebhookEvent
from .services.apply import step_apply
from .sources import Change, DeliveryError, SourceUnavailable
from .steps import StepError, filter_holds, points_step_evaluate, shown_value, step_listens
from .values import as_text, id_text, path_get


@dataclass
class FilterVerdict:
    description: str
    seen: str
    holds: bool


@dataclass
class ChangeVerdict:
    label: str
    filters: list[FilterVerdict] = field(default_factory=list)
    error: str = ""
    player: str = ""
    points: str = ""
    point_type: str = ""
    tags: str = ""
    comment: str = ""
    point_time: str = ""
    result: str = ""  # what reconcile (or the users step) would do, in the outcome's words
    would_book: list[str] = field(default_factory=list)


@dataclass
class DryRun:
    error: str = ""
    note: str = ""
    changes: list[ChangeVerdict] = field(default_factory=list)


_WOULD = [  # the outcome's past tense, as what processing would do (nothing is booked here)
    (re.compile(r"\balready booked\b"), "already booked"),
    (re.compile(r"(?<!already )\bbooked\b"), "would book"),
    (re.compile(r"\brevoked\b"), "would revoke"),
    (re.compile(r"\bcreated offline player\b"), "would create offline player"),
    (re.compile(r"\bupdated player\b"), "would update player"),
]


def would(message: str) -> str:
    """`booked +2500 to Ann` as `would book +2500 to Ann`."""
    for pattern, words in _WOULD:
        message = pattern.sub(words, message)
    return message


class _Rollback(Exception):
    pass


def sample_changes(
    step: IntegrationStep, *, text: str, event: WebhookEvent | None, as_record: bool, action: str
) -> list[Change]:
    """The changes a sample stands for. Raises ValueError with a message for the admin."""
    integration = step.integration
    source = integration.source
    if event is not None:
        text = event.body_text
    if source is not None and source.parser is not None and not (as_record and event is None):
        # A delivery in the source's own format (Salesforce's SOAP); a record is always JSON.
        payload, problem = source.parser(text.encode())
        if problem:
            raise ValueError(f"the sample is not a {source.label} delivery: {problem}")
    else:
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"the sample is not valid JSON: {exc}") from None
    if as_record and event is None:
        if not isinstance(payload, dict):
            raise ValueError("a record is a JSON object")
        raw_id = id_text(path_get(payload, step.score_id or "id")) or "sample"
        current = None if action == "deleted" else payload
        kind = action if action in ("created", "changed", "deleted") else "changed"
        return [Change(step.source_type.lower(), raw_id, kind, current, None, None, None)]  # type: ignore[arg-type]
    if source is None:
        raise ValueError(f"type {integration.type!r} is not registered")
    try:
        return source.adapter.split(integration, payload)
    except DeliveryError as exc:
        raise ValueError(
            f"not a {integration.get_type_display()} delivery ({exc}); to test one record, "
            "choose 'one record'"
        ) from None
    except SourceUnavailable as exc:
        raise ValueError(f"the source's API could not be asked: {exc}") from None


def step_dry_run(
    *,
    step: IntegrationStep,
    text: str = "",
    event: WebhookEvent | None = None,
    as_record: bool = False,
    action: str = "changed",
) -> DryRun:
    try:
        changes = sample_changes(step, text=text, event=event, as_record=as_record, action=action)
    except ValueError as exc:
        return DryRun(error=str(exc))
    source_type = step.source_type.strip().lower()
    listened = [c for c in changes if not c.ignored and step_listens(step, c)]
    if not listened:
        found = ", ".join(c.label for c in changes) or "no changes"
        listens = f"{source_type} {step.event_type or 'created/changed/deleted'}"
        return DryRun(note=f"This step listens to {listens}; the sample holds {found}.")
    received_at = event.received_at if event else timezone.now()
    return DryRun(changes=[_change_verdict(step, change, received_at) for change in listened])


def _change_verdict(step: IntegrationStep, change: Change, received_at: Any) -> ChangeVerdict:
    verdict = ChangeVerdict(label=change.label)
    for flt in step.filters.all():
        holds, seen = filter_holds(flt, change.current)
        verdict.filters.append(FilterVerdict(str(flt), shown_value(seen), holds))
    booking = Booking()
    try:
        with transaction.atomic():
            if step.kind == IntegrationStep.Kind.POINTS:
                _points_describe(step, change, booking, verdict)
            outcome = step_apply(
                step, change, event_id=None, received_at=received_at, booking=booking
            )
            verdict.result = would(outcome.message)
            booked = Transaction.objects.filter(pk__in=outcome.transaction_ids).order_by("id")
            verdict.would_book = [
                f"{t.kind} {points_text(t.points)} to {t.player.name} in {t.series.name}"
                + (f" (cancels #{t.revokes_id})" if t.revokes_id else "")
                + (
                    f", tags {as_text(', '.join(x.name for x in t.tags.all()))}"
                    if t.tags.exists()
                    else ""
                )
                for t in booked.select_related("player", "series")
            ]
            raise _Rollback
    except _Rollback:
        pass  # everything the step wrote is undone
    except StepError as exc:
        verdict.error = str(exc)
    return verdict


def _points_describe(
    step: IntegrationStep, change: Change, booking: Booking, verdict: ChangeVerdict
) -> None:
    """What the evaluation found: the award's player, points, point type, tags, time."""
    evaluation = points_step_evaluate(step, change, lookups=booking)
    desired = evaluation.desired
    if isinstance(desired, DesiredAward):
        verdict.player = f"{desired.player.name} ({desired.external_id})"
        if evaluation.new_player is not None:
            verdict.player += ", a new offline player"
        verdict.points = points_text(desired.points)
        verdict.point_type = desired.point_type.name if desired.point_type else ""
        verdict.tags = ", ".join(desired.tag_names)
        verdict.comment = desired.comment
        verdict.point_time = (
            desired.point_time.isoformat() if desired.point_time else "when first awarded"
        )
