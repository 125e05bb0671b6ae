from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Player, PlayerIdentity


class PlayerIdentityInline(admin.TabularInline):
    model = PlayerIdentity
    extra = 1


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "status", "external_ids")
    list_filter = ("status",)
    search_fields = ("name", "email", "identities__external_id")
    inlines = (PlayerIdentityInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Player]:
        return super().get_queryset(request).prefetch_related("identities")

    @admin.display(description="external ids")
    def external_ids(self, obj: Player) -> str:
        return ", ".join(i.external_id for i in obj.identities.all())


@admin.register(PlayerIdentity)
class PlayerIdentityAdmin(admin.ModelAdmin):
    list_display = ("external_id", "player")
    search_fields = ("external_id", "player__name")
    raw_id_fields = ("player",)
