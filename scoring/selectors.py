"""Reads of the scoring app: totals, points over time, leaderboards. Times are point times,
periods are in the site's TIME_ZONE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from players.models import Player

from .models import DailyTotal, ScoreSeries, Transaction

PERIODS = ("today", "week", "month", "year", "all")


def period_bounds(
    period: str, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """[since, until) of a named period in the site's time zone; (None, None) for all time.
    Weeks start on Monday."""
    now = timezone.localtime(now or timezone.now())
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return start_of_day, start_of_day + timedelta(days=1)
    if period == "week":
        since = start_of_day - timedelta(days=start_of_day.weekday())
        return since, since + timedelta(days=7)
    if period == "month":
        since = start_of_day.replace(day=1)
        return since, (since + timedelta(days=32)).replace(day=1)
    if period == "year":
        since = start_of_day.replace(month=1, day=1)
        return since, since.replace(year=since.year + 1)
    return None, None


def _in_range(
    rows: QuerySet[Transaction], since: datetime | None, until: datetime | None
) -> QuerySet[Transaction]:
    if since is not None:
        rows = rows.filter(point_time__gte=since)
    if until is not None:
        rows = rows.filter(point_time__lt=until)
    return rows


@dataclass(frozen=True)
class SeriesTotal:
    series: ScoreSeries
    all_time: Decimal
    this_month: Decimal


def player_totals(*, player: Player) -> list[SeriesTotal]:
    """All-time and this month's points per series, in one query."""
    since, until = period_bounds("month")
    rows = (
        Transaction.objects.filter(player=player)
        .values("series")
        .annotate(
            all_time=Sum("points"),
            this_month=Sum("points", filter=Q(point_time__gte=since, point_time__lt=until)),
        )
        .order_by()
    )
    series = {s.pk: s for s in ScoreSeries.objects.filter(pk__in=[r["series"] for r in rows])}
    totals = [
        SeriesTotal(series[r["series"]], r["all_time"] or Decimal(0), r["this_month"] or Decimal(0))
        for r in rows
    ]
    return sorted(totals, key=lambda t: t.series.name.lower())


def player_points_by_day(*, player: Player) -> dict[int, list[tuple[date, Decimal]]]:
    """Per series, the points booked per day (site time zone), oldest first."""
    rows = (
        Transaction.objects.filter(player=player)
        .annotate(day=TruncDate("point_time", tzinfo=timezone.get_current_timezone()))
        .values("series", "day")
        .annotate(points=Sum("points"))
        .order_by("series", "day")
    )
    result: dict[int, list[tuple[date, Decimal]]] = {}
    for row in rows:
        result.setdefault(row["series"], []).append((row["day"], row["points"]))
    return result


def player_transactions(*, player: Player) -> QuerySet[Transaction]:
    return (
        Transaction.objects.filter(player=player)
        .select_related("series", "point_type", "step", "revokes")
        .prefetch_related("tags")
        .order_by("-point_time", "-id")
    )


def _whole_day(moment: datetime | None) -> bool:
    if moment is None:
        return True
    local = timezone.localtime(moment)
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    player_id: int
    name: str
    points: Decimal


def leaderboard(
    *,
    series: ScoreSeries,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str = "",
    limit: int | None = None,
) -> list[LeaderboardRow]:
    """Players by points in the series within [since, until) of point time; ties share a rank
    (1, 2, 2, 4). Players whose points add up to zero are left out.

    Whole days in the site's time zone (every named period) are read from the maintained daily
    totals; a tag or a range that starts or ends within a day is summed from the ledger."""
    rows: Any
    if not tag and _whole_day(since) and _whole_day(until):
        rows = DailyTotal.objects.filter(series=series)
        if since is not None:
            rows = rows.filter(day__gte=timezone.localtime(since).date())
        if until is not None:
            rows = rows.filter(day__lt=timezone.localtime(until).date())
    else:
        rows = _in_range(Transaction.objects.filter(series=series), since, until)
        if tag:
            rows = rows.filter(tags__name__iexact=tag)
    totals = (
        rows.values("player_id", "player__name")
        .annotate(total=Sum("points"))
        .exclude(total=0)
        .order_by("-total", "player__name", "player_id")
    )
    if limit is not None:
        totals = totals[:limit]
    ranked: list[LeaderboardRow] = []
    for index, row in enumerate(totals):
        rank = ranked[-1].rank if ranked and ranked[-1].points == row["total"] else index + 1
        ranked.append(LeaderboardRow(rank, row["player_id"], row["player__name"], row["total"]))
    return ranked
