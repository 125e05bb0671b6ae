from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from players.admin import DiagnosticsAdmin, PlayerAdmin
from players.models import Player

from .ledger_csv import ledger_related, ledger_write
from .masters import master_rebuild, series_master_problems, series_master_set
from .models import AwardState, DailyTotal, MonthlyTotal, PointType, ScoreSeries, Tag, Transaction
from .services import transaction_cancel


class CappedCountPaginator(Paginator):
    """Counting a big table costs more than showing a page: count at most CAP rows."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()  # type: ignore[attr-defined]


def admin_link(obj: Any, text: Any = None) -> str:
    """A link to the object's admin page (a dash for none), for the columns of every admin."""
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


class PointTypeInline(admin.TabularInline):
    model = PointType
    extra = 1


class ScoreSeriesForm(forms.ModelForm):
    class Meta:
        model = ScoreSeries
        fields = ("name", "master", "master_factor")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problems = series_master_problems(
            series=self.instance, master=data.get("master"), factor=data.get("master_factor")
        )
        for name, message in problems.items():
            self.add_error(name, message)
        return data


@admin.register(ScoreSeries)
class ScoreSeriesAdmin(admin.ModelAdmin):
    form = ScoreSeriesForm
    list_display = ("name", "point_type_names", "master_link")
    list_select_related = ("master",)
    search_fields = ("name",)
    inlines = (PointTypeInline,)
    actions = ("rebuild_masters",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScoreSeries]:
        return super().get_queryset(request).prefetch_related("point_types")

    def save_model(self, request: HttpRequest, obj: ScoreSeries, form: Any, change: bool) -> None:
        master, factor = obj.master, obj.master_factor
        super().save_model(request, obj, form, change)
        if {"master", "master_factor"} & set(form.changed_data):  # checked again, under lock
            series_master_set(series=obj, master=master, factor=factor)

    @admin.display(description="master series")
    def master_link(self, obj: ScoreSeries) -> str:
        if obj.master is None:
            return "—"
        return format_html("{} x {}", admin_link(obj.master), obj.master_factor.normalize())

    @admin.action(description="Rebuild selected master series from their links")
    def rebuild_masters(self, request: HttpRequest, queryset: QuerySet[ScoreSeries]) -> None:
        for master in queryset:
            try:
                done = master_rebuild(master=master)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                continue
            self.message_user(
                request, f"{master.name}: {done.revoked} derived rows revoked, {done.booked} booked"
            )

    @admin.display(description="point types")
    def point_type_names(self, obj: ScoreSeries) -> str:
        return ", ".join(f"{p.name} = {p.points}" for p in obj.point_types.all()) or "—"


