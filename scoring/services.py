"""Writes of the scoring app: booking the ledger and reconciling awards with what a source says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from players.models import Player

from .booking import Booking
from .models import (
    DailyTotal,
    MonthlyTotal,
    PointType,
    RevokePolicy,
    ScoreSeries,
    Tag,
    Team,
    Transaction,
)


def points_text(points: Decimal) -> str:
    """`+100`, `-2786.08`: as admins read points in outcomes."""
    if points == points.to_integral_value():
        return f"{int(points):+d}"
    return f"{points:+.2f}"


def player_label(player: Player, external_id: str = "") -> str:
    return f"{player.name} ({external_id})" if external_id else player.name


@dataclass(frozen=True)
class DesiredAward:
    """What the source's current record deserves."""

    player: Player
    external_id: str
    points: Decimal
    point_type: PointType | None
    tag_names: tuple[str, ...]
    comment: str
    point_time: datetime | None  # from the point time column; None = the object's default


@dataclass(frozen=True)
class NoAward:
    """The record deserves nothing now (filter miss, deletion, zero points, unknown player)."""

    reason: str
    moves_version: bool = True  # False for an unknown player: a later users import may fix it
    keep_player_id: int | None = None  # an archived player keeps what they already have


@dataclass
class ReconcileResult:
    booked: list[Transaction] = field(default_factory=list)
    message: str = ""
    stale: bool = False


def tags_get_or_create(names: tuple[str, ...], *, booking: Booking | None = None) -> list[Tag]:
    return (booking or Booking()).tags(names)


def transaction_book(
    *,
    player: Player,
    series: ScoreSeries,
    points: Decimal,
    point_time: datetime,
    kind: str = Transaction.Kind.AWARD,
    point_type: PointType | None = None,
    comment: str = "",
    tags: list[Tag] | None = None,
    step_id: int | None = None,
    source_object: str = "",
    event_id: int | None = None,
    revokes: Transaction | None = None,
    derived_from: Transaction | None = None,
    booking: Booking | None = None,
) -> Transaction:
    """Append a row to the ledger (and its points to the totals), through the unit of work:
    written now, or with the rest of a batch. `step_id`, `event_id`: its provenance;
    `derived_from`: the row of a linked series it stands for in a master series."""
    row = Transaction(
        player=player,
        series=series,
        points=points,
        point_type=point_type,
        comment=comment,
        point_time=point_time,
        kind=kind,
        step_id=step_id,
        source_object=source_object,
        event_id=event_id,
        revokes=revokes,
        derived_from=derived_from,
    )
    if booking is not None:
        return booking.ledger_add(row, list(tags or []))
    booking = Booking()  # a row on its own: written, and its target competitions checked, now
    booking.ledger_add(row, list(tags or []))
    booking.flush()
    return row


def totals_rebuild() -> int:
    """Recompute every daily total from the ledger and every monthly total from the daily ones
    (after a TIME_ZONE change, or bulk loads). Returns the number of daily totals."""
    from itertools import islice

    from django.db.models import Sum
    from django.db.models.functions import TruncDate, TruncMonth

    with transaction.atomic():
        DailyTotal.objects.all().delete()
        MonthlyTotal.objects.all().delete()
        # Written day by day, as booking writes them: a range of days is then a run of pages
        # (and the planner can tell), not rows scattered over the whole table.
        day_sums = (
            Transaction.objects.annotate(
                day=TruncDate("point_time", tzinfo=timezone.get_current_timezone())
            )
            .values("series_id", "day", "player_id")
            .annotate(points=Sum("points"))
            .order_by("day", "series_id", "player_id")
        )
        days = (DailyTotal(series_id=r["series_id"], day=r["day"], player_id=r["player_id"],
                           points=r["points"])
                for r in day_sums.iterator(chunk_size=5000))  # fmt: skip
        count = 0
        while batch := list(islice(days, 5000)):  # a big ledger's totals need not fit in memory
            DailyTotal.objects.bulk_create(batch)
            count += len(batch)
        month_sums = (
            DailyTotal.objects.annotate(month=TruncMonth("day"))
            .values("series_id", "month", "player_id")
            .annotate(points=Sum("points"))
            .order_by("month", "series_id", "player_id")
        )
        months = (MonthlyTotal(series_id=r["series_id"], month=r["month"],
                               player_id=r["player_id"], points=r["points"])
                  for r in month_sums.iterator(chunk_size=5000))  # fmt: skip
        while month_batch := list(islice(months, 5000)):
            MonthlyTotal.objects.bulk_create(month_batch)
    return count


