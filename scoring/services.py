"""Writes of the scoring app: booking the ledger and reconciling awards with what a source says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from players.models import Player

from .batch import current_batch, tags_of
from .models import AwardState, DailyTotal, MonthlyTotal, PointType, ScoreSeries, Tag, Transaction

if TYPE_CHECKING:
    from integrations.models import IntegrationStep, WebhookEvent


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


def tags_get_or_create(names: tuple[str, ...]) -> list[Tag]:
    batch = current_batch()
    tags = []
    for name in names:
        if batch is not None and name.lower() in batch.tags:
            tags.append(batch.tags[name.lower()])
            continue
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():  # savepoint: another worker may create it first
                    tag = Tag.objects.create(name=name)
            except IntegrityError:
                tag = Tag.objects.get(name__iexact=name)
        if batch is not None:
            batch.tags[name.lower()] = tag
        tags.append(tag)
    return tags


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
    step: IntegrationStep | None = None,
    source_object: str = "",
    event: WebhookEvent | None = None,
    revokes: Transaction | None = None,
) -> Transaction:
    fields = dict(
        player=player,
        series=series,
        points=points,
        point_type=point_type,
        comment=comment,
        point_time=point_time,
        kind=kind,
        step=step,
        source_object=source_object,
        event=event,
        revokes=revokes,
    )
    batch = current_batch()
    if batch is not None:  # written with the rest of the batch, by BookingBatch.flush()
        row = Transaction(pk=batch.next_id(), created_at=timezone.now(), **fields)
        batch.rows.append(row)
        batch.row_tags[row.pk] = list(tags or [])
        batch.totals.append((series.pk, player.pk, point_time, points))
        return row
    row = Transaction.objects.create(**fields)
    if tags:
        row.tags.set(tags)
    totals_add([(series.pk, player.pk, point_time, points)])
    return row


def totals_add(rows: list[tuple[int, int, datetime, Decimal]]) -> None:
    """Add ledger rows (series id, player id, point time, points) to the maintained totals of
    (series, day, player) and (series, month, player), in the caller's transaction: one upsert
    per table for all of them.

    Keys go in sorted order, days before months, so two workers adding to the same totals wait
    for each other instead of deadlocking."""
    days: dict[tuple[int, date, int], Decimal] = {}
    months: dict[tuple[int, date, int], Decimal] = {}
    for series_id, player_id, point_time, points in rows:
        day = timezone.localtime(point_time).date()
        key = (series_id, day, player_id)
        days[key] = days.get(key, Decimal(0)) + points
        key = (series_id, day.replace(day=1), player_id)
        months[key] = months.get(key, Decimal(0)) + points
    _totals_upsert(DailyTotal._meta.db_table, "day", days)
    _totals_upsert(MonthlyTotal._meta.db_table, "month", months)


def _totals_upsert(db_table: str, period: str, sums: dict[tuple[int, date, int], Decimal]) -> None:
    if not sums:
        return
    table = connection.ops.quote_name(db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(sums))
    params: list[Any] = []
    for (series_id, start, player_id), points in sorted(sums.items()):
        params += [series_id, start, player_id, points]
    with connection.cursor() as cursor:
        cursor.execute(  # table and column names are ours; every value is a parameter
            f"INSERT INTO {table} (series_id, {period}, player_id, points) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (series_id, {period}, player_id) DO UPDATE "
            f"SET points = {table}.points + EXCLUDED.points",
            params,
        )


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


def transaction_revoke(*, original: Transaction, event: WebhookEvent | None = None) -> Transaction:
    """A new row of the opposite sign, with the original's point time and tags."""
    return transaction_book(
        player=original.player,
        series=original.series,
        points=-original.points,
        point_time=original.point_time,
        kind=Transaction.Kind.REVOKE,
        point_type=original.point_type,
        comment=original.comment,
        tags=tags_of(original),
        step=original.step,
        source_object=original.source_object,
        event=event,
        revokes=original,
    )


def award_state_lock(*, step: IntegrationStep | None, object_id: str) -> AwardState:
    """The row that serialises all work for one object of one step. Caller holds a transaction.
    In a batch, the row locked before (award_states_lock) is taken as it is now."""
    batch = current_batch()
    if batch is not None:
        key = (step.pk if step else None, object_id)
        if key not in batch.states:
            award_states_lock(keys=[key])
        return batch.states[key]
    # Insert-if-missing first, so two workers meeting a new object both end up locking one row.
    AwardState.objects.bulk_create(
        [AwardState(step=step, object_id=object_id)], ignore_conflicts=True
    )
    # No select_related here: when the lock had to wait, PostgreSQL re-reads the locked row but
    # not the joined ones, so a joined award could be stale (None while transaction_id is set).
    # The active award is read after the lock, from the row as it is now.
    state = AwardState.objects.select_for_update().get(step=step, object_id=object_id)
    if state.transaction_id is not None:
        state.transaction = Transaction.objects.select_related("player", "point_type").get(
            pk=state.transaction_id
        )
    return state


