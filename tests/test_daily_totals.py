"""The maintained daily and monthly totals always equal the ledger's sums, through awards and
revokes, and leaderboards read from them give what the ledger gives, whatever the range."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from players.models import Player
from players.services import player_upsert
from scoring.models import DailyTotal, MonthlyTotal, ScoreSeries, Tag, Transaction
from scoring.selectors import leaderboard
from scoring.services import totals_rebuild, transaction_book, transaction_revoke

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 30, 20, 0, tzinfo=UTC)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(0, 2), st.integers(0, 1),
                  st.decimals(min_value=-500, max_value=5000, places=2),
                  st.integers(0, 24 * 45),  # hours after START: across days and a month end
                  st.booleans()),  # tagged "vip"
        st.tuples(st.just("revoke"), st.integers(0, 1000)),
    ),
    min_size=1, max_size=40,
)  # fmt: skip
# A range's end: an hour after START (as bookings are), a local midnight (days after 28
# January), a local hour within a day, or open (None).
moments = st.one_of(
    st.none(),
    st.tuples(st.just("hour"), st.integers(0, 24 * 45)),
    st.tuples(st.just("midnight"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("midnight"), st.integers(0, 50), st.integers(1, 23)),
)
ranges = st.lists(st.tuples(moments, moments), max_size=6)


def ledger_sums() -> dict[tuple[int, Any, int], Decimal]:
    rows = (
        Transaction.objects.annotate(
            day=TruncDate("point_time", tzinfo=timezone.get_current_timezone())
        )
        .values("series_id", "day", "player_id")
        .annotate(points=Sum("points"))
    )
    return {(r["series_id"], r["day"], r["player_id"]): r["points"] for r in rows if r["points"]}


def ledger_month_sums() -> dict[tuple[int, Any, int], Decimal]:
    """Summed here in Python, by the local date of each row, not by the database."""
    sums: dict[tuple[int, Any, int], Decimal] = {}
    for series_id, player_id, point_time, points in Transaction.objects.values_list(
        "series_id", "player_id", "point_time", "points"
    ):
        key = (series_id, timezone.localtime(point_time).date().replace(day=1), player_id)
        sums[key] = sums.get(key, Decimal(0)) + points
    return {key: points for key, points in sums.items() if points}


def maintained() -> dict[tuple[int, Any, int], Decimal]:
    return {
        (t.series_id, t.day, t.player_id): t.points for t in DailyTotal.objects.all() if t.points
    }


def maintained_months() -> dict[tuple[int, Any, int], Decimal]:
    return {
        (t.series_id, t.month, t.player_id): t.points
        for t in MonthlyTotal.objects.all()
        if t.points
    }


@pytest.mark.parametrize("zone", ["UTC", "Europe/Stockholm", "America/Los_Angeles"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, drawn=ranges, limit=st.sampled_from([None, 1, 2]))
def test_maintained_totals_equal_the_ledger(
    zone: str, ops: list[Any], drawn: list[Any], limit: int | None
) -> None:
    timezone.activate(zone)
    try:
        with transaction.atomic():
            players = [
                player_upsert(external_id=f"p:{n}", name=f"P{n}", email="").player for n in range(3)
            ]
            series = [ScoreSeries.objects.create(name=f"S{n}") for n in range(2)]
            vip = Tag.objects.create(name="vip")
            awards: list[Transaction] = []
            for op in ops:
                if op[0] == "book":
                    _, p, s, points, hours, tagged = op
                    awards.append(transaction_book(player=players[p], series=series[s], points=points,
                                                   point_time=START + timedelta(hours=hours),
                                                   tags=[vip] if tagged else None))  # fmt: skip
                elif awards:
                    transaction_revoke(original=awards.pop(op[1] % len(awards)))

            assert maintained() == ledger_sums()
            assert maintained_months() == ledger_month_sums()
            fixed = [(None, None), (_local(2024, 2, 1), _local(2024, 3, 1)),  # a month
                     (_local(2024, 1, 31), _local(2024, 2, 2)),  # whole days across a month end
                     (_local(2024, 1, 1), _local(2025, 1, 1)),  # a year
                     (_local(2024, 1, 30, 22), _local(2024, 3, 5, 13))]  # fmt: skip
            drawn_ranges = [(_moment(a), _moment(b)) for a, b in drawn]
            for s in series:
                for since, until in fixed + drawn_ranges:
                    if since and until and since >= until:
                        continue
                    for tag in ("", "VIP"):
                        from_totals = leaderboard(
                            series=s, since=since, until=until, tag=tag, limit=limit
                        )
                        from_ledger = _ledger_board(s, since, until, tag)[:limit]
                        assert [(r.player_id, r.points, r.rank) for r in from_totals] == from_ledger
            transaction.set_rollback(True)
    finally:
        timezone.deactivate()


def _local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour))


def _moment(drawn: tuple[Any, ...] | None) -> datetime | None:
    if drawn is None:
        return None
    if drawn[0] == "hour":
        return START + timedelta(hours=drawn[1])
    _, days, hour = drawn
    return timezone.make_aware(datetime(2024, 1, 28) + timedelta(days=days, hours=hour))


def _ledger_board(
    series: ScoreSeries, since: Any, until: Any, tag: str = ""
) -> list[tuple[int, Decimal, int]]:
    """The board summed straight from the ledger's rows, ranked here."""
    rows = Transaction.objects.filter(series=series)
    if since:
        rows = rows.filter(point_time__gte=since)
    if until:
        rows = rows.filter(point_time__lt=until)
    if tag:
        rows = rows.filter(tags__name__iexact=tag)
    names = dict(Player.objects.values_list("pk", "name"))
    sums = sorted(((r["player_id"], r["t"]) for r in rows.values("player_id").annotate(t=Sum("points")) if r["t"]),
                  key=lambda r: (-r[1], names[r[0]], r[0]))  # fmt: skip
    ranked: list[tuple[int, Decimal, int]] = []
    for index, (player_id, total) in enumerate(sums):
        rank = ranked[-1][2] if ranked and ranked[-1][1] == total else index + 1
        ranked.append((player_id, total, rank))
    return ranked


