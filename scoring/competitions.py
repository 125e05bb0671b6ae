"""Writes of competitions (DESIGN §11): checking and saving a round, moving rounds along
(upcoming → running → ended) and ending them exactly once, with frozen standings and winners.

A round ends when its time is up (beat), or, first to target, when a booking reaches the target:
the booking's own database transaction ends it (`competitions_target_check`, called by the
unit of work when it flushes). Ending claims the round with a conditional UPDATE ... WHERE
status <> 'ended' and writes its frozen standings in the same transaction, so two beats
racing, or a beat and a booking, or a crash half-way, still end it once. Once ended, a round
stays ended with its winners: a revoke after the end changes the ledger and the live boards,
not the frozen result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Competition, CompetitionParticipant, CompetitionStanding, ScoreSeries, Tag
from .standings import Booked, Standing, standings_live, target_decided, winners_pick

logger = logging.getLogger(__name__)


# --- checking and saving a round ----------------------------------------------------------------


@dataclass(frozen=True)
class Entrant:
    """An invited player or team, with its own target if it has one."""

    player_id: int | None = None
    team_id: int | None = None
    target: Decimal | None = None


@dataclass
class CompetitionInput:
    name: str
    kind: str
    series: list[ScoreSeries]
    start: datetime
    end: datetime
    mode: str = Competition.Mode.PLAYERS
    entrants: list[Entrant] = field(default_factory=list)
    tag: Tag | None = None
    end_type: str = Competition.EndType.TIME
    target: Decimal | None = None
    recurrence: str = Competition.Recurrence.ONCE


def competition_problems(
    *, kind: str, start: datetime | None, end: datetime | None, target: Decimal | None,
    series_count: int,
) -> dict[str, str]:  # fmt: skip
    """What is wrong with a round's own fields (the admin form and the API show these)."""
    problems: dict[str, str] = {}
    if start is not None and end is not None and end <= start:
        problems["end"] = f"end {end.isoformat()} is not after start {start.isoformat()}"
    if series_count == 0:
        problems["series"] = "choose at least one score series"
    if target is not None and target <= 0:
        problems["target"] = f"a target must be more than 0, not {target}"
    if kind == Competition.Kind.TOGETHER and target is None:
        problems["target"] = "a together competition needs a target: the points to reach together"
    return problems


def entrants_problems(
    *, kind: str, mode: str, end_type: str, target: Decimal | None, entrants: list[Entrant]
) -> dict[str, str]:
    """What is wrong with a round's participants, given its kind, mode and targets."""
    problems: dict[str, str] = {}
    teams = mode == Competition.Mode.TEAMS
    wrong = [e for e in entrants if (e.team_id is None) == teams]
    if wrong:
        kind_of = "a player" if teams else "a team"
        problems["participants"] = (
            f"{kind_of} cannot take part in a {Competition.Mode(mode).label} competition "
            f"(mode {mode!r})"
        )
    keys = [e.team_id if teams else e.player_id for e in entrants]
    if len(set(keys)) != len(keys):
        problems["participants"] = "a participant is listed twice"
    if kind == Competition.Kind.HEAD_TO_HEAD and len(entrants) != 2:
        who = "teams" if teams else "players"
        problems["participants"] = (
            f"head to head needs exactly two {who}, not {len(entrants) or 'everyone'}"
        )
    for entrant in entrants:
        if entrant.target is not None and entrant.target <= 0:
            problems["targets"] = f"a target must be more than 0, not {entrant.target}"
    needs_target = kind == Competition.Kind.A_TO_B or end_type == Competition.EndType.TARGET
    if (
        needs_target
        and target is None
        and (not entrants or any(e.target is None for e in entrants))
    ):
        problems["target"] = (
            "first to target needs a target: a default target, or one for every participant"
        )
    return problems


