"""Beat moves rounds upcoming -> running -> ended; ending freezes the standings and records the
winners, per kind; a crash half-way through ending leaves the round running for the next beat,
and what happens to the ledger after the end does not change the frozen result."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from scoring.competitions import Entrant, competition_end, competitions_advance
from scoring.models import Competition, CompetitionStanding, ScoreSeries
from scoring.services import transaction_revoke
from tests.competition_support import END, at, players, round_make, score, table, winners

pytestmark = pytest.mark.django_db


def test_beat_starts_a_round_at_its_start_and_ends_it_at_its_end() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    start = timezone.now() + timedelta(hours=1)
    race = round_make(series=[calls], start=start, end=start + timedelta(days=7))
    score(ann, calls, 10, start + timedelta(hours=1))
    score(bob, calls, 4, start + timedelta(hours=2))

    assert race.status == "upcoming"
    competitions_advance(now=start - timedelta(seconds=1))
    assert Competition.objects.get(pk=race.pk).status == "upcoming"
    competitions_advance(now=start)
    assert Competition.objects.get(pk=race.pk).status == "running"
    assert winners(race) == []  # winners are recorded at the end
    done = competitions_advance(now=start + timedelta(days=7))

    ended = Competition.objects.get(pk=race.pk)
    assert done.ended == [race.pk]
    assert (ended.status, ended.ended_at) == ("ended", start + timedelta(days=7))
    assert table(race) == [(1, "Ann", Decimal(10)), (2, "Bob", Decimal(4))]
    assert winners(race) == ["Ann"]


# (kind, end type, default target, Ann's own target, points of Ann, Bob, Cid) -> winners
WINNERS: dict[str, tuple[str, str, int | None, int | None, tuple[int, int, int], list[str]]] = {
    "leaderboard: first place": ("leaderboard", "time", None, None, (5, 9, 9), ["Bob", "Cid"]),
    "leaderboard: nobody scored": ("leaderboard", "time", None, None, (0, 0, 0), []),
    "a to b by time: all who reached": ("a_to_b", "time", 8, None, (5, 9, 8), ["Bob", "Cid"]),
    "a to b: an own target": ("a_to_b", "time", 8, 5, (5, 7, 1), ["Ann"]),
    "together: the target reached": (
        "together",
        "time",
        20,
        None,
        (5, 9, 8),
        ["Ann", "Bob", "Cid"],
    ),
    "together: short of it": ("together", "time", 30, None, (5, 9, 8), []),
}


@pytest.mark.parametrize("case", WINNERS)
def test_winners_of_a_round_that_ran_out_of_time(case: str) -> None:
    kind, end_type, target, own, points, expected = WINNERS[case]
    people = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    entrants = [Entrant(player_id=p.pk, target=Decimal(own) if own and p.name == "Ann" else None)
                for p in people]  # fmt: skip
    race = round_make(series=[calls], kind=kind, end_type=end_type, target=target,
                      entrants=entrants)  # fmt: skip
    for player, amount in zip(people, points, strict=True):
        if amount:
            score(player, calls, amount, at(1))

    competitions_advance(now=END)

    assert winners(race) == expected


def test_head_to_head_by_time_is_won_by_the_leader_and_a_tie_is_shared() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    duel = round_make(series=[calls], kind="head_to_head",
                      entrants=[Entrant(player_id=ann.pk), Entrant(player_id=bob.pk)])  # fmt: skip
    tie = round_make(series=[calls], kind="head_to_head", start=at(3), end=END,
                     entrants=[Entrant(player_id=ann.pk), Entrant(player_id=bob.pk)])  # fmt: skip
    score(ann, calls, 3, at(1))
    score(bob, calls, 5, at(4))
    score(ann, calls, 5, at(5))

    competitions_advance(now=END)

    assert winners(duel) == ["Ann"]
    assert winners(tie) == ["Ann", "Bob"]


def test_the_frozen_standings_do_not_move_with_the_ledger_after_the_end() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls])
    anns = score(ann, calls, 10, at(1))
    score(bob, calls, 4, at(1))
    competitions_advance(now=END)

    transaction_revoke(original=anns)  # a late revoke, and late points inside the window
    score(bob, calls, 100, at(2))

    assert table(race) == [(1, "Ann", Decimal(10)), (2, "Bob", Decimal(4))]
    assert winners(race) == ["Ann"]
    assert CompetitionStanding.objects.filter(competition=race).count() == 2


def test_a_crash_while_ending_leaves_the_round_running_for_the_next_beat(
    monkeypatch: Any,
) -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls])
    score(ann, calls, 10, at(1))
    real = CompetitionStanding.objects.bulk_create

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(CompetitionStanding.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        competitions_advance(now=END)

    assert Competition.objects.get(pk=race.pk).status == "running"
    assert not CompetitionStanding.objects.exists()
    monkeypatch.setattr(CompetitionStanding.objects, "bulk_create", real)
    competitions_advance(now=END)
    assert winners(race) == ["Ann"]
    assert competition_end(competition_id=race.pk) is False  # once ended, ended
