"""Evaluating one step against one change (DESIGN §4): filters, player, points, tags, time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models.functions import Lower

from players.models import Player, PlayerIdentity
from players.services import player_create_with_identity, player_upsert
from scoring.batch import BatchFallback, current_batch
from scoring.models import Tag
from scoring.services import DesiredAward, NoAward

from .models import IntegrationStep, StepFilter
from .sources import Change
from .values import (
    MISSING,
    as_bool,
    as_number,
    as_text,
    id_text,
    is_empty,
    path_get,
    points_round,
    time_parse,
    unwrap_id,
)

HASHTAG = re.compile(r"#([^\s#.,;:!?()\[\]{}\"']+)")


class StepError(Exception):
    """A data or configuration problem that stops one step for one change; nothing is booked."""


@dataclass
class StepOutcome:
    """One step's verdict on one change, stored with the event in words an admin understands."""

    step: IntegrationStep
    change: Change
    result: str  # booked | unchanged | filtered | stale | duplicate | unknown_player | error | done
    message: str
    applied: bool = False  # the step matched and completed
    transaction_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step.name,
            "step_id": self.step.pk,
            "change": self.change.label,
            "result": self.result,
            "message": f"{self.step.name}: {self.message}",
            "transactions": self.transaction_ids,
        }


# --- filters ------------------------------------------------------------------------------------

_BOOL_WORDS = {"true", "false", "yes", "no"}


def _is_boolish(value: Any) -> bool:
    return isinstance(value, bool) or (
        isinstance(value, str) and value.strip().lower() in _BOOL_WORDS
    )


def value_matches(actual: Any, wanted: Any) -> bool:
    """Booleans as booleans, numbers numerically, text trimmed and case-insensitively (§9)."""
    if isinstance(actual, list):
        return any(value_matches(item, wanted) for item in actual)
    if isinstance(actual, dict):
        actual = actual.get("id", actual.get("value", MISSING))
    if is_empty(actual):
        return is_empty(wanted)
    if _is_boolish(actual) or _is_boolish(wanted):
        left, right = as_bool(actual), as_bool(wanted)
        return left is not None and left == right
    left_number, right_number = as_number(actual), as_number(wanted)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return as_text(actual).casefold() == as_text(wanted).casefold()


def _contains(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list):
        return any(_contains(item, wanted) for item in actual)
    needle = as_text(wanted).casefold()
    return bool(needle) and needle in as_text(actual).casefold()


def _compare(actual: Any, wanted: Any, greater: bool) -> bool:
    left, right = as_number(actual), as_number(wanted)
    if left is None or right is None:
        return False  # not a number: a miss, not an error
    return left > right if greater else left < right


def filter_holds(flt: StepFilter, record: Mapping[str, Any] | None) -> tuple[bool, Any]:
    actual = path_get(record or {}, flt.field)
    values = flt.values if isinstance(flt.values, list) else [flt.values]
    op = flt.operator
    if op == StepFilter.Operator.EMPTY:
        return is_empty(actual), actual
    if op == StepFilter.Operator.NOT_EMPTY:
        return not is_empty(actual), actual
    if op == StepFilter.Operator.NOT_IN:
        return not any(value_matches(actual, v) for v in values), actual
    if op == StepFilter.Operator.GT:
        return any(_compare(actual, v, greater=True) for v in values), actual
    if op == StepFilter.Operator.LT:
        return any(_compare(actual, v, greater=False) for v in values), actual
    if op == StepFilter.Operator.CONTAINS:
        return any(_contains(actual, v) for v in values), actual
    return any(value_matches(actual, v) for v in values), actual


def shown_value(value: Any) -> str:
    """A value as the outcome shows it: 'open', 100, true, missing."""
    if value is MISSING:
        return "missing"
    if isinstance(value, str):
        return repr(value)
    return repr(value) if not isinstance(value, bool) else str(value).lower()


def filters_failure(step: IntegrationStep, record: Mapping[str, Any] | None) -> str:
    """Why the record fails the step's filters, or "" when every filter holds."""
    for flt in step.filters.all():
        holds, actual = filter_holds(flt, record)
        if not holds:
            values = ", ".join(as_text(v) for v in flt.values) if flt.values else ""
            listed = f" [{values}]" if flt.operator not in ("empty", "not_empty") else ""
            return (
                f"filter {flt.field} {flt.get_operator_display()}{listed} failed: "
                f"value was {shown_value(actual)}"
            )
    return ""


# --- reading mapped columns ---------------------------------------------------------------------

MAX_POINTS = Decimal("1000000000000")  # the ledger holds 14 digits, 2 after the point
MAX_TEXT = 2000
MAX_ID = 200