def award_states_lock(*, keys: list[tuple[int | None, str]]) -> None:
    """Lock the award states of many (step id, object id) pairs, creating the missing ones, in
    one sorted order (two batches wait for each other instead of deadlocking); keep them and
    their active awards in the batch."""
    batch = current_batch()
    if batch is None:
        raise RuntimeError("award_states_lock needs a booking batch")
    keys = sorted(set(keys) - batch.states.keys(), key=lambda k: (k[0] or 0, k[1]))
    if not keys:
        return
    AwardState.objects.bulk_create(
        [AwardState(step_id=step_id, object_id=object_id) for step_id, object_id in keys],
        ignore_conflicts=True,
    )
    wanted = set(keys)
    query = Q()
    for step_id in {k[0] for k in keys}:
        query |= Q(step_id=step_id, object_id__in=[k[1] for k in keys if k[0] == step_id])
    locked = AwardState.objects.select_for_update().filter(query).order_by("step_id", "object_id")
    states = [s for s in locked if (s.step_id, s.object_id) in wanted]
    awarded = [s.transaction_id for s in states if s.transaction_id]
    active = {
        t.pk: t
        for t in Transaction.objects.filter(pk__in=awarded)
        .select_related("player", "point_type", "series", "step")
        .prefetch_related("tags")
    }
    for state in states:
        if state.transaction_id is not None:
            state.transaction = active[state.transaction_id]
            batch.row_tags[state.transaction_id] = list(state.transaction.tags.all())
        batch.states[(state.step_id, state.object_id)] = state


def _state_save(state: AwardState) -> None:
    batch = current_batch()
    if batch is None:
        state.save()
        return
    state.updated_at = timezone.now()
    batch.dirty_states[state.pk] = state


def _differs(
    active: Transaction, desired: DesiredAward, point_time: datetime, *, time: bool
) -> bool:
    active_tags = sorted(t.name.lower() for t in tags_of(active))
    return (
        active.player_id != desired.player.pk
        or active.points != desired.points
        or active.point_type_id != (desired.point_type.pk if desired.point_type else None)
        or active_tags != sorted(n.lower() for n in desired.tag_names)
        or (time and active.point_time != point_time)
    )


def award_reconcile(
    *,
    step: IntegrationStep,
    object_id: str,
    source_object: str,
    desired: DesiredAward | NoAward,
    version: datetime | None,
    default_time: datetime,
    event: WebhookEvent | None,
) -> ReconcileResult:
    """Compare what the source says with what is booked for this object; book the difference.

    Runs under the award state's row lock. Reconciling the same input twice books nothing the
    second time.
    """
    from integrations.models import IntegrationStep

    state = award_state_lock(step=step, object_id=object_id)
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
    revoking = step.revoke != IntegrationStep.Revoke.NEVER
    first_time = state.first_point_time or default_time

    if isinstance(desired, NoAward):
        keep = active is not None and active.player_id == desired.keep_player_id
        if active is not None and revoking and not keep:
            revoke = transaction_revoke(original=active, event=event)
            result.booked.append(revoke)
            state.transaction = None
            result.message = (
                f"revoked #{active.pk} ({points_text(revoke.points)}): {desired.reason}"
            )
        else:
            result.message = desired.reason
    else:
        point_time = desired.point_time or first_time
        time_counts = step.revoke == IntegrationStep.Revoke.ON_CHANGE_OR_TIME
        if active is not None and (
            not revoking or not _differs(active, desired, point_time, time=time_counts)
        ):
            why = "" if revoking else "; revoke setting: do not revoke"
            result.message = (
                f"already booked #{active.pk} ({points_text(active.points)} to "
                f"{active.player.name}){why}: nothing new"
            )
        else:
            parts = []
            if active is not None:
                revoke = transaction_revoke(original=active, event=event)
                result.booked.append(revoke)
                parts.append(f"revoked #{active.pk} ({points_text(revoke.points)})")
            award = transaction_book(
                player=desired.player,
                series=step.series,  # type: ignore[arg-type]  # points steps always have one
                points=desired.points,
                point_time=point_time,
                point_type=desired.point_type,
                comment=desired.comment,
                tags=tags_get_or_create(desired.tag_names),
                step=step,
                source_object=source_object,
                event=event,
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
    _state_save(state)
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
    with transaction.atomic():
        tags = tags_get_or_create(tag_names)
        when = point_time or timezone.now()
        if not source_score_id:
            row = transaction_book(
                player=player, series=series, points=points, point_time=when,
                point_type=point_type, comment=comment, tags=tags,
            )  # fmt: skip
            return ScoreResult("booked", [row], row)
        object_id = f"api:{source_score_id}"
        state = award_state_lock(step=None, object_id=object_id)
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
            booked.append(transaction_revoke(original=active))
        row = transaction_book(
            player=player, series=series, points=points, point_time=when,
            point_type=point_type, comment=comment, tags=tags, source_object=object_id,
        )  # fmt: skip
        booked.append(row)
        state.transaction = row
        state.first_point_time = state.first_point_time or point_time
        state.save()
        return ScoreResult("rebooked" if active else "booked", booked, row)