def competition_save(*, competition: Competition | None, data: CompetitionInput) -> Competition:
    """Create a round (competition None) or change one that has not ended; raises
    ValidationError naming the fields."""
    problems = {
        **competition_problems(kind=data.kind, start=data.start, end=data.end,
                               target=data.target, series_count=len(data.series)),
        **entrants_problems(kind=data.kind, mode=data.mode, end_type=data.end_type,
                            target=data.target, entrants=data.entrants),
    }  # fmt: skip
    if competition is not None and competition.status == Competition.Status.ENDED:
        problems["status"] = (
            f"competition #{competition.pk} has ended: its standings and winners are frozen"
        )
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        if competition is None:
            competition = Competition()
        else:  # the round as it is now; an ending beat may have claimed it meanwhile
            competition = Competition.objects.select_for_update().get(pk=competition.pk)
            if competition.status == Competition.Status.ENDED:
                raise ValidationError({"status": f"competition #{competition.pk} has ended"})
        for name in ("name", "kind", "mode", "tag", "start", "end", "end_type", "target",
                     "recurrence"):  # fmt: skip
            setattr(competition, name, getattr(data, name))
        competition.status = competition_status_at(competition, timezone.now())
        competition.save()
        competition.series.set(data.series)
        competition.participants.all().delete()
        CompetitionParticipant.objects.bulk_create(
            CompetitionParticipant(competition=competition, player_id=e.player_id,
                                   team_id=e.team_id, target=e.target)
            for e in data.entrants
        )  # fmt: skip
    return competition


def competition_status_at(competition: Competition, now: datetime) -> str:
    """Upcoming before its start, running from then on until it is ended (by beat when its
    time is up, or by its target)."""
    if competition.status == Competition.Status.ENDED:
        return competition.status
    return Competition.Status.RUNNING if competition.start <= now else Competition.Status.UPCOMING


# --- ending ---------------------------------------------------------------------------------


def competition_end(
    *,
    competition_id: int,
    now: datetime | None = None,
    decided: tuple[list[Standing], list[int]] | None = None,
) -> bool:
    """End the round, once: claim it, freeze its standings and record its winners, all in one
    transaction. False when it had ended already (another beat, or its target, was first).
    `decided`: the standings and winners a reached target decided (else: as they are now)."""
    now = now or timezone.now()
    with transaction.atomic():
        # The claim: of two callers, the second waits for the first's commit, then matches
        # no row. A crash before the commit undoes the claim with everything else.
        claimed = (
            Competition.objects.filter(pk=competition_id)
            .exclude(status=Competition.Status.ENDED)
            .update(status=Competition.Status.ENDED, ended_at=now)
        )
        if not claimed:
            return False
        competition = (
            Competition.objects.select_related("tag")
            .prefetch_related("series", "participants")
            .get(pk=competition_id)
        )
        standings, winner_ids = decided or _as_now(competition)
        winners = set(winner_ids)
        teams = competition.mode == Competition.Mode.TEAMS
        CompetitionStanding.objects.bulk_create(
            CompetitionStanding(
                competition=competition,
                team_id=s.participant_id if teams else None,
                player_id=None if teams else s.participant_id,
                name=s.name[:200], points=s.points, rank=s.rank, target=s.target,
                winner=s.participant_id in winners,
            )
            for s in standings
        )  # fmt: skip
    logger.info("competition %s ended; winners %s", competition_id, sorted(winners))
    return True


def _as_now(competition: Competition) -> tuple[list[Standing], list[int]]:
    standings = standings_live(competition)
    return standings, winners_pick(competition, standings)


def competitions_target_check(*, booked: list[Booked]) -> list[int]:
    """End the running first-to-target rounds on the series of these rows (as a booking wrote
    them, in order) whose target has been reached, in the caller's transaction: the booking
    that reached it. One query when none runs."""
    if not booked:
        return []
    candidates = list(
        Competition.objects.filter(
            status=Competition.Status.RUNNING,
            end_type=Competition.EndType.TARGET,
            series__in=sorted({b.series_id for b in booked}),
        )
        .distinct()
        .select_related("tag")
        .prefetch_related("series", "participants")
    )
    return _targets_end(candidates, booked)


