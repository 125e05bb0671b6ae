"""Team boards rank teams by the sum of their members' points (a player in several teams counts
in each), read like player boards from the maintained totals, and equal what the ledger gives;
adding points to a team books one revocable transaction per member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from players.models import Player
from players.services import player_upsert
from scoring.models import ScoreSeries, Tag, Team, Transaction
from scoring.selectors import team_leaderboard
from scoring.services import team_points_add, transaction_book, transaction_cancel

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 30, 20, tzinfo=UTC)


def ledger_team_board(series: ScoreSeries, since: datetime | None, until: datetime | None,
                      tag: str) -> dict[str, Decimal]:  # fmt: skip
    """Each team's points summed here from the ledger's rows and today's members."""
    rows = Transaction.objects.filter(series=series)
    if since:
        rows = rows.filter(point_time__gte=since)
    if until:
        rows = rows.filter(point_time__lt=until)
    if tag:
        rows = rows.filter(tags__name__iexact=tag)
    per_player = dict(
        rows.values("player_id").annotate(t=Sum("points")).values_list("player_id", "t")
    )
    board = {}
    for team in Team.objects.prefetch_related("members"):
        total = sum((per_player.get(m.pk, Decimal(0)) for m in team.members.all()), Decimal(0))
        if total:
            board[team.name] = total
    return board


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(st.integers(0, 4), st.decimals(min_value=-50, max_value=500, places=2),
                            st.integers(0, 24 * 40), st.booleans()), min_size=1, max_size=30),
    membership=st.lists(st.sets(st.integers(0, 4)), min_size=1, max_size=3),
    window=st.tuples(st.integers(0, 24 * 40), st.integers(1, 24 * 40)),
)  # fmt: skip
def test_a_team_board_is_the_sum_of_its_members_points(
    rows: list[tuple[int, Decimal, int, bool]], membership: list[set[int]], window: tuple[int, int]
) -> None:
    from django.db import transaction

    with transaction.atomic():
        people = [
            player_upsert(external_id=f"p:{n}", name=f"P{n}", email="").player for n in range(5)
        ]
        deals = ScoreSeries.objects.create(name="Deals")
        vip = Tag.objects.create(name="vip")
        for n, members in enumerate(membership):
            Team.objects.create(name=f"T{n}").members.set([people[m] for m in members])
        for p, points, hours, tagged in rows:
            transaction_book(player=people[p], series=deals, points=points,
                             point_time=START + timedelta(hours=hours), tags=[vip] if tagged else None)  # fmt: skip
        since = START + timedelta(hours=window[0])
        until = since + timedelta(hours=window[1])
        for span in [
            (None, None),
            (since, until),
            (timezone.make_aware(datetime(2024, 2, 1)), timezone.make_aware(datetime(2024, 3, 1))),
        ]:
            for tag in ("", "VIP"):
                board = team_leaderboard(series=deals, since=span[0], until=span[1], tag=tag)
                assert {r.name: r.points for r in board} == ledger_team_board(deals, *span, tag)
                ranks = [r.rank for r in board]
                assert ranks == sorted(ranks)
        transaction.set_rollback(True)


def test_adding_points_to_a_team_books_one_revocable_row_per_member() -> None:
    ann, bob, eve = (player_upsert(external_id=f"p:{n}", name=n, email="").player
                     for n in ("Ann", "Bob", "Eve"))  # fmt: skip
    Player.objects.filter(pk=eve.pk).update(status=Player.Status.ARCHIVED)
    deals = ScoreSeries.objects.create(name="Deals")
    north = Team.objects.create(name="North", icon="🏔")
    north.members.set([ann, bob, eve])

    rows = team_points_add(team=north, series=deals, points=Decimal(15), point_time=START,
                           comment="kick-off", tag_names=("bonus",))  # fmt: skip

    assert sorted((r.player.name, r.points, r.kind) for r in rows) == [
        ("Ann", Decimal(15), "manual"), ("Bob", Decimal(15), "manual"),
    ]  # fmt: skip  # Eve is archived: no new points
    assert [(r.name, r.points) for r in team_leaderboard(series=deals)] == [("North", 30)]

    transaction_cancel(transaction_id=rows[0].pk)
    assert [(r.name, r.points) for r in team_leaderboard(series=deals)] == [("North", 15)]
    with pytest.raises(ValidationError, match="revoked already"):
        transaction_cancel(transaction_id=rows[0].pk)
    with pytest.raises(ValidationError, match="has no members"):
        team_points_add(team=Team.objects.create(name="Empty"), series=deals, points=Decimal(1))


def test_only_manual_rows_are_revoked_by_hand() -> None:
    ann = player_upsert(external_id="p:ann", name="Ann", email="").player
    deals = ScoreSeries.objects.create(name="Deals")
    award = transaction_book(player=ann, series=deals, points=Decimal(5), point_time=START)

    with pytest.raises(ValidationError, match="only manual rows are revoked by hand"):
        transaction_cancel(transaction_id=award.pk)


def test_the_team_board_is_served_by_the_api_and_the_staff_page(admin_client: Any) -> None:
    ann, bob = (
        player_upsert(external_id=f"p:{n}", name=n, email="").player for n in ("Ann", "Bob")
    )
    deals = ScoreSeries.objects.create(name="Deals")
    Team.objects.create(name="North").members.set([ann, bob])
    Team.objects.create(name="South").members.set([bob])
    transaction_book(player=ann, series=deals, points=Decimal(4), point_time=START)
    transaction_book(player=bob, series=deals, points=Decimal(3), point_time=START)

    api = admin_client.get(f"/api/v1/leaderboards/{deals.pk}/teams/?period=all").json()
    page = admin_client.get(f"/leaderboards/{deals.pk}/?board=teams&period=all").content.decode()
    missing = admin_client.get("/api/v1/leaderboards/999999/teams/")

    assert [(r["rank"], r["name"], r["points"]) for r in api["results"]] == [
        (1, "North", "7.00"), (2, "South", "3.00")
    ]  # fmt: skip
    assert '<td>North</td><td class="num">7.00</td>' in page
    assert missing.status_code == 404
