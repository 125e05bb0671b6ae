"""The ledger as CSV (DESIGN §8), for auditors: `manage.py ledger_export` and the admin download."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from django.db.models import Prefetch, QuerySet

from players.models import PlayerIdentity

from .models import Transaction

HEADER = [
    "id",
    "point_time",
    "created_at",
    "player",
    "player_external_ids",
    "series",
    "points",
    "point_type",
    "tags",
    "comment",
    "kind",
    "revokes",
    "step",
    "source_object",
    "event",
]


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


def ledger_queryset(
    *,
    series: str | None = None,
    player_external_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Transaction]:
    rows = ledger_related(Transaction.objects.all())
    if series:
        rows = rows.filter(series__name__iexact=series)
    if player_external_id:
        rows = rows.filter(player__identities__external_id=player_external_id)
    if since:
        rows = rows.filter(point_time__gte=since)
    if until:
        rows = rows.filter(point_time__lt=until)
    return rows.order_by("id")


def ledger_related(rows: QuerySet[Transaction]) -> QuerySet[Transaction]:
    """What a CSV row reads, fetched in a fixed number of queries, and nothing else (the admin's
    list joins the event, whose body and outcome can be megabytes: a row needs its id only)."""
    related = rows.select_related(None).select_related("player", "series", "point_type", "step")
    return related.prefetch_related(
        "tags", Prefetch("player__identities", queryset=PlayerIdentity.objects.order_by("pk"))
    )


# A spreadsheet runs a cell that begins with one of these as a formula (DESIGN §8).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A text cell as a spreadsheet may open it: one that begins like a formula gets a leading
    `'`, and a carriage return becomes a line feed. The csv module quotes a cell holding a line
    feed but not one holding only a carriage return (our line ends are `\n`), and a reader
    takes a bare carriage return for the end of the row, so a deal title could forge rows."""
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ledger_rows(transactions: Iterable[Transaction]) -> Iterator[list[str]]:
    yield HEADER
    for t in transactions:
        tags = sorted((tag.name.lstrip("#") for tag in t.tags.all()), key=str.lower)
        # Numbers, ids, times and the kind are ours and never changed; text cells may hold
        # anything a CRM user typed. A joined cell is judged by how it begins: `a;=x` is no
        # formula, `=x;a` is.
        yield [
            str(t.pk),
            _utc(t.point_time),
            _utc(t.created_at),
            _text(t.player.name),
            _text(";".join(i.external_id for i in t.player.identities.all())),
            _text(t.series.name),
            f"{t.points:.2f}",
            _text(t.point_type.name if t.point_type else ""),
            _text(";".join(tags)),
            _text(t.comment),
            t.kind,
            str(t.revokes_id or ""),
            _text(t.step.name if t.step else ""),
            _text(t.source_object),
            str(t.event_id or ""),
        ]


def ledger_write(out: Writable, transactions: Iterable[Transaction]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    for row in ledger_rows(transactions):
        writer.writerow(row)
