"""The unit of work of booking: how reconcile reaches the database.

A `Booking` is passed to everything that books (reconcile, the ledger, award states) and to the
evaluation that reads players and point types on the way. It writes at once and reads afresh,
with a savepoint around each step: one event, one pull page or one API score at a time.

A `BatchBooking` serves many events in one transaction: it keeps what it read (award states
locked up front in one sorted order, tags, players, point types) and holds back what it writes
(ledger rows, their tags, totals, award states) until `flush()` writes each kind with one
statement. Ledger ids are taken from the table's sequence in blocks, so a row has its id (for
outcomes and revokes) before it is written. PostgreSQL only (the sequence, UPDATE ... FROM).

Neither decides anything: the same services make the same decisions through either, so a batch
books exactly what one event at a time would.

Both book, with every ledger row of a series linked to a master series, its derived row in the
master (points x factor, rounded half-up to 2 places; the derived row of a revoke cancels the
derived row of what it revokes), and both, when they flush, end the first-to-target
competitions that the series they booked in have brought to their target: one query when none
is running.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from players.models import Player
from players.selectors import player_by_external_id
from players.services import PlayerUpsert, player_create_with_identity, player_upsert

from .competitions import competitions_target_check
from .models import AwardState, DailyTotal, MonthlyTotal, PointType, ScoreSeries, Tag, Transaction
from .standings import Booked

CENT = Decimal("0.01")

# A key of an award state: (points step id, or None for API scores; source object id).
StateKey = tuple[int | None, str]


class Booking:
    """Writes at once and reads afresh; each step in a savepoint of its own."""

    # A step that fails after it wrote something is undone alone, and the others go on.
    savepoints = True

    def __init__(self) -> None:
        # The rows booked since the last flush, in order: the first-to-target competitions on
        # their series are checked then.
        self.booked: list[Booked] = []

    def step_savepoint(self) -> AbstractContextManager[Any]:
        return transaction.atomic() if self.savepoints else nullcontext()

    # --- lookups ---------------------------------------------------------------------------------

    def player(self, external_id: str) -> Player | None:
        return player_by_external_id(external_id)

    def point_type(self, series: ScoreSeries, name: str) -> PointType | None:
        """The series' point type of this name, matched case-insensitively."""
        return series.point_types.filter(name__iexact=name).first()

    def tags_of(self, row: Transaction) -> list[Tag]:
        return list(row.tags.all())

    # --- players -------------------------------------------------------------------------------

    def player_create(self, *, external_id: str, name: str, email: str) -> tuple[Player, bool]:
        return player_create_with_identity(external_id=external_id, name=name, email=email)

    def player_upsert(self, *, external_id: str, name: str, email: str) -> PlayerUpsert:
        return player_upsert(external_id=external_id, name=name, email=email)

    # --- tags ----------------------------------------------------------------------------------

    def tags(self, names: tuple[str, ...]) -> list[Tag]:
        """The tags of these names, created where missing."""
        return [self._tag(name) for name in names]

    def _tag(self, name: str) -> Tag:
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():  # savepoint: another worker may create it first
                    tag = Tag.objects.create(name=name)
            except IntegrityError:
                tag = Tag.objects.get(name__iexact=name)
        return tag

    # --- award states --------------------------------------------------------------------------

    def award_states_lock(self, *, keys: list[StateKey]) -> None:
        """Nothing up front: each step locks its own state, inside its savepoint."""

    def award_state(self, *, step_id: int | None, object_id: str) -> AwardState:
        """The row that serialises all work for one object of one step, locked, with its active
        award. Caller holds a transaction."""
        # Insert-if-missing first, so two workers meeting a new object both lock one row.
        AwardState.objects.bulk_create(
            [AwardState(step_id=step_id, object_id=object_id)], ignore_conflicts=True
        )
        # No select_related here: when the lock had to wait, PostgreSQL re-reads the locked row
        # but not the joined ones, so a joined award could be stale (None while transaction_id
        # is set). The active award is read after the lock, from the row as it is now.
        state = AwardState.objects.select_for_update().get(step_id=step_id, object_id=object_id)
        if state.transaction_id is not None:
            state.transaction = Transaction.objects.select_related("player", "point_type").get(
                pk=state.transaction_id
            )
        return state

    def award_state_save(self, state: AwardState) -> None:
        state.save()

    # --- the ledger ----------------------------------------------------------------------------

    def ledger_add(self, row: Transaction, tags: list[Tag]) -> Transaction:
        """Write a new ledger row with its tags, and its derived row in the master series if its
        series has one, and add them to the totals."""
        rows = [row]
        row.save(force_insert=True)
        derived = derived_row(row, self.derived_of(row.revokes) if row.revokes else None)
        if derived is not None:
            derived.save(force_insert=True)
            rows.append(derived)
        for written in rows:
            if tags:
                written.tags.set(tags)
            self.booked.append(booked(written, tags))
        totals_add([(r.series_id, r.player_id, r.point_time, r.points) for r in rows])
        return row

    def derived_of(self, original: Transaction) -> Transaction | None:
        """The derived row that stands for `original` in its master series now (none when its
        series has no master, or had none when it was booked)."""
        if original.series.master_id is None:
            return None
        return derived_active(original.pk).first()

    def flush(self) -> None:
        """Nothing is held back; end the target competitions the booked rows have decided."""
        if self.booked:
            booked, self.booked = self.booked, []
            competitions_target_check(booked=booked)