def _targets_end(candidates: list[Competition], booked: list[Booked]) -> list[int]:
    ended = []
    for competition in candidates:
        decided = target_decided(competition, booked)
        if decided is not None and competition_end(competition_id=competition.pk, decided=decided):
            ended.append(competition.pk)
    return ended


# --- beat -----------------------------------------------------------------------------------


@dataclass
class Advance:
    started: int = 0
    ended: list[int] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)


def competitions_advance(*, now: datetime | None = None) -> Advance:
    """What beat does every minute: end the rounds whose time is up, start the ones whose time
    has come (ending those already at their target), and create the next round of every
    recurring round that has ended. Safe to run twice at once: each step is a claim."""
    now = now or timezone.now()
    done = Advance()
    open_statuses = [Competition.Status.UPCOMING, Competition.Status.RUNNING]
    due = Competition.objects.filter(status__in=open_statuses, end__lte=now).order_by("end", "id")
    for pk in due.values_list("pk", flat=True):
        if competition_end(competition_id=pk, now=now):
            done.ended.append(pk)
    starting = Competition.objects.filter(status=Competition.Status.UPCOMING, start__lte=now)
    started = list(starting.values_list("pk", flat=True))
    done.started = Competition.objects.filter(
        pk__in=started, status=Competition.Status.UPCOMING
    ).update(status=Competition.Status.RUNNING)
    # A first-to-target round may have reached its target before beat started it, or through
    # rows written without the booking path (rebuilds): look at every running one.
    running = (
        Competition.objects.filter(
            status=Competition.Status.RUNNING, end_type=Competition.EndType.TARGET
        )
        .select_related("tag")
        .prefetch_related("series", "participants")
    )
    done.ended += _targets_end(list(running), [])
    recurring = (
        Competition.objects.filter(status=Competition.Status.ENDED, next_round__isnull=True)
        .exclude(recurrence=Competition.Recurrence.ONCE)
        .order_by("end", "id")
    )
    for competition in recurring:
        following = competition_next_round(competition=competition)
        if following is not None:
            done.rounds.append(following.pk)
    return done


def competition_next_round(*, competition: Competition) -> Competition | None:
    """The round after this one: the same competition, its window moved on by one recurrence
    period, with the same series and participants. None when another beat made it first."""
    months, days = {
        Competition.Recurrence.WEEK: (0, 7),
        Competition.Recurrence.MONTH: (1, 0),
        Competition.Recurrence.YEAR: (12, 0),
    }[Competition.Recurrence(competition.recurrence)]
    # Counted from the first round, so that a round from the 31st stays on the last day of
    # each shorter month instead of drifting to the 28th.
    first, rounds = competition, 1
    while first.previous_round_id is not None:
        first, rounds = Competition.objects.get(pk=first.previous_round_id), rounds + 1
    following = Competition(
        name=competition.name, kind=competition.kind, mode=competition.mode,
        tag_id=competition.tag_id, start=_shift(first.start, months * rounds, days * rounds),
        end=_shift(first.end, months * rounds, days * rounds), end_type=competition.end_type,
        target=competition.target, recurrence=competition.recurrence,
        previous_round=competition,
    )  # fmt: skip
    following.status = competition_status_at(following, timezone.now())
    try:
        with transaction.atomic():  # one next round per round: previous_round is unique
            following.save()
            following.series.set(competition.series.all())
            CompetitionParticipant.objects.bulk_create(
                CompetitionParticipant(competition=following, player_id=p.player_id,
                                       team_id=p.team_id, target=p.target)
                for p in competition.participants.all()
            )  # fmt: skip
    except IntegrityError:
        return None
    return following


def _shift(moment: datetime, months: int, days: int) -> datetime:
    """The same local wall-clock time, `months` months and `days` days on (the 31st of a
    month becomes the last day of a shorter one)."""
    local = timezone.localtime(moment)
    if months:
        month_index = local.month - 1 + months
        year, month = local.year + month_index // 12, month_index % 12 + 1
        last = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        local = local.replace(year=year, month=month, day=min(local.day, last))
    naive = local.replace(tzinfo=None) + timedelta(days=days)
    return timezone.make_aware(naive)
