"""A recurring competition is a chain of rounds, each its own record with its own standings and
winners: when a round ends, beat creates the next one (its window one week, month or year on,
the same series, participants and targets), once however often beat runs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from scoring.competitions import Entrant, competitions_advance
from scoring.models import Competition, ScoreSeries
from tests.competition_support import players, round_make, score, table, winners

pytestmark = pytest.mark.django_db


def rounds() -> list[Competition]:
    return list(Competition.objects.order_by("start"))


def test_weekly_rounds_each_keep_their_own_winner() -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    monday = datetime(2024, 5, 6, tzinfo=UTC)
    first = round_make(series=[calls], start=monday, end=datetime(2024, 5, 13, tzinfo=UTC),
                       recurrence="week", target=5,
                       entrants=[Entrant(player_id=ann.pk), Entrant(player_id=bob.pk, target=Decimal(3))])  # fmt: skip
    score(ann, calls, 10, datetime(2024, 5, 7, tzinfo=UTC))
    score(bob, calls, 20, datetime(2024, 5, 14, tzinfo=UTC))
    score(ann, calls, 1, datetime(2024, 5, 21, tzinfo=UTC))

    competitions_advance(now=datetime(2024, 5, 13, tzinfo=UTC))
    competitions_advance(now=datetime(2024, 5, 13, 0, 1, tzinfo=UTC))  # beat again: no 3rd round
    one, two = rounds()
    assert (one.pk, one.status, two.previous_round_id) == (first.pk, "ended", first.pk)
    assert (two.start, two.end) == (
        datetime(2024, 5, 13, tzinfo=UTC),
        datetime(2024, 5, 20, tzinfo=UTC),
    )
    assert two.name == one.name and list(two.series.all()) == [calls]
    assert {(p.player_id, p.target) for p in two.participants.all()} == {
        (ann.pk, None),
        (bob.pk, Decimal(3)),
    }

    competitions_advance(now=datetime(2024, 5, 20, tzinfo=UTC))
    one, two, three = rounds()
    assert [r.status for r in (one, two)] == ["ended", "ended"]
    assert three.status == "running"  # its week has begun (it is past, by the clock)
    assert (winners(one), winners(two)) == (["Ann"], ["Bob"])
    assert table(three) == [(1, "Ann", Decimal(1)), (2, "Bob", Decimal(0))]


def test_monthly_rounds_keep_the_local_wall_clock_and_the_month_end() -> None:
    calls = ScoreSeries.objects.create(name="Calls")
    with timezone.override("Europe/Stockholm"):
        start = timezone.make_aware(datetime(2024, 1, 31, 9))
        end = timezone.make_aware(datetime(2024, 3, 1))
        round_make(series=[calls], start=start, end=end, recurrence="month")
        competitions_advance(now=end)
        competitions_advance(now=timezone.make_aware(datetime(2024, 4, 1)))

        starts = [timezone.localtime(r.start) for r in rounds()]
        ends = [timezone.localtime(r.end) for r in rounds()]
    assert [(s.month, s.day, s.hour) for s in starts] == [(1, 31, 9), (2, 29, 9), (3, 31, 9)]
    assert [(e.month, e.day, e.hour) for e in ends] == [(3, 1, 0), (4, 1, 0), (5, 1, 0)]


def test_a_round_of_a_once_competition_has_no_next_round() -> None:
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls], end=datetime(2024, 5, 20, tzinfo=UTC))

    competitions_advance(now=datetime(2024, 6, 1, tzinfo=UTC))

    assert rounds() == [race]
