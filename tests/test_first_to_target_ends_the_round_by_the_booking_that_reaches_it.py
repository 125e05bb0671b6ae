"""A first-to-target round ends in the same database transaction as the booking that brings a
participant (or, together, everyone) to the target, whichever way points arrive: add score, a
webhook processed on its own, or a drained batch. Once it has ended by reaching the target it
stays ended with that winner: a revoke afterwards changes the ledger, not the frozen result.
When no such round runs, the booking path pays one indexed query per flush."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import WebhookEvent
from integrations.services import drain, ingest
from players.models import PlayerIdentity
from scoring.competitions import Entrant, competitions_advance
from scoring.models import Competition, CompetitionStanding, ScoreSeries
from scoring.services import score_add, transaction_revoke
from tests.competition_support import END, at, players, round_make, score, table, winners
from tests.pipedrive_payloads import body, deal_v2

pytestmark = pytest.mark.django_db


def status(competition: Competition) -> str:
    return Competition.objects.get(pk=competition.pk).status


def test_reaching_the_target_ends_an_a_to_b_round_and_a_later_revoke_keeps_its_winner() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls], kind="a_to_b", end_type="target", target=50)

    score(ann, calls, 30, at(1))
    score(bob, calls, 45, at(1))
    assert status(race) == "running"
    reaching = score(ann, calls, 20, at(2))  # Ann: 50

    assert status(race) == "ended"  # by the booking, not by beat
    assert winners(race) == ["Ann"]
    assert table(race) == [(1, "Ann", Decimal(50)), (2, "Bob", Decimal(45))]

    transaction_revoke(original=reaching)  # Ann falls back below the target...
    score(bob, calls, 10, at(3))  # ...and Bob passes it
    competitions_advance(now=END)

    assert status(race) == "ended"
    assert winners(race) == ["Ann"]  # the end is frozen
    assert CompetitionStanding.objects.filter(competition=race, winner=True).count() == 1


def test_an_own_target_counts_for_its_participant() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls], kind="a_to_b", end_type="target", target=50,
                      entrants=[Entrant(player_id=ann.pk, target=Decimal(10)),
                                Entrant(player_id=bob.pk)])  # fmt: skip

    score(bob, calls, 20, at(1))
    assert status(race) == "running"
    score(ann, calls, 10, at(1))

    assert winners(race) == ["Ann"]


def test_points_outside_the_window_or_in_other_series_do_not_reach_the_target() -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    deals = ScoreSeries.objects.create(name="Deals")
    race = round_make(series=[calls], kind="leaderboard", end_type="target", target=10)

    score(ann, calls, 10, END)
    score(ann, deals, 10, at(1))
    assert status(race) == "running"
    score(ann, calls, 10, at(1))
    assert status(race) == "ended"


def test_a_time_round_does_not_end_at_its_target() -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls], kind="a_to_b", end_type="time", target=10)

    score(ann, calls, 50, at(1))

    assert status(race) == "running"


def test_together_ends_when_everyones_points_reach_the_shared_target() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls], kind="together", end_type="target", target=100)

    score(ann, calls, 60, at(1))
    assert status(race) == "running"
    score(bob, calls, 40, at(1))

    assert status(race) == "ended"
    assert winners(race) == ["Ann", "Bob"]


def test_head_to_head_teams_end_when_one_team_reaches_the_target() -> None:
    from scoring.models import Team

    ann, bob, cid = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    north.members.set([ann, bob])
    south.members.set([cid])
    duel = round_make(series=[calls], kind="head_to_head", mode="teams", end_type="target",
                      target=30, entrants=[Entrant(team_id=north.pk), Entrant(team_id=south.pk)])  # fmt: skip

    score(cid, calls, 25, at(1))
    score(ann, calls, 15, at(1))
    assert status(duel) == "running"
    score(bob, calls, 15, at(1))

    assert winners(duel) == ["North"]


@pytest.fixture
def deals_race(pipedrive: Any) -> Competition:
    for n in (1001, 1002):
        player = players(f"Seller {n}")[0]
        PlayerIdentity.objects.create(player=player, external_id=f"pd:{n}")
    deals = ScoreSeries.objects.get(name__iexact="Deals")
    return round_make(series=[deals], kind="a_to_b", end_type="target", target=250)


def won(deal: int, owner: int, value: int) -> dict[str, Any]:
    return deal_v2(deal, value=value, owner_id=owner, won_time="2024-05-08T10:00:00Z",
                   update_time=f"2024-05-08T10:0{deal % 10}:00Z")  # fmt: skip


def test_a_webhook_that_reaches_the_target_ends_the_round(
    pipedrive: Any, deliver: Any, deals_race: Competition
) -> None:
    deliver(pipedrive, won(1, 1001, 200))
    assert status(deals_race) == "running"
    deliver(pipedrive, won(2, 1001, 100))

    assert status(deals_race) == "ended"
    assert winners(deals_race) == ["Seller 1001"]


def test_a_drained_batch_that_reaches_the_target_ends_the_round_once(
    pipedrive: Any, deals_race: Competition
) -> None:
    for deal, owner, value in [(1, 1001, 200), (2, 1002, 260), (3, 1001, 100), (4, 1002, 5)]:
        ingest.webhook_receive(
            integration=pipedrive, body=body(won(deal, owner, value)), headers={}
        )

    assert drain.events_drain(limit=10) == 4

    assert not WebhookEvent.objects.exclude(status="processed").exists()
    assert status(deals_race) == "ended"
    # Both passed the target within the one batch; Seller 1002 did first (the second event),
    # and the round ended there, as processing the events one at a time would have ended it.
    assert winners(deals_race) == ["Seller 1002"]
    assert table(deals_race) == [(1, "Seller 1002", Decimal(260)), (2, "Seller 1001", Decimal(200))]


def test_without_a_running_target_round_a_flush_asks_one_query(db: None) -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    round_make(series=[calls], kind="leaderboard", end_type="time")  # runs, but by time

    with CaptureQueriesContext(connection) as queries:
        score_add(player=ann, series=calls, points=Decimal(5), point_time=at(1))

    asked = [q["sql"] for q in queries if "scoring_competition" in q["sql"]]
    assert len(asked) == 1
    assert "end_type" in asked[0] and "running" in asked[0]