def column_id(record: Mapping[str, Any] | None, path: str, what: str) -> str:
    """An id at a path; "" when empty. A list, an object without an id or a boolean there is a
    clear error, not an id."""
    raw = unwrap_id(path_get(record or {}, path))
    if is_empty(raw):
        return ""
    if isinstance(raw, list | dict | bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise StepError(f"{what} column '{path}' holds {shown_value(raw)}, not an id")
    text = id_text(raw)
    if len(text) > MAX_ID:
        raise StepError(f"{what} column '{path}' holds an id of {len(text)} characters")
    return text


def column_text(record: Mapping[str, Any] | None, path: str, what: str) -> str:
    """Text at a path (names, emails, comments); "" when empty; an object or list is an error."""
    if not path:
        return ""
    raw = unwrap_id(path_get(record or {}, path))
    if isinstance(raw, list | dict):
        raise StepError(f"{what} column '{path}' holds {shown_value(raw)[:80]}, not text")
    return as_text(raw)[:MAX_TEXT]


# --- users step ---------------------------------------------------------------------------------


def users_step_apply(step: IntegrationStep, change: Change) -> StepOutcome:
    if change.action == "deleted" or change.current is None:
        return StepOutcome(step, change, "done", "user deleted in source: nothing to do")
    failure = filters_failure(step, change.current)
    if failure:
        return StepOutcome(step, change, "filtered", failure)
    raw_id = column_id(change.current, step.player_id or "id", "player id")
    if not raw_id:
        raise StepError(f"player id column '{step.player_id or 'id'}' is empty")
    external_id = f"{step.player_id_prefix}{raw_id}"
    name = column_text(change.current, step.player_name, "player name")[:200]
    email = column_text(change.current, step.player_email, "player email")
    if email and not _looks_like_email(email):
        email = ""  # an email we could not send to is no email
    upsert = player_upsert(external_id=external_id, name=name, email=email)
    batch = current_batch()
    if batch is not None:
        batch.players.pop(external_id, None)  # read afresh: name, email or status may differ
        if upsert.updated:
            batch.player_changed(upsert.player)
    label = f"{upsert.player.name} ({external_id})"
    if upsert.created:
        message = f"created offline player {label}"
    elif upsert.updated:
        message = f"updated player {label}"
    else:
        message = f"player {label} already up to date"
    return StepOutcome(step, change, "done", message, applied=True)


# --- points step --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsEvaluation:
    object_id: str
    desired: DesiredAward | NoAward
    notes: tuple[str, ...] = ()


def score_object_id(step: IntegrationStep, change: Change) -> str:
    found = ""
    if step.score_id and change.current is not None:
        found = column_id(change.current, step.score_id, "score id")
    found = found or change.object_id
    if len(found) > MAX_ID:
        raise StepError(f"score id holds an id of {len(found)} characters (at most {MAX_ID})")
    return found


def _points(step: IntegrationStep, record: Mapping[str, Any]) -> tuple[Decimal, Any]:
    """Points and point type (a PointType or None). Raises StepError with the column named."""
    series = step.series
    if series is None:
        raise StepError("no score series is set")
    if step.point_type:
        raw = path_get(record, step.point_type)
        name = as_text(raw)
        if not name:
            raise StepError(f"point type column '{step.point_type}' is empty")
        batch = current_batch()
        key = (series.pk, name.lower())
        if batch is not None and key in batch.point_types:
            point_type = batch.point_types[key]
        else:
            point_type = series.point_types.filter(name__iexact=name).first()
            if batch is not None and point_type is not None:
                batch.point_types[key] = point_type
        if point_type is None:
            known = ", ".join(series.point_types.values_list("name", flat=True)) or "none"
            raise StepError(
                f"point type column '{step.point_type}' holds '{name}', which is not a point "
                f"type of series '{series.name}' (known: {known})"
            )
        return point_type.points, point_type
    fixed = as_number(step.points)
    if fixed is not None:
        return points_round(_bounded(fixed, step.points)), None
    if not step.points:
        raise StepError("neither a points column nor a point type column is set")
    raw = path_get(record, step.points)
    number = as_number(raw)
    if number is None:
        shown = "empty" if is_empty(raw) else f"holds {shown_value(raw)}, not a number"
        raise StepError(f"points column '{step.points}' {shown}")
    return points_round(_bounded(number, step.points)), None


def _bounded(points: Decimal, column: str) -> Decimal:
    if abs(points) >= MAX_POINTS:
        raise StepError(f"points column '{column}' holds {points}, more than the ledger can hold")
    return points


def _tag_names(step: IntegrationStep, record: Mapping[str, Any]) -> list[str]:
    names: dict[str, str] = {}
    for column in step.tags or []:
        column = str(column).strip()
        if column.startswith("#"):
            text = column_text(record, column[1:], "tag")
            found = HASHTAG.findall(text)
        else:
            raw = path_get(record, column)
            items = raw if isinstance(raw, list) else [raw]
            if any(
                isinstance(item, list) or (isinstance(item, dict) and "id" not in item)
                for item in items
            ):
                raise StepError(f"tag column '{column}' holds {shown_value(raw)[:80]}, not tags")
            found = [as_text(item) for item in items if not is_empty(item)]
        for name in found:
            name = name.strip()[:100]
            if name:
                names.setdefault(name.lower(), name)
    return list(names.values())


def _player(step: IntegrationStep, record: Mapping[str, Any]) -> tuple[Player | None, str, str]:
    """(player or None, external id, note). Creates an offline player when name/email are mapped."""
    raw_id = column_id(record, step.player_id, "player id") if step.player_id else ""
    if not raw_id:
        return None, "", f"no player id in column '{step.player_id}'"
    external_id = f"{step.player_id_prefix}{raw_id}"
    batch = current_batch()
    if batch is not None and external_id in batch.players:
        return batch.players[external_id], external_id, ""
    identity = PlayerIdentity.objects.select_related("player").filter(external_id=external_id)
    found = identity.first()
    if found is not None:
        if batch is not None:
            batch.players[external_id] = found.player
        return found.player, external_id, ""
    if not (step.player_name or step.player_email):
        return None, external_id, f"unknown player {external_id}"
    name = column_text(record, step.player_name, "player name")[:200]
    email = column_text(record, step.player_email, "player email")
    if email and not _looks_like_email(email):
        email = ""
    player, created = player_create_with_identity(external_id=external_id, name=name, email=email)
    if batch is not None:
        batch.players[external_id] = player
    return (
        player,
        external_id,
        f"created offline player {player.name} ({external_id})" if created else "",
    )


def points_step_evaluate(step: IntegrationStep, change: Change) -> PointsEvaluation:
    """What the change's current record deserves under this step. Raises StepError."""
    object_id = score_object_id(step, change)
    record = change.current
    if change.action == "deleted" or record is None:
        return PointsEvaluation(object_id, NoAward("deleted in source"))
    failure = filters_failure(step, record)
    if failure:
        return PointsEvaluation(object_id, NoAward(failure))

    points, point_type = _points(step, record)
    point_time: datetime | None = None
    if step.point_time:
        raw_time = path_get(record, step.point_time)
        try:
            point_time = time_parse(raw_time)
        except ValueError:
            raise StepError(
                f"point time column '{step.point_time}' holds {shown_value(raw_time)}, "
                "not a date/time"
            ) from None
    # Tags and comment are read before the player, who may be created (a write): a problem
    # with them is raised where it always was, but only after nothing else can fail.
    problem: StepError | None = None
    try:
        names = _tag_names(step, record)
        comment = column_text(record, step.comment, "comment")
    except StepError as exc:
        names, comment, problem = [], "", exc
    player, external_id, note = _player(step, record)
    if player is None:
        return PointsEvaluation(object_id, NoAward(note, moves_version=False))
    notes = [note] if note else []
    if player.status == Player.Status.ARCHIVED:
        reason = f"archived player {player.name} ({external_id}) receives no new points"
        return PointsEvaluation(object_id, NoAward(reason, keep_player_id=player.pk))
    if points == 0:
        return PointsEvaluation(object_id, NoAward("zero points: no award"), tuple(notes))
    if problem is not None:
        if note and current_batch() is not None:
            # The player was just created, and a batch has no savepoint to undo that.
            raise BatchFallback from problem
        raise problem
    if names and not step.create_tags:
        existing = set(
            Tag.objects.annotate(lowered=Lower("name"))
            .filter(lowered__in=[n.lower() for n in names])
            .values_list("lowered", flat=True)
        )
        missing = [n for n in names if n.lower() not in existing]
        if missing:
            notes.append("tags not found, left out: " + ", ".join(missing))
            names = [n for n in names if n.lower() in existing]
    desired = DesiredAward(
        player=player,
        external_id=external_id,
        points=points,
        point_type=point_type,
        tag_names=tuple(names),
        comment=comment,
        point_time=point_time,
    )
    return PointsEvaluation(object_id, desired, tuple(notes))


def _looks_like_email(text: str) -> bool:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(text)
    except ValidationError:
        return False
    return len(text) <= 254
