"""Leaderboards give the ledger's exact sums whatever the range (whole months, whole days,
partial days, tags), and a limit is the top N of the full board, ranks and ties included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from players.services import player_upsert
from scoring.models import ScoreSeries, Tag
from scoring.selectors import leaderboard
from scoring.services import transaction_book

pytestmark = pytest.mark.django_db

MARCH = [(1, "Ann", 300), (2, "Bob", 200), (2, "Cid", 200), (4, "Dee", 100)]


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour, minute))


@pytest.fixture
def deals(db: None) -> Iterator[ScoreSeries]:
    """March 2024 in Stockholm (the clocks go forward on the 31st): Ann 300, Bob 200, Cid 200,
    Dee 100 and Eve 0, every row tagged "Spring"; Dee also has points just outside March."""
    with timezone.override("Europe/Stockholm"):
        series = ScoreSeries.objects.create(name="Deals")
        spring = Tag.objects.create(name="Spring")
        players = {
            name: player_upsert(external_id=f"pd:{name}", name=name, email="").player
            for name in ("Eve", "Dee", "Cid", "Bob", "Ann")  # ids do not follow the names
        }
        for name, points, when in [
            ("Ann", 100, local(2024, 3, 1, 0, 30)), ("Ann", 200, local(2024, 3, 20, 15)),
            ("Bob", 150, local(2024, 3, 2, 10)), ("Bob", 50, local(2024, 3, 31, 23, 30)),
            ("Cid", 200, local(2024, 3, 15, 12)),
            ("Dee", 60, local(2024, 3, 3)), ("Dee", 40, local(2024, 3, 4, 9)),
            ("Eve", 50, local(2024, 3, 10)), ("Eve", -50, local(2024, 3, 11)),
        ]:  # fmt: skip
            transaction_book(player=players[name], series=series, points=Decimal(points),
                             point_time=when, tags=[spring])  # fmt: skip
        for when in (local(2024, 2, 28, 11), local(2024, 4, 1)):
            transaction_book(player=players["Dee"], series=series, points=Decimal(1000),
                             point_time=when)  # fmt: skip
        yield series


def board(
    series: ScoreSeries,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str = "",
    limit: int | None = None,
) -> list[tuple[int, str, Decimal]]:
    rows = leaderboard(series=series, since=since, until=until, tag=tag, limit=limit)
    return [(r.rank, r.name, r.points) for r in rows]


Moment = tuple[int, ...] | None
RANGES: dict[str, tuple[Moment, Moment, str]] = {
    "the month": ((2024, 3, 1), (2024, 4, 1), ""),
    "partial day, whole day, the month": ((2024, 2, 28, 12), (2024, 4, 1), ""),
    "partial day, whole days, partial day": ((2024, 2, 29, 6), (2024, 3, 31, 23, 45), ""),
    "tag, all time": (None, None, "spring"),
    "tag, partial days": ((2024, 2, 28, 12), (2024, 4, 1, 1), "SPRING"),
}


@pytest.mark.parametrize("name", RANGES)
def test_every_way_of_reading_a_range_gives_the_ledgers_board(
    deals: ScoreSeries, name: str
) -> None:
    start, end, tag = RANGES[name]
    with timezone.override("Europe/Stockholm"):
        since = local(*start) if start else None
        until = local(*end) if end else None
        full = board(deals, since, until, tag)
        cuts = {limit: board(deals, since, until, tag, limit) for limit in (1, 2, 3, 4, 10)}

    assert full == MARCH  # Eve's points add up to zero: she is left out
    assert cuts[2] == [(1, "Ann", 300), (2, "Bob", 200)]  # a tie cut in the board's order
    assert cuts[3] == [(1, "Ann", 300), (2, "Bob", 200), (2, "Cid", 200)]
    assert all(cut == MARCH[:limit] for limit, cut in cuts.items())


def test_ranges_reach_past_the_month_to_the_minute(deals: ScoreSeries) -> None:
    with timezone.override("Europe/Stockholm"):
        with_april = board(deals, local(2024, 3, 1), local(2024, 4, 1, 0, 1))
        with_february = board(deals, local(2024, 2, 28, 11), local(2024, 4, 1))
        before_bob = board(deals, local(2024, 3, 2, 10, 1), local(2024, 3, 31, 23))

    assert with_april[0] == (1, "Dee", 1100)
    assert with_february[0] == (1, "Dee", 1100)
    assert before_bob == [(1, "Ann", 200), (1, "Cid", 200), (3, "Dee", 100)]
