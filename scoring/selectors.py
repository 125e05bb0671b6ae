"""Reads of the scoring app: totals, points over time, leaderboards. Times are point times,
periods are in the site's TIME_ZONE."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from players.models import Player

from .models import DailyTotal, MonthlyTotal, ScoreSeries, Team, Transaction

PERIODS = ("today", "week", "month", "year", "all")
# The days a board's range may start and end on: its day and month arithmetic, in any time zone,
# stays within the years datetime holds (a board over 9999-12 would need 10000-01).
BOARD_FIRST_DAY = date(1, 1, 2)
BOARD_LAST_DAY = date(9998, 12, 31)


def board_day_problem(name: str, day: date) -> str:
    """Why a board cannot start or end on this day, or ""."""
    if BOARD_FIRST_DAY <= day <= BOARD_LAST_DAY:
        return ""
    return f"{name} {day} is out of range: boards cover {BOARD_FIRST_DAY} to {BOARD_LAST_DAY}"


def board_time_problem(name: str, moment: datetime) -> str:
    """Why a board cannot start or end at this time, or ""."""
    try:
        day = moment.astimezone(UTC).date()
    except OverflowError:
        return f"{name} {moment.isoformat()} is out of range"
    return board_day_problem(name, day)


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


def _start_of_day(day: date) -> datetime:
    """The first moment of a day in the site's time zone (where clocks skip midnight, the moment
    they jump): where the daily totals start counting that day."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _first_of_next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _month_on_or_after(day: date) -> date:
    return day if day.day == 1 else _first_of_next_month(day)


@dataclass(frozen=True)
class _Part:
    """Rows whose points make up part of a range, as filter lookups (a query is built only for
    the parts that need one). `key` is "day" or "month" for a single day's or month's totals:
    at most one row per player."""

    model: type[Transaction | DailyTotal | MonthlyTotal]
    lookups: dict[str, Any]
    key: str = ""

    def rows(self) -> QuerySet[Any]:
        return self.model.objects.filter(**self.lookups)


def _parts(series_id: int, since: datetime | None, until: datetime | None, tag: str) -> list[_Part]:
    """[since, until) as the fewest rows to add up: whole months from the monthly totals, the
    whole days left over from the daily totals, a partial day at either end (or a tag, which
    totals do not keep) from the ledger."""

    def ledger(start: datetime | None, end: datetime | None, **lookups: Any) -> _Part:
        if start is not None:
            lookups["point_time__gte"] = start
        if end is not None:
            lookups["point_time__lt"] = end
        return _Part(Transaction, {"series_id": series_id, **lookups})

    if tag:
        return [ledger(since, until, tags__name__iexact=tag)]
    first_day = last_day = None  # whole days: [first_day, last_day); None is open-ended
    partial: list[tuple[datetime, datetime]] = []
    if since is not None:
        first_day = timezone.localtime(since).date()
        if since != _start_of_day(first_day):
            first_day += timedelta(days=1)
            partial.append((since, _start_of_day(first_day)))
    if until is not None:
        last_day = timezone.localtime(until).date()
        if until != _start_of_day(last_day):
            partial.append((_start_of_day(last_day), until))
    if first_day is not None and last_day is not None and first_day >= last_day:
        return [ledger(since, until)]  # within a day or two, no whole day
    parts = [ledger(start, end) for start, end in partial]

    def days(start: date, end: date) -> None:
        if end == start + timedelta(days=1):
            parts.append(_Part(DailyTotal, {"series_id": series_id, "day": start}, "day"))
        else:
            lookups = {"series_id": series_id, "day__gte": start, "day__lt": end}
            parts.append(_Part(DailyTotal, lookups))

    if (
        first_day is not None
        and last_day is not None
        and _month_on_or_after(first_day) >= last_day.replace(day=1)
    ):
        days(first_day, last_day)  # no whole month in between
        return parts
    first_month = last_month = None  # whole months: [first_month, last_month)
    if first_day is not None:
        first_month = _month_on_or_after(first_day)
        if first_day < first_month:
            days(first_day, first_month)
    if last_day is not None:
        last_month = last_day.replace(day=1)
        if last_month < last_day:
            days(last_month, last_day)
    if first_month is not None and last_month == _first_of_next_month(first_month):
        parts.append(_Part(MonthlyTotal, {"series_id": series_id, "month": first_month}, "month"))
        return parts
    months: dict[str, Any] = {"series_id": series_id}
    if first_month is not None:
        months["month__gte"] = first_month
    if last_month is not None:
        months["month__lt"] = last_month
    parts.append(_Part(MonthlyTotal, months))
    return parts


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
    """Players by points in the series within [since, until) of point time, the first `limit`
    of them; ties share a rank (1, 2, 2, 4). Players whose points add up to zero are left out.

    Sums the fewest rows that give the ledger's exact sums (see _parts), in one query that
    applies the limit. A single month (every "month" board) is read in the order of the monthly
    totals' (series, month, points) index: the top N cost N rows, whatever the player count."""
    parts = _parts(series.pk, since, until, tag)
    totals: list[tuple[int, str, Decimal]]
    if len(parts) > 1:
        totals = _union_totals([part.rows() for part in parts], limit)
    elif parts[0].key:
        totals = _one_key_totals(parts[0], limit)
    else:
        rows = (
            parts[0]
            .rows()
            .values("player_id", "player__name")
            .annotate(total=Sum("points"))
            .exclude(total=0)
            .order_by("-total", "player__name", "player_id")
            .values_list("player_id", "player__name", "total")
        )
        totals = list(rows[:limit])
    ranked: list[LeaderboardRow] = []
    for index, (player_id, name, points) in enumerate(totals):
        total = cents(points)
        rank = ranked[-1].rank if ranked and ranked[-1].points == total else index + 1
        ranked.append(LeaderboardRow(rank, player_id, name, total))
    return ranked


