from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from players.models import Player

from .chart import points_chart
from .models import Competition, ScoreSeries
from .selectors import (
    PERIODS,
    board_day_problem,
    leaderboard,
    period_bounds,
    player_points_by_day,
    player_totals,
    player_transactions,
    team_leaderboard,
)
from .standings import competition_standings

# A board is a top list: the page shows this many players, and links to all of them.
BOARD_SIZE = 100


class RangeForm(forms.Form):
    period = forms.ChoiceField(
        choices=[(p, p) for p in (*PERIODS, "custom")], required=False, initial="month"
    )
    since = forms.DateField(required=False, help_text="first day (custom range)")
    until = forms.DateField(required=False, help_text="last day, included (custom range)")
    tag = forms.CharField(required=False, max_length=100)

    def clean_since(self) -> object:
        return _board_day(self.cleaned_data.get("since"), "since")

    def clean_until(self) -> object:
        return _board_day(self.cleaned_data.get("until"), "until")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", f"until {until} is before since {since}")
        return data


def _board_day(day: date | None, name: str) -> date | None:
    problem = board_day_problem(name, day) if day is not None else ""
    if problem:
        raise forms.ValidationError(problem)
    return day


def _start_of(day: object) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))  # type: ignore[arg-type]


@staff_member_required
def leaderboard_index(request: HttpRequest) -> HttpResponse:
    return render(request, "scoring/leaderboard_index.html", {"series": ScoreSeries.objects.all()})


@staff_member_required
def leaderboard_page(request: HttpRequest, series_id: int) -> HttpResponse:
    series = get_object_or_404(ScoreSeries, pk=series_id)
    form = RangeForm(request.GET or None)
    rows: list[Any] = []
    label = ""
    show_all_url = ""
    teams = request.GET.get("board") == "teams"  # the teams' board: members' points summed
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        period = data.get("period") or "month"
        if data.get("since") or data.get("until") or period == "custom":
            since = _start_of(data["since"]) if data.get("since") else None
            until = _start_of(data["until"]) + timedelta(days=1) if data.get("until") else None
            label = f"{data.get('since') or 'the start'} to {data.get('until') or 'now'}"
        else:
            since, until = period_bounds(period)
            label = {"today": "today", "week": "this week", "month": "this month",
                     "year": "this year", "all": "all time"}[period]  # fmt: skip
        everyone = request.GET.get("all") == "1"
        board = team_leaderboard if teams else leaderboard
        rows = board(series=series, since=since, until=until, tag=data.get("tag") or "",
                     limit=None if everyone else BOARD_SIZE + 1)  # fmt: skip
        if len(rows) > BOARD_SIZE and not everyone:  # one row more than shown: there are more
            rows = rows[:BOARD_SIZE]
            show_all = request.GET.copy()
            show_all["all"] = "1"
            show_all_url = f"?{show_all.urlencode()}"
    return render(
        request,
        "scoring/leaderboard.html",
        {
            "series": series,
            "form": form,
            "rows": rows,
            "label": label,
            "board_size": BOARD_SIZE,
            "show_all_url": show_all_url,
            "periods": PERIODS,
            "all_series": ScoreSeries.objects.all(),
            "time_zone": timezone.get_current_timezone_name(),
            "teams": teams,
        },
        status=400 if form.is_bound and form.errors else 200,  # the page says which field
    )


HISTORY_PAGE_SIZE = 50


@staff_member_required
def player_profile(request: HttpRequest, player_id: int) -> HttpResponse:
    """A player's totals, points over time and ledger history."""
    player = get_object_or_404(Player.objects.prefetch_related("identities"), pk=player_id)
    by_day = player_points_by_day(player=player)
    names = dict(ScoreSeries.objects.filter(pk__in=by_day).values_list("pk", "name"))
    chart = points_chart({names[pk]: days for pk, days in by_day.items()})
    history = Paginator(player_transactions(player=player), HISTORY_PAGE_SIZE)
    page = history.get_page(request.GET.get("page"))
    return render(
        request,
        "players/profile.html",
        {"player": player, "totals": player_totals(player=player), "chart": chart, "page": page},
    )


@staff_member_required
def competition_index(request: HttpRequest) -> HttpResponse:
    rounds = Competition.objects.prefetch_related("series").order_by("status", "-start", "id")
    return render(request, "scoring/competition_index.html", {"rounds": rounds[:200]})


@staff_member_required
def competition_page(request: HttpRequest, competition_id: int) -> HttpResponse:
    """A round's standings: live while it runs, frozen with its winners once it has ended."""
    competition = get_object_or_404(
        Competition.objects.select_related("tag", "previous_round").prefetch_related(
            "series", "participants"
        ),
        pk=competition_id,
    )
    standings = competition_standings(competition)
    total = sum((s.points for s in standings), Decimal(0))
    return render(
        request,
        "scoring/competition.html",
        {
            "competition": competition,
            "standings": standings,
            "total": total,
            "next_round": Competition.objects.filter(previous_round=competition).first(),
            "time_zone": timezone.get_current_timezone_name(),
        },
    )
