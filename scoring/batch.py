"""Booking many events in one transaction: what is read once and what is written once.

Inside `booking_batch()` the booking services keep what they read (award states, tags, players,
point types) and hold back what they write (ledger rows, their tags, totals, award states) until
`flush()`, which writes each kind with one statement. Ledger ids are taken from the table's
sequence in blocks, so a row has its id (for outcomes and revokes) before it is written.

Only on PostgreSQL (the production database); elsewhere, and outside a batch, every service
writes at once as before. Nothing here decides anything: the same services make the same
decisions, so a batch books exactly what one event at a time would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from .models import AwardState, Tag, Transaction

ID_BLOCK = 256


class BatchFallback(Exception):
    """Something in a batch needs the careful path: roll the batch back and process its events
    one at a time, each step in a savepoint."""


@dataclass
class BookingBatch:
    # Read once, kept for the batch.
    states: dict[tuple[int | None, str], AwardState] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)  # by lower-case name
    players: dict[str, Any] = field(default_factory=dict)  # Player by external id
    point_types: dict[tuple[int, str], Any] = field(default_factory=dict)
    # Held back until flush().
    rows: list[Transaction] = field(default_factory=list)
    row_tags: dict[int, list[Tag]] = field(default_factory=dict)  # by ledger id, written or not
    totals: list[tuple[int, int, datetime, Decimal]] = field(default_factory=list)
    dirty_states: dict[int, AwardState] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)

    def next_id(self) -> int:
        if not self.ids:
            table = Transaction._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, ID_BLOCK],
                )
                self.ids = [row[0] for row in cursor.fetchall()][::-1]
        return self.ids.pop()

    def player_changed(self, player: Any) -> None:
        """A users step changed this player (name, email): what the batch holds shows it."""
        for row in self.rows:
            if row.player_id == player.pk:
                row.player = player
        for state in self.states.values():
            if state.transaction is not None and state.transaction.player_id == player.pk:
                state.transaction.player = player

    def flush(self) -> None:
        """Write everything held back, one statement per kind."""
        from .services import totals_add

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


_current: ContextVar[BookingBatch | None] = ContextVar("booking_batch", default=None)


def current_batch() -> BookingBatch | None:
    return _current.get()


@contextmanager
def booking_batch() -> Iterator[BookingBatch | None]:
    """A batch for the caller's transaction (None where batches are not used); the caller
    flushes it before committing."""
    if connection.vendor != "postgresql":
        yield None
        return
    batch = BookingBatch()
    token = _current.set(batch)
    try:
        yield batch
    finally:
        _current.reset(token)


def tags_of(row: Transaction) -> list[Tag]:
    """A ledger row's tags, also for a row booked in this batch and not yet written."""
    batch = _current.get()
    if batch is not None and row.pk in batch.row_tags:
        return batch.row_tags[row.pk]
    return list(row.tags.all())