# The two statements below are written out, in the order leaderboards use (points descending,
# name, id); every value in them is a parameter.


def _one_key_totals(part: _Part, limit: int | None) -> list[tuple[int, str, Decimal]]:
    """A single day's or month's totals: one row per player, so no GROUP BY, and for a month the
    index gives the rows in order of points. Every month board runs this: building it with the
    ORM took longer than the database takes to answer it."""
    table = connection.ops.quote_name(part.model._meta.db_table)
    player = connection.ops.quote_name(Player._meta.db_table)
    sql = (
        f"SELECT t.player_id, p.name, t.points FROM {table} t "  # noqa: S608
        f"JOIN {player} p ON p.id = t.player_id "
        f"WHERE t.series_id = %s AND t.{part.key} = %s AND t.points <> 0 "
        f"ORDER BY t.points DESC, p.name, t.player_id"
    )
    day = connection.ops.adapt_datefield_value(part.lookups[part.key])
    return _board_rows(sql, [part.lookups["series_id"], day], limit)


def _union_sql(parts: list[QuerySet[Any]]) -> tuple[str, list[Any]]:
    """The parts' rows as one UNION ALL of (lb_player, lb_points)."""
    selects: list[str] = []
    params: list[Any] = []
    for part in parts:
        rows = part.order_by().values(lb_player=F("player_id"), lb_points=F("points"))
        sql, part_params = rows.query.get_compiler(using=rows.db).as_sql()
        selects.append(sql)
        params += part_params
    return " UNION ALL ".join(selects), params


def points_union(
    *, series_ids: list[int], since: datetime | None, until: datetime | None, tag: str = ""
) -> tuple[str, list[Any]]:
    """SQL for the rows whose points add up to every player's points in these series within
    [since, until) of point time (columns lb_player, lb_points): the fewest rows of the
    maintained totals, and of the ledger for partial days and tags (see _parts). For team boards
    and competition standings, which group them their own way."""
    parts = [p.rows() for series_id in series_ids for p in _parts(series_id, since, until, tag)]
    return _union_sql(parts)


def _union_totals(parts: list[QuerySet[Any]], limit: int | None) -> list[tuple[int, str, Decimal]]:
    """SUM per player over the union of the parts' rows (the ORM cannot aggregate a union)."""
    union, params = _union_sql(parts)
    player = connection.ops.quote_name(Player._meta.db_table)
    sql = (
        f"SELECT parts.lb_player, p.name, SUM(parts.lb_points) AS total "  # noqa: S608
        f"FROM ({union}) parts "
        f"JOIN {player} p ON p.id = parts.lb_player "
        f"GROUP BY parts.lb_player, p.name HAVING SUM(parts.lb_points) <> 0 "
        f"ORDER BY total DESC, p.name, parts.lb_player"
    )
    return _board_rows(sql, params, limit)


def _board_rows(sql: str, params: list[Any], limit: int | None) -> list[tuple[int, str, Decimal]]:
    if limit is not None:
        sql += " LIMIT %s"
        params = [*params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class TeamBoardRow:
    rank: int
    team_id: int
    name: str
    points: Decimal


def team_leaderboard(
    *,
    series: ScoreSeries,
    since: datetime | None = None,
    until: datetime | None = None,
    tag: str = "",
    limit: int | None = None,
) -> list[TeamBoardRow]:
    """Teams by the sum of their members' points in the series within [since, until), read as
    player boards are (maintained totals, the ledger for partial days and tags); a player in
    several teams counts in each; membership as it is now. Ties share a rank; teams whose
    points add up to zero are left out."""
    union, params = points_union(series_ids=[series.pk], since=since, until=until, tag=tag)
    members = connection.ops.quote_name(Team.members.through._meta.db_table)
    team = connection.ops.quote_name(Team._meta.db_table)
    sql = (
        f"SELECT m.team_id, t.name, SUM(parts.lb_points) AS total "  # noqa: S608
        f"FROM ({union}) parts JOIN {members} m ON m.player_id = parts.lb_player "
        f"JOIN {team} t ON t.id = m.team_id "
        f"GROUP BY m.team_id, t.name HAVING SUM(parts.lb_points) <> 0 "
        f"ORDER BY total DESC, t.name, m.team_id"
    )
    ranked: list[TeamBoardRow] = []
    for index, (team_id, name, points) in enumerate(_board_rows(sql, params, limit)):
        total = cents(points)
        rank = ranked[-1].rank if ranked and ranked[-1].points == total else index + 1
        ranked.append(TeamBoardRow(rank, team_id, name, total))
    return ranked


def cents(points: Decimal | float) -> Decimal:
    """PostgreSQL adds numeric exactly; SQLite adds in floating point (and drops trailing zeros)."""
    return Decimal(str(points)).quantize(Decimal("0.01"))
