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


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ledger_rows(transactions: Iterable[Transaction]) -> Iterator[list[str]]:
    yield HEADER
    for t in transactions:
        tags = sorted((tag.name.lstrip("#") for tag in t.tags.all()), key=str.lower)
        yield [
            str(t.pk),
            _utc(t.point_time),
            _utc(t.created_at),
            t.player.name,
            ";".join(i.external_id for i in t.player.identities.all()),
            t.series.name,
            f"{t.points:.2f}",
            t.point_type.name if t.point_type else "",
            ";".join(tags),
            t.comment,
            t.kind,
            str(t.revokes_id or ""),
            t.step.name if t.step else "",
            t.source_object,
            str(t.event_id or ""),
        ]


def ledger_write(out: Writable, transactions: Iterable[Transaction]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    for row in ledger_rows(transactions):
        writer.writerow(row)
