"""Helpers for the competition tests: players, series and rounds made through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from players.models import Player
from players.services import player_upsert
from scoring.competitions import CompetitionInput, Entrant, competition_save
from scoring.models import Competition, ScoreSeries, Tag, Transaction
from scoring.services import score_add
from scoring.standings import competition_standings

START = datetime(2024, 5, 6, 13, 30, tzinfo=UTC)  # a Monday afternoon: partial days at both ends
END = START + timedelta(days=10, hours=2)


def players(*names: str) -> list[Player]:
    return [player_upsert(external_id=f"p:{n}", name=n, email="").player for n in names]


def round_make(
    *,
    series: list[ScoreSeries],
    kind: str = "leaderboard",
    mode: str = "players",
    entrants: list[Entrant] | None = None,
    start: datetime = START,
    end: datetime = END,
    tag: Tag | None = None,
    end_type: str = "time",
    target: Decimal | int | None = None,
    recurrence: str = "once",
    name: str = "Spring push",
) -> Competition:
    return competition_save(
        competition=None,
        data=CompetitionInput(
            name=name, kind=kind, mode=mode, series=series, start=start, end=end, tag=tag,
            entrants=entrants or [], end_type=end_type,
            target=Decimal(target) if target is not None else None, recurrence=recurrence,
        ),
    )  # fmt: skip


def score(
    player: Player, series: ScoreSeries, points: int | str, when: datetime, key: str = "",
    tags: tuple[str, ...] = (),
) -> Transaction:  # fmt: skip
    """Add score (the Custom integration's service): with a key, the same key again replaces it."""
    result = score_add(player=player, series=series, points=Decimal(points), point_time=when,
                       tag_names=tags, source_score_id=key)  # fmt: skip
    assert result.active is not None
    return result.active


def table(competition: Competition) -> list[tuple[int, str, Decimal]]:
    """(rank, name, points) of the round's standings now, read fresh."""
    fresh = Competition.objects.get(pk=competition.pk)
    return [(s.rank, s.name, s.points) for s in competition_standings(fresh)]


def winners(competition: Competition) -> list[str]:
    fresh = Competition.objects.get(pk=competition.pk)
    return sorted(s.name for s in competition_standings(fresh) if s.winner)


def at(days: float = 0, hours: float = 0) -> datetime:
    return START + timedelta(days=days, hours=hours)


def ledger_points(player: Player, series: list[ScoreSeries], since: Any, until: Any) -> Decimal:
    """Summed straight from the ledger's rows, for comparison."""
    rows = Transaction.objects.filter(player=player, series__in=series,
                                      point_time__gte=since, point_time__lt=until)  # fmt: skip
    return sum((r.points for r in rows), Decimal(0))