ID_BLOCK = 256


class BatchBooking(Booking):
    """Reads once and writes with a statement per kind at `flush()`; no savepoints.

    Without a savepoint a step that fails after it wrote cannot be undone alone: its error
    propagates, and the caller processes the batch's events one at a time instead."""

    savepoints = False

    def __init__(self) -> None:
        super().__init__()
        # Read once, kept for the batch.
        self.states: dict[StateKey, AwardState] = {}
        self.tags_by_name: dict[str, Tag] = {}  # by lower-case name
        self.players: dict[str, Player] = {}  # by external id
        self.point_types: dict[tuple[int, str], PointType] = {}  # by series, lower-case name
        # Held back until flush().
        self.rows: list[Transaction] = []
        self.row_tags: dict[int, list[Tag]] = {}  # by ledger id, written or not
        self.totals: list[tuple[int, int, datetime, Decimal]] = []
        self.dirty_states: dict[int, AwardState] = {}
        self.ids: list[int] = []
        # The derived row standing for a ledger row (by its id) in its master series: read with
        # the active awards, or booked in this batch.
        self.derived: dict[int, Transaction | None] = {}

    def player(self, external_id: str) -> Player | None:
        if external_id not in self.players:
            player = super().player(external_id)
            if player is None:
                return None
            self.players[external_id] = player
        return self.players[external_id]

    def point_type(self, series: ScoreSeries, name: str) -> PointType | None:
        key = (series.pk, name.lower())
        if key not in self.point_types:
            point_type = super().point_type(series, name)
            if point_type is None:
                return None
            self.point_types[key] = point_type
        return self.point_types[key]

    def tags_of(self, row: Transaction) -> list[Tag]:
        """Also for a row booked in this batch and not yet written."""
        if row.pk in self.row_tags:
            return self.row_tags[row.pk]
        return super().tags_of(row)

    def player_create(self, *, external_id: str, name: str, email: str) -> tuple[Player, bool]:
        player, created = super().player_create(external_id=external_id, name=name, email=email)
        self.players[external_id] = player
        return player, created

    def player_upsert(self, *, external_id: str, name: str, email: str) -> PlayerUpsert:
        upsert = super().player_upsert(external_id=external_id, name=name, email=email)
        self.players.pop(external_id, None)  # read afresh: name, email or status may differ
        if upsert.updated:  # what the batch holds names the player as they are now
            for row in self.rows:
                if row.player_id == upsert.player.pk:
                    row.player = upsert.player
            for state in self.states.values():
                active = state.transaction
                if active is not None and active.player_id == upsert.player.pk:
                    active.player = upsert.player
        return upsert

    def _tag(self, name: str) -> Tag:
        if name.lower() not in self.tags_by_name:
            self.tags_by_name[name.lower()] = super()._tag(name)
        return self.tags_by_name[name.lower()]

    def award_states_lock(self, *, keys: list[StateKey]) -> None:
        """Lock the award states of these keys, creating the missing ones, in one sorted order
        (two batches wait for each other instead of deadlocking); keep them and their active
        awards for the batch."""
        keys = sorted(set(keys) - self.states.keys(), key=lambda k: (k[0] or 0, k[1]))
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
        locked = (
            AwardState.objects.select_for_update().filter(query).order_by("step_id", "object_id")
        )
        states = [s for s in locked if (s.step_id, s.object_id) in wanted]
        awarded = [s.transaction_id for s in states if s.transaction_id]
        active = {
            t.pk: t
            for t in Transaction.objects.filter(pk__in=awarded)
            .select_related("player", "point_type", "series")
            .prefetch_related("tags")
        }
        for state in states:
            if state.transaction_id is not None:
                state.transaction = active[state.transaction_id]
                self.row_tags[state.transaction_id] = list(state.transaction.tags.all())
            self.states[(state.step_id, state.object_id)] = state
        linked = [t.pk for t in active.values() if t.series.master_id is not None]
        if linked:  # what a revoke of these awards will cancel in the master: one query
            self.derived.update(dict.fromkeys(linked))
            for derived in derived_active(*linked):
                self.derived[derived.derived_from_id] = derived

    def award_state(self, *, step_id: int | None, object_id: str) -> AwardState:
        """The state locked up front (award_states_lock), as this batch has left it."""
        key = (step_id, object_id)
        if key not in self.states:
            self.award_states_lock(keys=[key])
        return self.states[key]

    def award_state_save(self, state: AwardState) -> None:
        state.updated_at = timezone.now()
        self.dirty_states[state.pk] = state

    def ledger_add(self, row: Transaction, tags: list[Tag]) -> Transaction:
        self._hold(row, tags)
        cancels = None
        if row.revokes is not None:
            cancels = self.derived_of(row.revokes)
            self.derived[row.revokes.pk] = None  # cancelled now
        derived = derived_row(row, cancels)
        self.derived[row.pk] = derived
        if derived is not None:
            self._hold(derived, tags)
        return row

    def _hold(self, row: Transaction, tags: list[Tag]) -> None:
        row.pk = self._next_id()
        row.created_at = timezone.now()
        self.rows.append(row)
        self.row_tags[row.pk] = list(tags)
        self.totals.append((row.series_id, row.player_id, row.point_time, row.points))
        self.booked.append(booked(row, tags))

    def derived_of(self, original: Transaction) -> Transaction | None:
        if original.pk not in self.derived:
            self.derived[original.pk] = super().derived_of(original)
        return self.derived[original.pk]

    def _next_id(self) -> int:
        if not self.ids:
            table = Transaction._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, ID_BLOCK],
                )
                self.ids = [row[0] for row in cursor.fetchall()][::-1]
        return self.ids.pop()

    def flush(self) -> None:
        """Write everything held back, one statement per kind."""
        if self.rows:
            Transaction.objects.bulk_create(self.rows)
            links = [
                Transaction.tags.through(transaction_id=row.pk, tag_id=tag.pk)
                for row in self.rows
                for tag in self.row_tags.get(row.pk, [])
            ]
            Transaction.tags.through.objects.bulk_create(links)
        totals_add(self.totals)
        rows_update(
            list(self.dirty_states.values()),
            ["transaction", "applied_version", "first_point_time", "updated_at"],
        )
        self.rows, self.totals, self.dirty_states = [], [], {}
        super().flush()


