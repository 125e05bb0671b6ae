from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AwardState, PointType, ScoreSeries, Tag, Transaction


class PointTypeInline(admin.TabularInline):
    model = PointType
    extra = 1


@admin.register(ScoreSeries)
class ScoreSeriesAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    inlines = (PointTypeInline,)


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


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "point_time", "player", "series", "points", "kind", "revokes", "step",
        "source_object", "event",
    )  # fmt: skip
    list_filter = ("kind", "series")
    list_select_related = ("player", "series", "step", "event", "revokes")
    search_fields = ("source_object", "player__name", "comment")
    show_full_result_count = False


@admin.register(AwardState)
class AwardStateAdmin(ReadOnlyAdmin):
    list_display = ("step", "object_id", "transaction", "applied_version", "first_point_time")
    list_select_related = ("step", "transaction")
    search_fields = ("object_id",)
