"""Standings count the points of the round's series by point time within [start, end), read from
the maintained totals (the ledger only at the partial days of its edges, or for a tag), and
equal the ledger's sums at every moment; a revoke can change the leader; ties share a rank."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scoring.competitions import Entrant
from scoring.models import ScoreSeries, Tag, Team
from scoring.services import transaction_revoke
from tests.competition_support import (
    END,
    START,
    at,
    ledger_points,
    players,
    round_make,
    score,
    table,
)

pytestmark = pytest.mark.django_db


def test_standings_follow_the_ledger_through_a_round_and_a_revoke_changes_the_leader() -> None:
    ann, bob, cid = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    deals = ScoreSeries.objects.create(name="Deals")
    other = ScoreSeries.objects.create(name="Other")
    race = round_make(series=[calls, deals])

    score(ann, calls, 500, START - timedelta(minutes=1))  # before the start: not counted
    score(bob, other, 900, at(1))  # another series: not counted
    assert table(race) == []

    score(ann, calls, 10, START)  # the first moment counts
    bob_deal = score(bob, deals, 30, at(0, 2), key="deal-1")
    assert table(race) == [(1, "Bob", 30), (2, "Ann", 10)]

    score(ann, deals, 25, at(3))  # whole days in the middle
    score(cid, calls, 35, END - timedelta(minutes=1))  # the partial last day
    score(cid, calls, 1000, END)  # the end is not included
    assert table(race) == [(1, "Ann", 35), (1, "Cid", 35), (3, "Bob", 30)]  # ties share a rank

    transaction_revoke(original=bob_deal)
    score(bob, deals, 40, at(5), key="deal-2")
    assert table(race) == [(1, "Bob", 40), (2, "Ann", 35), (2, "Cid", 35)]  # a new leader

    score(cid, calls, 6, at(4), key="cid")
    score(cid, calls, 5, at(4), key="cid")  # the same score id again: revoke and re-book
    assert table(race) == [(1, "Bob", 40), (1, "Cid", 40), (3, "Ann", 35)]
    for _rank, name, points in table(race):
        player = {"Ann": ann, "Bob": bob, "Cid": cid}[name]
        assert points == ledger_points(player, [calls, deals], START, END)


def test_invited_players_stand_with_zero_and_others_are_left_out() -> None:
    ann, bob, cid = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    duel = round_make(series=[calls], kind="head_to_head",
                      entrants=[Entrant(player_id=ann.pk), Entrant(player_id=bob.pk)])  # fmt: skip

    score(cid, calls, 50, at(1))
    score(bob, calls, 5, at(1))

    assert table(duel) == [(1, "Bob", Decimal(5)), (2, "Ann", Decimal(0))]


def test_a_tag_counts_only_tagged_points() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    score(ann, calls, 1, START - timedelta(days=1), tags=("vip",))  # makes the tag
    race = round_make(series=[calls], tag=Tag.objects.get(name="vip"))
    score(ann, calls, 5, at(1), tags=("VIP",))
    score(bob, calls, 7, at(1))

    assert table(race) == [(1, "Ann", Decimal(5))]


def test_team_standings_sum_the_members_points() -> None:
    ann, bob, cid = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    north = Team.objects.create(name="North")
    south = Team.objects.create(name="South")
    north.members.set([ann, bob])
    south.members.set([bob, cid])  # Bob counts for both
    race = round_make(series=[calls], mode="teams")

    score(ann, calls, 10, at(1))
    score(bob, calls, 7, at(2))
    score(cid, calls, 2, at(2))

    assert table(race) == [(1, "North", Decimal(17)), (2, "South", Decimal(9))]


def test_standings_read_the_totals_not_the_ledger_for_whole_days() -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls])
    score(ann, calls, 10, at(3))

    with CaptureQueriesContext(connection) as queries:
        table(race)

    sums = [q["sql"] for q in queries if "SUM(" in q["sql"]]
    assert len(sums) == 1
    assert "scoring_dailytotal" in sums[0]
    # The ledger is read only for the partial first and last days.
    assert sums[0].count('"scoring_transaction"."point_time" >=') == 2
