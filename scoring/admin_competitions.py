"""Teams and competitions in the admin: members, points to a team, competitions with their
participants inline and their standings on their page. Checks are the services'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .competitions import (
    Entrant,
    competition_problems,
    competition_status_at,
    entrants_problems,
)
from .models import Competition, CompetitionParticipant, CompetitionStanding, ScoreSeries, Team
from .services import team_points_add
from .standings import competition_standings

# --- teams --------------------------------------------------------------------------------------


class TeamPointsForm(forms.Form):
    series = forms.ModelChoiceField(queryset=ScoreSeries.objects.all())
    points = forms.DecimalField(max_digits=14, decimal_places=2)
    comment = forms.CharField(required=False)
    tags = forms.CharField(required=False, help_text="Tag names, separated by commas.")
    point_time = forms.DateTimeField(required=False, help_text="Empty: now.")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "icon", "member_count")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    fields = ("name", "icon", "members", "add_points")
    readonly_fields = ("add_points",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Team) -> int:
        return obj.member_count  # type: ignore[attr-defined]

    @admin.display(description="points")
    def add_points(self, obj: Team) -> str:
        if obj.pk is None:
            return "Save the team first."
        url = reverse("admin:scoring_team_points", args=[obj.pk])
        return format_html('<a class="button" href="{}">Add points to this team…</a>', url)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.points_view)
        return [
            path("<int:team_id>/points/", view, name="scoring_team_points"),
            *super().get_urls(),
        ]

    def points_view(self, request: HttpRequest, team_id: int) -> HttpResponse:
        """The same points to every member: one manual transaction each, each revocable from
        the ledger (action *Revoke selected manual rows*)."""
        team = get_object_or_404(Team, pk=team_id)
        if not request.user.has_perm("scoring.scoring_admin"):
            return HttpResponse(status=403)
        form = TeamPointsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            tags = tuple(t.strip() for t in data["tags"].split(",") if t.strip())
            try:
                rows = team_points_add(team=team, series=data["series"], points=data["points"],
                                       point_time=data["point_time"], comment=data["comment"],
                                       tag_names=tags)  # fmt: skip
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(None, f"{name}: {'; '.join(errors)}")
            else:
                self.message_user(request, f"{data['points']} points to {len(rows)} members")
                return HttpResponseRedirect(reverse("admin:scoring_team_change", args=[team.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Add points to {team}",
                   "form": form, "team": team, "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/scoring/team/points.html", context)


# --- competitions -------------------------------------------------------------------------------


class CompetitionForm(forms.ModelForm):
    class Meta:
        model = Competition
        fields = ("name", "kind", "mode", "series", "tag", "start", "end", "end_type", "target",
                  "recurrence")  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problems = competition_problems(
            kind=data.get("kind", ""), start=data.get("start"), end=data.get("end"),
            target=data.get("target"), series_count=len(data.get("series") or []),
        )  # fmt: skip
        for name, message in problems.items():
            self.add_error(name, message)
        return data


class ParticipantFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        competition: Competition = self.instance
        entrants = [
            Entrant(
                player_id=form.cleaned_data["player"].pk
                if form.cleaned_data.get("player")
                else None,
                team_id=form.cleaned_data["team"].pk if form.cleaned_data.get("team") else None,
                target=form.cleaned_data.get("target"),
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if any(e.player_id is None and e.team_id is None for e in entrants):
            raise ValidationError("choose a player or a team on every participant row")
        if any(e.player_id is not None and e.team_id is not None for e in entrants):
            raise ValidationError("a participant row names a player or a team, not both")
        problems = entrants_problems(kind=competition.kind, mode=competition.mode,
                                     end_type=competition.end_type, target=competition.target,
                                     entrants=entrants)  # fmt: skip
        if problems:
            raise ValidationError([f"{name}: {message}" for name, message in problems.items()])


class ParticipantInline(admin.TabularInline):
    model = CompetitionParticipant
    formset = ParticipantFormSet
    autocomplete_fields = ("player", "team")
    extra = 2
    verbose_name = "invited participant (none: everyone)"
    verbose_name_plural = "invited participants (none: everyone takes part)"


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    form = CompetitionForm
    list_display = ("name", "kind", "mode", "status", "start", "end", "end_type", "recurrence")
    list_filter = ("status", "kind", "mode", "recurrence")
    search_fields = ("name",)
    filter_horizontal = ("series",)
    autocomplete_fields = ("tag",)
    inlines = (ParticipantInline,)
    readonly_fields = ("status", "ended_at", "previous_round", "standings_table")
    fieldsets = (
        (None, {"fields": ("name", "kind", "mode", "series", "tag")}),
        ("When", {"fields": ("start", "end", "recurrence")}),
        ("How it ends", {"fields": ("end_type", "target")}),
        ("Standings", {"fields": ("status", "ended_at", "previous_round", "standings_table")}),
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An ended round is a record: its standings and winners are frozen.
        if obj is not None and obj.status == Competition.Status.ENDED:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Competition, form: Any, change: bool) -> None:
        obj.status = competition_status_at(obj, timezone.now())
        super().save_model(request, obj, form, change)

    @admin.display(description="standings")
    def standings_table(self, obj: Competition) -> str:
        if obj.pk is None:
            return "—"
        standings = competition_standings(obj)
        if not standings:
            return "No points yet."
        head = format_html(
            "<p>{} · <a href='{}'>staff page</a></p>",
            "frozen at the end" if obj.status == Competition.Status.ENDED else "live",
            reverse("competitions:competition", args=[obj.pk]),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            ((s.rank, s.name, " 🏆" if s.winner else "", s.points,
              s.target if s.target is not None else "—") for s in standings),
        )  # fmt: skip
        return format_html(
            "{}<table><tr><th>rank</th><th>name</th><th>points</th><th>target</th></tr>{}</table>",
            head,
            rows,
        )


@admin.register(CompetitionParticipant)
class CompetitionParticipantAdmin(admin.ModelAdmin):
    """Usually edited inline on their competition."""

    list_display = ("competition", "player", "team", "target")
    list_select_related = ("competition", "player", "team")
    autocomplete_fields = ("competition", "player", "team")
    list_filter = ("competition__status",)


@admin.register(CompetitionStanding)
class CompetitionStandingAdmin(admin.ModelAdmin):
    """Frozen when a round ends: read-only for everyone."""

    list_display = ("competition", "rank", "name", "points", "target", "winner")
    list_select_related = ("competition",)
    list_filter = ("winner", "competition__kind")
    search_fields = ("name", "competition__name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
