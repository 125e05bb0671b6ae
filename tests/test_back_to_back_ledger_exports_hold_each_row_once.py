"""`ledger_export --since A --until B` is the half-open range [A, B) of point times (DESIGN §8):
a row exactly at midnight belongs to the export that starts there, not to the one that ends
there, so an auditor's monthly exports, laid end to end, hold every row exactly once."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from players.services import player_upsert
from scoring.models import ScoreSeries, Transaction
from scoring.services import transaction_book

pytestmark = pytest.mark.django_db

MONTHS = [
    ("2024-01-01", "2024-02-01"),
    ("2024-02-01", "2024-03-01"),
    ("2024-03-01", "2024-04-01"),
]


def export_ids(*args: str) -> list[str]:
    out = StringIO()
    call_command("ledger_export", *args, stdout=out)
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    return [row["id"] for row in rows]


def book(point_time: str) -> str:
    """A ledger row at that point time; returns its id as the CSV prints it."""
    row = transaction_book(
        player=player_upsert(external_id="pd:1001", name="Ann", email="").player,
        series=ScoreSeries.objects.get_or_create(name="Deals")[0],
        points=Decimal(1),
        point_time=datetime.fromisoformat(point_time),
        kind=Transaction.Kind.MANUAL,
    )
    return str(row.pk)


def test_a_row_at_midnight_belongs_to_the_export_that_starts_there() -> None:
    midnight = book("2024-02-01T00:00:00+00:00")

    january = export_ids("--since", "2024-01-01", "--until", "2024-02-01")
    february = export_ids("--since", "2024-02-01", "--until", "2024-03-01")

    assert midnight not in january
    assert february == [midnight]


def test_the_last_microsecond_before_midnight_is_still_in_the_month_that_ends() -> None:
    last = book("2024-01-31T23:59:59.999999+00:00")

    assert export_ids("--since", "2024-01-01", "--until", "2024-02-01") == [last]
    assert export_ids("--since", "2024-02-01", "--until", "2024-03-01") == []


def test_until_is_exclusive_at_the_same_instant_written_with_an_offset() -> None:
    book("2024-02-01T00:00:00+00:00")

    # 01:00 at +01:00 is midnight UTC: the row at midnight is not before it.
    assert export_ids("--until", "2024-02-01T01:00:00+01:00") == []
    assert len(export_ids("--until", "2024-02-01T00:00:00.000001Z")) == 1


def test_monthly_exports_laid_end_to_end_hold_every_row_exactly_once() -> None:
    ids = [
        book(moment)
        for moment in (
            "2024-01-01T00:00:00+00:00",  # the first instant of the first export
            "2024-01-31T23:59:59.999999+00:00",
            "2024-02-01T00:00:00+00:00",  # a boundary between two exports
            "2024-02-15T12:00:00+00:00",
            "2024-03-01T00:00:00+00:00",  # another boundary
            "2024-03-31T23:59:59+00:00",
        )
    ]
    book("2024-04-01T00:00:00+00:00")  # the instant the last export ends: in none of them

    exports = [export_ids("--since", since, "--until", until) for since, until in MONTHS]

    assert exports == [ids[0:2], ids[2:4], ids[4:6]]
    assert Counter(i for export in exports for i in export) == Counter(ids)