@admin.register(PointType)
class PointTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "series", "points")
    list_filter = ("series",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is append-only: nobody edits or deletes its rows from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in Tag.objects.order_by("name").values_list("name", flat=True)[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(tags__name__iexact=value) if value else queryset


# The event's columns a ledger list never shows (scoring names them; it does not import events).
EVENT_LARGE_FIELDS = ("event__body", "event__outcome", "event__headers")


class PlayerFilter(admin.SimpleListFilter):
    """Set by the links from a player's page (?player=<id>); shows only the chosen player."""

    title = "player"
    parameter_name = "player"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        player_id = player_id_from(self.value())
        if player_id is None:
            return []
        return [(str(p.pk), p.name) for p in Player.objects.filter(pk=player_id)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        player_id = player_id_from(self.value())
        return queryset if player_id is None else queryset.filter(player_id=player_id)


def player_id_from(value: Any) -> int | None:
    """The player id a ?player= holds, or None: ASCII digits few enough for a bigint
    (str.isdigit() also takes '²', which int() refuses)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value):
        return int(value)
    return None


def player_param_problem(request: HttpRequest) -> str:
    """Why the ledger's ?player= is not a player id, or "" (absent or fine)."""
    value = request.GET.get(PlayerFilter.parameter_name)
    if value is None or player_id_from(value) is not None:
        return ""
    return f"player must be a player id (a whole number), not {value[:40]!r}"


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "point_time", "player_link", "series", "points", "kind",
                    "revokes_link", "step_link", "event_link", "source_object")  # fmt: skip
    list_filter = ("series", "kind", TagFilter, PlayerFilter)
    list_select_related = ("player", "series", "step", "event", "revokes")
    search_fields = ("source_object", "player__name", "player__identities__external_id", "comment")
    search_help_text = "Search by player name or external id, source object (deal:123), comment."
    date_hierarchy = "point_time"
    paginator = CappedCountPaginator
    show_full_result_count = False
    fields = ("id", "kind", "player_link", "series", "points", "point_type", "tag_names",
              "comment", "point_time", "created_at", "revokes_link", "revoked_by_link",
              "derived_from_link", "step_link", "event_link", "source_object")  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        # The event column is a link by id: one delivery's body or outcome can be megabytes.
        return super().get_queryset(request).defer(*EVENT_LARGE_FIELDS)

    actions = ("revoke_manual_rows",)

    def has_scoring_admin_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scoring.scoring_admin")

    @admin.action(
        description="Revoke selected manual rows (points added by hand)",
        permissions=["scoring_admin"],
    )
    def revoke_manual_rows(self, request: HttpRequest, queryset: QuerySet[Transaction]) -> None:
        done = 0
        for row_id in queryset.values_list("pk", flat=True):
            try:
                transaction_cancel(transaction_id=row_id)
                done += 1
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.WARNING)
        self.message_user(request, f"{done} row(s) revoked")

    def get_urls(self) -> list[Any]:
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/", export, name="scoring_transaction_export"), *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The ledger CSV (DESIGN §8) of what the list shows: same filters, search and dates."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        if problem := player_param_problem(request):
            return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
        changelist: ChangeList = self.get_changelist_instance(request)
        rows = changelist.get_queryset(request).order_by("id")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="ledger.csv"'
        ledger_write(response, ledger_related(rows))
        return response

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        if problem := player_param_problem(request):
            return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
        query = request.GET.urlencode()
        export = reverse("admin:scoring_transaction_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), "export_url": export})

    @admin.display(description="player", ordering="player__name")
    def player_link(self, obj: Transaction) -> str:
        return admin_link(obj.player)

    @admin.display(description="revokes")
    def revokes_link(self, obj: Transaction) -> str:
        return admin_link(obj.revokes, f"#{obj.revokes_id}") if obj.revokes_id else ""

    @admin.display(description="revoked by")
    def revoked_by_link(self, obj: Transaction) -> str:
        revoke = Transaction.objects.filter(revokes=obj).first()
        return admin_link(revoke, f"#{revoke.pk}") if revoke else ""

    @admin.display(description="derived from")
    def derived_from_link(self, obj: Transaction) -> str:
        """A master series' row: the row of the linked series it stands for."""
        if not obj.derived_from_id:
            return ""
        return admin_link(obj.derived_from, f"#{obj.derived_from_id}")

    @admin.display(description="step")
    def step_link(self, obj: Transaction) -> str:
        return admin_link(obj.step) if obj.step_id else ""

    @admin.display(description="event")
    def event_link(self, obj: Transaction) -> str:
        return admin_link(obj.event, f"#{obj.event_id}") if obj.event_id else ""

    @admin.display(description="tags")
    def tag_names(self, obj: Transaction) -> str:
        return ", ".join(t.name for t in obj.tags.all()) or "—"


@admin.register(AwardState)
class AwardStateAdmin(DiagnosticsAdmin, ReadOnlyAdmin):
    list_display = ("step", "object_id", "transaction", "applied_version", "first_point_time")
    list_select_related = ("step", "transaction")
    search_fields = ("object_id",)
    paginator = CappedCountPaginator
    show_full_result_count = False


class TotalsAdmin(DiagnosticsAdmin, ReadOnlyAdmin):
    list_filter = ("series",)
    list_select_related = ("series", "player")
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(DailyTotal)
class DailyTotalAdmin(TotalsAdmin):
    """Maintained sums of the ledger per series, day and player (read by leaderboards)."""

    list_display = ("day", "series", "player", "points")
    date_hierarchy = "day"


@admin.register(MonthlyTotal)
class MonthlyTotalAdmin(TotalsAdmin):
    """Maintained sums of the ledger per series, month and player (read by leaderboards)."""

    list_display = ("month", "series", "player", "points")
    date_hierarchy = "month"


# The players admin, with each player's points per series: scoring's data, added here.
admin.site.unregister(Player)


@admin.register(Player)
class PlayerPointsAdmin(PlayerAdmin):
    # The players app's fields (status read-only there), with the points added before created_at.
    readonly_fields = [*PlayerAdmin.readonly_fields, "totals"]
    fields = [*PlayerAdmin.fields[:-1], "totals", PlayerAdmin.fields[-1]]

    @admin.display(description="points per series")
    def totals(self, obj: Player) -> str:
        if not obj.pk:
            return "—"
        rows = (
            Transaction.objects.filter(player=obj)
            .values("series_id", "series__name")
            .annotate(total=Sum("points"))
            .order_by("series__name")
        )
        ledger = reverse("admin:scoring_transaction_changelist")
        return format_html_join(
            mark_safe("<br>"),
            '{}: {} (<a href="{}?player={}&series__id__exact={}">transactions</a>)',
            ((r["series__name"], r["total"], ledger, obj.pk, r["series_id"]) for r in rows),
        ) or format_html("no points yet")


# Teams and competitions have their own module; importing it registers them.
from . import admin_competitions  # noqa: E402, F401