def transaction_revoke(
    *, original: Transaction, event_id: int | None = None, booking: Booking | None = None
) -> Transaction:
    """A new row of the opposite sign, with the original's point time and tags."""
    if booking is None:
        booking = Booking()
        revoke = transaction_revoke(original=original, event_id=event_id, booking=booking)
        booking.flush()
        return revoke
    return transaction_book(
        player=original.player,
        series=original.series,
        points=-original.points,
        point_time=original.point_time,
        kind=Transaction.Kind.REVOKE,
        point_type=original.point_type,
        comment=original.comment,
        tags=booking.tags_of(original),
        step_id=original.step_id,
        source_object=original.source_object,
        event_id=event_id,
        revokes=original,
        booking=booking,
    )


def _differs(
    active: Transaction,
    desired: DesiredAward,
    point_time: datetime,
    *,
    time: bool,
    booking: Booking,
) -> bool:
    active_tags = sorted(t.name.lower() for t in booking.tags_of(active))
    return (
        active.player_id != desired.player.pk
        or active.points != desired.points
        or active.point_type_id != (desired.point_type.pk if desired.point_type else None)
        or active_tags != sorted(n.lower() for n in desired.tag_names)
        or (time and active.point_time != point_time)
    )


def award_reconcile(
    *,
    booking: Booking,
    step_id: int,
    series: ScoreSeries | None,
    revoke: RevokePolicy,
    object_id: str,
    source_object: str,
    desired: DesiredAward | NoAward,
    version: datetime | None,
    default_time: datetime,
    event_id: int | None,
) -> ReconcileResult:
    """Compare what the source says with what is booked for this object; book the difference.

    Runs under the award state's row lock. Reconciling the same input twice books nothing the
    second time. The points step (`step_id`) and the delivery (`event_id`) are provenance, kept
    with the state and the ledger; what the step decides comes as values: its series and its
    revoke policy.
    """
    state = booking.award_state(step_id=step_id, object_id=object_id)
    if (
        version is not None
        and state.applied_version is not None
        and version < state.applied_version
    ):
        return ReconcileResult(
            stale=True,
            message=f"stale: version {_short(version)} < applied {_short(state.applied_version)}",
        )

    result = ReconcileResult()
    active = state.transaction
    revoking = revoke != RevokePolicy.NEVER
    first_time = state.first_point_time or default_time

    if isinstance(desired, NoAward):
        keep = active is not None and active.player_id == desired.keep_player_id
        if active is not None and revoking and not keep:
            revoked = transaction_revoke(original=active, event_id=event_id, booking=booking)
            result.booked.append(revoked)
            state.transaction = None
            result.message = (
                f"revoked #{active.pk} ({points_text(revoked.points)}): {desired.reason}"
            )
        else:
            result.message = desired.reason
    else:
        point_time = desired.point_time or first_time
        time_counts = revoke == RevokePolicy.ON_CHANGE_OR_TIME
        if active is not None and (
            not revoking
            or not _differs(active, desired, point_time, time=time_counts, booking=booking)
        ):
            why = "" if revoking else "; revoke setting: do not revoke"
            result.message = (
                f"already booked #{active.pk} ({points_text(active.points)} to "
                f"{active.player.name}){why}: nothing new"
            )
        else:
            parts = []
            if active is not None:
                revoked = transaction_revoke(original=active, event_id=event_id, booking=booking)
                result.booked.append(revoked)
                parts.append(f"revoked #{active.pk} ({points_text(revoked.points)})")
            award = transaction_book(
                player=desired.player,
                series=series,  # type: ignore[arg-type]  # points steps always have one
                points=desired.points,
                point_time=point_time,
                point_type=desired.point_type,
                comment=desired.comment,
                tags=booking.tags(desired.tag_names),
                step_id=step_id,
                source_object=source_object,
                event_id=event_id,
                booking=booking,
            )
            result.booked.append(award)
            state.transaction = award
            state.first_point_time = first_time
            parts.append(
                f"booked {points_text(award.points)} to "
                f"{player_label(desired.player, desired.external_id)}"
            )
            result.message = ", ".join(parts)

    # An unknown player's change moves the version only when it revoked something: then it did
    # change the state, and an older change arriving later must be stale (DESIGN §9).
    moves = not isinstance(desired, NoAward) or desired.moves_version or bool(result.booked)
    if (
        moves
        and version is not None
        and (state.applied_version is None or version > state.applied_version)
    ):
        state.applied_version = version
    booking.award_state_save(state)
    return result