def booked(row: Transaction, tags: list[Tag]) -> Booked:
    return Booked(row.series_id, row.player_id, row.point_time, row.points,
                  frozenset(t.pk for t in tags))  # fmt: skip


def derived_row(row: Transaction, cancels: Transaction | None) -> Transaction | None:
    """The row a master series books for `row` (none when its series has no master, when the
    points round to zero, or for a revoke when what it revokes has no derived row): the same
    player, time, kind, tags and provenance, points x the factor as it is now. The derived row
    of a revoke cancels `cancels`, the derived row of what it revokes, whatever the factor was,
    so the master drops exactly what it got."""
    series = row.series
    if series.master_id is None or row.derived_from_id is not None:
        return None
    if row.kind == Transaction.Kind.REVOKE:
        if cancels is None:
            return None
        points = -cancels.points
    else:
        points = (row.points * series.master_factor).quantize(CENT, rounding=ROUND_HALF_UP)
        if not points:
            return None
    return Transaction(
        player=row.player,
        series_id=series.master_id,
        points=points,
        comment=row.comment,
        point_time=row.point_time,
        kind=row.kind,
        step_id=row.step_id,
        source_object=row.source_object,
        event_id=row.event_id,
        revokes=cancels,
        derived_from=row,
    )


def derived_active(*source_ids: int) -> Any:
    """The derived rows that stand for these ledger rows in their masters now: not revokes, and
    not revoked."""
    return Transaction.objects.filter(
        derived_from_id__in=source_ids, revoked_by__isnull=True
    ).exclude(kind=Transaction.Kind.REVOKE)


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


def rows_update(objs: list[Any], names: list[str]) -> None:
    """Save these fields of many rows of one model with one UPDATE ... FROM (VALUES ...) on
    PostgreSQL (Django's bulk_update builds a CASE per row and field: slow for hundreds)."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    pk = meta.pk
    typed = [pk, *fields]
    row = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)!s})" for f in typed) + ")"
    params: list[Any] = []
    for obj in objs:
        params.append(obj.pk)
        params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
    aliases = ", ".join(quote(str(f.column)) for f in typed)
    sets = ", ".join(f"{quote(str(f.column))} = v.{quote(str(f.column))}" for f in fields)
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(  # names and types are the models'; every value is a parameter
            f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * len(objs))}) "  # noqa: S608
            f"AS v({aliases}) WHERE {table}.{quote(str(pk.column))} = v.{quote(str(pk.column))}",
            params,
        )
