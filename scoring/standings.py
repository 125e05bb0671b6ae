"""Reads of competitions: a round's standings and who wins it.

Live standings are the participants' points in the round's series within [start, end) of point
time, summed from the maintained totals (the ledger only for partial days at the edges and for
a tag, as leaderboards read it), never by summing the whole ledger. An ended round reads the
standings frozen when it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection

from players.models import Player

from .models import Competition, Team
from .selectors import cents, points_union


@dataclass(slots=True)
class Standing:
    participant_id: int  # a player's id, or a team's in a team vs team round
    name: str
    points: Decimal
    rank: int  # ties share a rank (1, 2, 2, 4)
    target: Decimal | None  # the participant's own target, else the round's default
    winner: bool = False  # only in frozen standings

    @property
    def reached(self) -> bool:
        return self.target is not None and self.points >= self.target


def competition_standings(competition: Competition) -> list[Standing]:
    """The round's standings now: frozen if it has ended, else live."""
    if competition.status == Competition.Status.ENDED:
        return [
            Standing(
                s.player_id or s.team_id,  # type: ignore[arg-type]
                s.name,
                s.points,
                s.rank,
                s.target,
                s.winner,
            )
            for s in competition.standings.order_by("rank", "name", "id")
        ]
    return standings_live(competition)


def standings_live(competition: Competition) -> list[Standing]:
    """Every invited participant (with zero points too), or, when nobody is invited, every
    player with points in the window (every team in team vs team), ranked by points."""
    series_ids = sorted(s.pk for s in competition.series.all())
    participants = list(competition.participants.all())
    teams = competition.mode == Competition.Mode.TEAMS
    targets = {(p.team_id if teams else p.player_id): p.target for p in participants}
    invited = sorted(pk for pk in targets if pk is not None)
    if not series_ids:
        return _ranked(competition, {}, targets)
    tag = competition.tag.name if competition.tag_id is not None else ""  # type: ignore[union-attr]
    union, params = points_union(
        series_ids=series_ids, since=competition.start, until=competition.end, tag=tag
    )
    placeholders = ", ".join(["%s"] * len(invited))
    # Summed, named and ordered by the database, as leaderboards are: for a round open to
    # everyone that is the whole board (thousands of players), with no second query.
    if teams:
        members = connection.ops.quote_name(Team.members.through._meta.db_table)
        team = connection.ops.quote_name(Team._meta.db_table)
        where = f"WHERE m.team_id IN ({placeholders})" if invited else ""
        sql = (
            f"SELECT m.team_id, t.name, SUM(parts.lb_points) AS total "  # noqa: S608
            f"FROM ({union}) parts JOIN {members} m ON m.player_id = parts.lb_player "
            f"JOIN {team} t ON t.id = m.team_id {where} GROUP BY m.team_id, t.name "
        )
    else:
        player = connection.ops.quote_name(Player._meta.db_table)
        where = f"WHERE parts.lb_player IN ({placeholders})" if invited else ""
        sql = (
            f"SELECT parts.lb_player, p.name, SUM(parts.lb_points) AS total "  # noqa: S608
            f"FROM ({union}) parts JOIN {player} p ON p.id = parts.lb_player {where} "
            f"GROUP BY parts.lb_player, p.name "
        )
    sql += "HAVING SUM(parts.lb_points) <> 0 ORDER BY total DESC, 2, 1"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *invited])
        rows = cursor.fetchall()
    if invited or teams:  # those without points stand too, with zero
        return _ranked(competition, {pk: cents(points) for pk, _, points in rows}, targets)
    default = competition.target
    ranked: list[Standing] = []
    previous: Standing | None = None
    for index, (pk, name, points) in enumerate(rows):
        total = cents(points)
        rank = previous.rank if previous is not None and previous.points == total else index + 1
        previous = Standing(pk, name, total, rank, default)
        ranked.append(previous)
    return ranked