def _short(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class ScoreResult:
    result: str  # "booked", "unchanged" or "rebooked"
    booked: list[Transaction] = field(default_factory=list)
    active: Transaction | None = None


def score_add(
    *,
    player: Player,
    series: ScoreSeries,
    points: Decimal,
    point_time: datetime | None,
    point_type: PointType | None = None,
    comment: str = "",
    tag_names: tuple[str, ...] = (),
    source_score_id: str = "",
) -> ScoreResult:
    """Add score, the Custom integration (DESIGN §6, §9). With a source_score_id (site-wide) the
    same id again revokes the previous transaction and books the new one, and an identical
    repeat (player, series, points, point type, tags, comment, score time) books nothing. Without
    a score time a score counts from now; a repeat without one keeps the time it has."""
    booking = Booking()
    with transaction.atomic():
        tags = booking.tags(tag_names)
        when = point_time or timezone.now()
        if not source_score_id:
            row = transaction_book(
                player=player, series=series, points=points, point_time=when,
                point_type=point_type, comment=comment, tags=tags, booking=booking,
            )  # fmt: skip
            booking.flush()
            return ScoreResult("booked", [row], row)
        object_id = f"api:{source_score_id}"
        state = booking.award_state(step_id=None, object_id=object_id)
        active = state.transaction
        if active is not None and (
            active.player_id == player.pk
            and active.series_id == series.pk
            and active.points == points
            and active.point_type_id == (point_type.pk if point_type else None)
            and sorted(t.name.lower() for t in active.tags.all())
            == sorted(t.name.lower() for t in tags)
            and active.comment == comment
            and (point_time is None or active.point_time == point_time)
        ):
            return ScoreResult("unchanged", [], active)
        booked = []
        if active is not None:
            booked.append(transaction_revoke(original=active, booking=booking))
        row = transaction_book(
            player=player, series=series, points=points, point_time=when,
            point_type=point_type, comment=comment, tags=tags, source_object=object_id,
            booking=booking,
        )  # fmt: skip
        booked.append(row)
        state.transaction = row
        state.first_point_time = state.first_point_time or point_time
        booking.award_state_save(state)
        booking.flush()
        return ScoreResult("rebooked" if active else "booked", booked, row)


def team_points_add(
    *,
    team: Team,
    series: ScoreSeries,
    points: Decimal,
    point_time: datetime | None = None,
    comment: str = "",
    tag_names: tuple[str, ...] = (),
) -> list[Transaction]:
    """Add points to a team: the same points to every member who can receive them (archived
    players cannot), one manual transaction each, every one revocable on its own
    (`transaction_cancel`). Raises ValidationError when nobody would get them."""
    if not points:
        raise ValidationError({"points": "points must not be 0"})
    booking = Booking()
    with transaction.atomic():
        members = list(team.members.exclude(status=Player.Status.ARCHIVED).order_by("pk"))
        if not members:
            raise ValidationError({"team": f"team {team.name!r} has no members to add points to"})
        tags = booking.tags(tag_names)
        when = point_time or timezone.now()
        rows = []
        for member in members:
            rows.append(transaction_book(
                player=member, series=series, points=points, point_time=when,
                kind=Transaction.Kind.MANUAL, comment=comment or f"team {team.name}", tags=tags,
                source_object=f"team:{team.pk}", booking=booking,
            ))  # fmt: skip
        booking.flush()
    return rows


def transaction_cancel(*, transaction_id: int) -> Transaction:
    """Revoke a manual row (points an admin added, to a player or a team). Rows that reconcile
    books are revoked by reconcile, and a master's derived rows by their own rows' revokes, so
    only manual rows are cancelled by hand. Raises ValidationError saying why not."""
    booking = Booking()
    with transaction.atomic():
        row = (
            Transaction.objects.select_for_update(of=("self",))
            .select_related("player", "series", "point_type")
            .filter(pk=transaction_id)
            .first()
        )
        if row is None:
            raise ValidationError({"transaction": f"no transaction #{transaction_id}"})
        if row.kind != Transaction.Kind.MANUAL or row.derived_from_id is not None:
            raise ValidationError(
                {"transaction": f"#{row.pk} is a {row.kind} row booked by "
                 f"{'its master link' if row.derived_from_id else 'reconcile'}: only manual rows "
                 "are revoked by hand"}
            )  # fmt: skip
        if Transaction.objects.filter(revokes=row).exists():
            raise ValidationError({"transaction": f"#{row.pk} is revoked already"})
        revoke = transaction_revoke(original=row, booking=booking)
        booking.flush()
    return revoke
