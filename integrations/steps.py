"""Evaluating one step against one change (DESIGN §4): filters, player, points, tags, time.

Evaluation is pure: it reads (players and point types through the unit of work's lookups) and
says what should happen, the award or none with the reason, and the player to create or update;
it never writes. The apply step makes it happen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.db.models.functions import Lower

from players.models import Player
from scoring.models import PointType, ScoreSeries, Tag
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


class Lookups(Protocol):
    """What evaluation reads besides the change: a unit of work (scoring.booking) answers, from
    what a batch has read already or from the database."""

    def player(self, external_id: str) -> Player | None: ...

    def point_type(self, series: ScoreSeries, name: str) -> PointType | None: ...


@dataclass(frozen=True)
class PlayerWanted:
    """An offline player a step wants: created when missing (and, by a users step, updated)."""

    external_id: str
    name: str
    email: str


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


def step_listens(step: IntegrationStep, change: Change) -> bool:
    """The step runs for this change: its source type, and its event type (blank: any)."""
    return step.source_type.strip().lower() == change.object_type and (
        not step.event_type or step.event_type == change.action
    )


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


@dataclass(frozen=True)
class UsersEvaluation:
    """What a users step wants: the player upserted, or nothing (`result`, `message` say why)."""

    upsert: PlayerWanted | None
    result: str = ""  # done | filtered, when there is nothing to upsert
    message: str = ""


def users_step_evaluate(step: IntegrationStep, change: Change) -> UsersEvaluation:
    """The player the change's user record stands for. Raises StepError."""
    if change.action == "deleted" or change.current is None:
        return UsersEvaluation(None, "done", "user deleted in source: nothing to do")
    failure = filters_failure(step, change.current)
    if failure:
        return UsersEvaluation(None, "filtered", failure)
    raw_id = column_id(change.current, step.player_id or "id", "player id")
    if not raw_id:
        raise StepError(f"player id column '{step.player_id or 'id'}' is empty")
    external_id = f"{step.player_id_prefix}{raw_id}"
    name = column_text(change.current, step.player_name, "player name")[:200]
    email = column_text(change.current, step.player_email, "player email")
    if email and not _looks_like_email(email):
        email = ""  # an email we could not send to is no email
    return UsersEvaluation(PlayerWanted(external_id, name, email))


# --- points step --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsEvaluation:
    """What the change deserves under a points step. With `new_player`, the award's player does
    not exist yet: create them first (`desired.player` is the unsaved player they will be)."""

    object_id: str
    desired: DesiredAward | NoAward
    notes: tuple[str, ...] = ()
    new_player: PlayerWanted | None = None


def score_object_id(step: IntegrationStep, change: Change) -> str:
    found = ""
    if step.score_id and change.current is not None:
        found = column_id(change.current, step.score_id, "score id")
    found = found or change.object_id
    if len(found) > MAX_ID:
        raise StepError(f"score id holds an id of {len(found)} characters (at most {MAX_ID})")
    return found


def _points(
    step: IntegrationStep, record: Mapping[str, Any], lookups: Lookups
) -> tuple[Decimal, PointType | None]:
    """Points and point type (a PointType or None). Raises StepError with the column named."""
    series = step.series
    if series is None:
        raise StepError("no score series is set")
    if step.point_type:
        raw = path_get(record, step.point_type)
        name = as_text(raw)
        if not name:
            raise StepError(f"point type column '{step.point_type}' is empty")
        point_type = lookups.point_type(series, name)
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


def _player(
    step: IntegrationStep, record: Mapping[str, Any], lookups: Lookups
) -> tuple[Player | None, str, str, PlayerWanted | None]:
    """(player or None, external id, why none, the offline player to create when name/email
    are mapped). A player to create comes as an unsaved Player."""
    raw_id = column_id(record, step.player_id, "player id") if step.player_id else ""
    if not raw_id:
        return None, "", f"no player id in column '{step.player_id}'", None
    external_id = f"{step.player_id_prefix}{raw_id}"
    player = lookups.player(external_id)
    if player is not None:
        return player, external_id, "", None
    if not (step.player_name or step.player_email):
        return None, external_id, f"unknown player {external_id}", None
    name = column_text(record, step.player_name, "player name")[:200]
    email = column_text(record, step.player_email, "player email")
    if email and not _looks_like_email(email):
        email = ""
    wanted = PlayerWanted(external_id, name, email)
    return Player(name=name or external_id, email=email), external_id, "", wanted


def points_step_evaluate(
    step: IntegrationStep, change: Change, *, lookups: Lookups
) -> PointsEvaluation:
    """What the change's current record deserves under this step. Raises StepError."""
    object_id = score_object_id(step, change)
    record = change.current
    if change.action == "deleted" or record is None:
        return PointsEvaluation(object_id, NoAward("deleted in source"))
    failure = filters_failure(step, record)
    if failure:
        return PointsEvaluation(object_id, NoAward(failure))

    points, point_type = _points(step, record, lookups)
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
    # A problem with the tags or the comment counts only after the player's (an unknown player,
    # an archived one, zero points are verdicts, not errors).
    problem: StepError | None = None
    try:
        names = _tag_names(step, record)
        comment = column_text(record, step.comment, "comment")
    except StepError as exc:
        names, comment, problem = [], "", exc
    player, external_id, why, new_player = _player(step, record, lookups)
    if player is None:
        return PointsEvaluation(object_id, NoAward(why, moves_version=False))
    if player.status == Player.Status.ARCHIVED:
        reason = f"archived player {player.name} ({external_id}) receives no new points"
        return PointsEvaluation(object_id, NoAward(reason, keep_player_id=player.pk))
    if points == 0:
        return PointsEvaluation(object_id, NoAward("zero points: no award"), (), new_player)
    if problem is not None:
        raise problem
    notes: list[str] = []
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
    return PointsEvaluation(object_id, desired, tuple(notes), new_player)


def _looks_like_email(text: str) -> bool:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(text)
    except ValidationError:
        return False
    return len(text) <= 254
