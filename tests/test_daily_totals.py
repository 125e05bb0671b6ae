"""The maintained daily totals always equal the ledger's sums, through awards and revokes, and
leaderboards read from them give what the ledger gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from players.models import Player
from players.services import player_upsert
from scoring.models import DailyTotal, ScoreSeries, Transaction
from scoring.selectors import leaderboard
from scoring.services import totals_rebuild, transaction_book, transaction_revoke

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 30, 20, 0, tzinfo=UTC)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(0, 2), st.integers(0, 1),
                  st.decimals(min_value=-500, max_value=5000, places=2),
                  st.integers(0, 24 * 45)),  # hours after START: across days and a month end
        st.tuples(st.just("revoke"), st.integers(0, 1000)),
    ),
    min_size=1, max_size=40,
)  # fmt: skip


def ledger_sums() -> dict[tuple[int, Any, int], Decimal]:
    rows = (
        Transaction.objects.annotate(
            day=TruncDate("point_time", tzinfo=timezone.get_current_timezone())
        )
        .values("series_id", "day", "player_id")
        .annotate(points=Sum("points"))
    )
    return {(r["series_id"], r["day"], r["player_id"]): r["points"] for r in rows if r["points"]}


def maintained() -> dict[tuple[int, Any, int], Decimal]:
    return {
        (t.series_id, t.day, t.player_id): t.points for t in DailyTotal.objects.all() if t.points
    }


@pytest.mark.parametrize("zone", ["UTC", "Europe/Stockholm", "America/Los_Angeles"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_maintained_totals_equal_the_ledger(zone: str, ops: list[Any]) -> None:
    timezone.activate(zone)
    try:
        with transaction.atomic():
            players = [
                player_upsert(external_id=f"p:{n}", name=f"P{n}", email="").player for n in range(3)
            ]
            series = [ScoreSeries.objects.create(name=f"S{n}") for n in range(2)]
            awards: list[Transaction] = []
            for op in ops:
                if op[0] == "book":
                    _, p, s, points, hours = op
                    awards.append(transaction_book(player=players[p], series=series[s], points=points,
                                                   point_time=START + timedelta(hours=hours)))  # fmt: skip
                elif awards:
                    transaction_revoke(original=awards.pop(op[1] % len(awards)))

            assert maintained() == ledger_sums()
            for s in series:
                for since, until in ((None, None), (_local(2024, 2, 1), _local(2024, 3, 1)),
                                     (_local(2024, 1, 31), _local(2024, 2, 2))):  # fmt: skip
                    from_totals = leaderboard(series=s, since=since, until=until)
                    from_ledger = _ledger_board(s, since, until)
                    assert [(r.player_id, r.points, r.rank) for r in from_totals] == from_ledger
            transaction.set_rollback(True)
    finally:
        timezone.deactivate()


def _local(year: int, month: int, day: int) -> datetime:
    return timezone.make_aware(datetime(year, month, day))


def _ledger_board(series: ScoreSeries, since: Any, until: Any) -> list[tuple[int, Decimal, int]]:
    rows = Transaction.objects.filter(series=series)
    if since:
        rows = rows.filter(point_time__gte=since, point_time__lt=until)
    sums = sorted(((r["player_id"], r["t"]) for r in rows.values("player_id").annotate(t=Sum("points")) if r["t"]),
                  key=lambda r: (-r[1], Player.objects.get(pk=r[0]).name))  # fmt: skip
    ranked: list[tuple[int, Decimal, int]] = []
    for index, (player_id, total) in enumerate(sums):
        rank = ranked[-1][2] if ranked and ranked[-1][1] == total else index + 1
        ranked.append((player_id, total, rank))
    return ranked


def test_a_tag_or_a_partial_day_is_summed_from_the_ledger() -> None:
    from scoring.models import Tag

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