def _ranked(
    competition: Competition, sums: dict[int, Decimal], targets: dict[int | None, Decimal | None]
) -> list[Standing]:
    """Participants with their points, ranked: every invited one, or when nobody is invited
    every team (team vs team) or every player with points."""
    teams = competition.mode == Competition.Mode.TEAMS
    invited = {pk for pk in targets if pk is not None}
    if invited:
        ids = invited
    elif teams:
        ids = set(Team.objects.values_list("pk", flat=True))
    else:
        ids = {pk for pk, points in sums.items() if points}
    model = Team if teams else Player
    names = dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
    rows = sorted(
        ((pk, names[pk], sums.get(pk, Decimal("0.00"))) for pk in ids if pk in names),
        key=lambda row: (-row[2], row[1].lower(), row[0]),
    )
    ranked: list[Standing] = []
    for index, (pk, name, points) in enumerate(rows):
        rank = ranked[-1].rank if ranked and ranked[-1].points == points else index + 1
        own = targets.get(pk)
        ranked.append(
            Standing(pk, name, points, rank, own if own is not None else competition.target)
        )
    return ranked


class Booked(NamedTuple):
    """A ledger row as a booking wrote it, for deciding who reached a target first."""

    series_id: int
    player_id: int
    point_time: datetime
    points: Decimal
    tag_ids: frozenset[int]


def target_decided(
    competition: Competition, booked: list[Booked]
) -> tuple[list[Standing], list[int]] | None:
    """If the first-to-target round has been decided: its standings at the row that decided it
    and its winners; else None.

    A booking checks after many rows (a drained batch, a pulled page): stepping back over those
    of its rows that count here and adding them again one by one, in the order they were
    booked, finds the row that reached the target first, so a batch ends the round as the same
    events one at a time would have. Rows from before the booking (a round beat has just
    started) decide together."""
    standings = standings_live(competition)
    if not target_reached(competition, standings):
        return None
    series_ids = {s.pk for s in competition.series.all()}
    counted = [
        b for b in booked
        if b.series_id in series_ids and competition.start <= b.point_time < competition.end
        and (competition.tag_id is None or competition.tag_id in b.tag_ids)
    ]  # fmt: skip
    teams = competition.mode == Competition.Mode.TEAMS
    targets: dict[int | None, Decimal | None] = {
        (p.team_id if teams else p.player_id): p.target for p in competition.participants.all()
    }
    invited = {pk for pk in targets if pk is not None}
    owners: dict[int, list[int]] = {}  # player id -> the participants their points count for
    if teams:
        through = Team.members.through.objects.filter(player_id__in={b.player_id for b in counted})
        for player_id, team_id in through.values_list("player_id", "team_id"):
            if not invited or team_id in invited:
                owners.setdefault(player_id, []).append(team_id)
    else:
        owners = {b.player_id: [b.player_id] for b in counted
                  if not invited or b.player_id in invited}  # fmt: skip
    sums = {s.participant_id: s.points for s in standings}
    for b in counted:
        for pk in owners.get(b.player_id, []):
            sums[pk] = sums.get(pk, Decimal(0)) - b.points
    at_start = _ranked(competition, sums, targets)
    if target_reached(competition, at_start):
        return standings, winners_pick(competition, standings)
    for b in counted:
        for pk in owners.get(b.player_id, []):
            sums[pk] += b.points
        if b.points > 0 and owners.get(b.player_id):
            now = _ranked(competition, sums, targets)
            if target_reached(competition, now):
                return now, winners_pick(competition, now)
    return standings, winners_pick(competition, standings)


def winners_pick(competition: Competition, standings: list[Standing]) -> list[int]:
    """Who wins the round with these standings:
    - together: everyone in the standings when their points add up to the shared target;
    - A to B, or any first-to-target round: everyone who has reached their target;
    - leaderboard and head to head by time: first place (a tie is shared), if it has points.
    """
    if competition.kind == Competition.Kind.TOGETHER:
        target = competition.target
        total = sum((s.points for s in standings), Decimal(0))
        return [s.participant_id for s in standings] if target and total >= target else []
    if competition.kind == Competition.Kind.A_TO_B or (
        competition.end_type == Competition.EndType.TARGET
    ):
        return [s.participant_id for s in standings if s.reached]
    return [s.participant_id for s in standings if s.rank == 1 and s.points > 0]


def target_reached(competition: Competition, standings: list[Standing]) -> bool:
    """Has a first-to-target round been decided: someone at their target (together: all
    points together at the shared target)?"""
    if competition.kind == Competition.Kind.TOGETHER:
        total = sum((s.points for s in standings), Decimal(0))
        return competition.target is not None and total >= competition.target
    return any(s.reached for s in standings)
