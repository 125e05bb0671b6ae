"""Two beats ending the same rounds at once, each on its own PostgreSQL connection: every
round ends once, with one set of frozen standings and winners, and one next round."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from scoring.competitions import Advance, competitions_advance
from scoring.models import Competition, CompetitionStanding, ScoreSeries
from tests.competition_support import players, round_make, score

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def in_threads(jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(job())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a beat is stuck"
    return results, errors


def test_two_racing_beats_end_each_round_once() -> None:
    people = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    now = timezone.now()
    rounds = [
        round_make(series=[calls], start=now - timedelta(days=8), end=now - timedelta(days=1),
                   recurrence="week", name=f"Week {n}")
        for n in range(5)
    ]  # fmt: skip
    for n, player in enumerate(people):
        score(player, calls, 10 - n, now - timedelta(days=2))

    results, errors = in_threads([competitions_advance, competitions_advance])

    assert errors == []
    ended = sorted(pk for result in results for pk in result.ended)
    made = [pk for result in results for pk in result.rounds]
    assert ended == sorted(r.pk for r in rounds)  # each by one beat or the other
    assert all(isinstance(r, Advance) for r in results)
    assert CompetitionStanding.objects.count() == 5 * 3
    assert CompetitionStanding.objects.filter(winner=True).count() == 5
    assert len(made) == Competition.objects.filter(previous_round__isnull=False).count() == 5