def test_a_tag_or_a_partial_day_is_summed_from_the_ledger() -> None:
    ann = player_upsert(external_id="p:1", name="Ann", email="").player
    deals = ScoreSeries.objects.create(name="Deals")
    vip = Tag.objects.create(name="vip")
    transaction_book(player=ann, series=deals, points=Decimal(5), point_time=START, tags=[vip])
    transaction_book(
        player=ann, series=deals, points=Decimal(7), point_time=START + timedelta(hours=1)
    )

    tagged = leaderboard(series=deals, tag="VIP")
    partial = leaderboard(
        series=deals, since=START + timedelta(minutes=30), until=START + timedelta(hours=5)
    )

    assert [r.points for r in tagged] == [5]
    assert [r.points for r in partial] == [7]


def test_rebuild_recomputes_totals_for_rows_loaded_in_bulk() -> None:
    ann = player_upsert(external_id="p:1", name="Ann", email="").player
    deals = ScoreSeries.objects.create(name="Deals")
    Transaction.objects.bulk_create(
        Transaction(player=ann, series=deals, points=3, point_time=START + timedelta(days=d))
        for d in range(10)
    )

    assert leaderboard(series=deals) == []  # bulk rows bypass the booking service...
    assert totals_rebuild() == 10
    assert [r.points for r in leaderboard(series=deals)] == [30]  # ...until rebuilt
    assert maintained() == ledger_sums()
    assert maintained_months() == ledger_month_sums()
    february = leaderboard(series=deals, since=_local(2024, 2, 1), until=_local(2024, 3, 1))
    assert [(r.player_id, r.points, r.rank) for r in february] == _ledger_board(
        deals, _local(2024, 2, 1), _local(2024, 3, 1)
    )


def test_the_migration_fills_monthly_totals_from_the_daily_ones() -> None:
    migration = importlib.import_module("scoring.migrations.0004_monthly_totals")
    ann = player_upsert(external_id="p:1", name="Ann", email="").player
    deals = ScoreSeries.objects.create(name="Deals")
    for d in range(0, 70, 3):
        transaction_book(player=ann, series=deals, points=Decimal(d - 20),
                         point_time=START + timedelta(days=d))  # fmt: skip
    MonthlyTotal.objects.all().delete()  # as before the migration

    migration.build_totals(apps, None)

    assert maintained_months() == ledger_month_sums()
    assert MonthlyTotal.objects.count() == 4  # January to April
