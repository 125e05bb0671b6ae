from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .models import Player, PlayerIdentity
from .services import InviteError, player_archive, player_invite


class DiagnosticsAdmin(admin.ModelAdmin):
    """An internal table: off the index for everyone but superusers, who read it there as
    diagnostics; nobody edits it here (it is the record of what the services did)."""

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        if not request.user.is_superuser:
            return {}
        return {"add": False, "change": False, "delete": False, "view": True}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlayerIdentityInline(admin.TabularInline):
    model = PlayerIdentity
    extra = 1
    verbose_name = "external id"
    verbose_name_plural = "external ids (player id prefix + id in source, e.g. pd:12415231)"


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "status", "external_ids")
    list_filter = ("status",)
    search_fields = ("name", "email", "identities__external_id")
    inlines = (PlayerIdentityInline,)
    # Status changes only through invite, accept and archive (security probe, issue 13 item 1).
    readonly_fields = ["status", "user", "profile", "created_at"]
    fields = ["name", "email", "status", "user", "profile", "created_at"]
    actions = ("invite", "archive")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Player]:
        return super().get_queryset(request).prefetch_related("identities")

    @admin.display(description="profile page")
    def profile(self, obj: Player) -> str:
        if not obj.pk:
            return "—"
        url = reverse("players:profile", args=[obj.pk])
        return format_html('<a href="{}">{}</a> (points, history, as staff see them)', url, url)

    @admin.display(description="external ids")
    def external_ids(self, obj: Player) -> str:
        return ", ".join(i.external_id for i in obj.identities.all())

    @admin.action(description="Convert to real player and invite")
    def invite(self, request: HttpRequest, queryset: QuerySet[Player]) -> None:
        base_url = request.build_absolute_uri("/")
        for player in queryset:
            try:
                invitation = player_invite(player=player, base_url=base_url)
            except InviteError as exc:
                self.message_user(request, f"Not invited: {exc}.", messages.ERROR)
                continue
            self.message_user(request, f"Invited {player.name} ({invitation.email}).")
            if player.email and player.email.lower() != invitation.email.lower():
                self.message_user(
                    request,
                    f"The invitation for {player.name} went to their login's address "
                    f"{invitation.email}: the player's email {player.email} is not the "
                    "login's. A superuser changes a login's email under Users.",
                    messages.WARNING,
                )

    @admin.action(description="Archive (keeps history, no new points, disables the login)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Player]) -> None:
        archived = disabled = 0
        for player in queryset.select_related("user"):
            outcome = player_archive(player=player)
            archived += 1
            disabled += outcome.login_disabled
            if outcome.staff_login_kept and player.user is not None:
                self.message_user(
                    request,
                    f"{player.name}'s login {player.user.username} is a staff login and stays "
                    "enabled; a superuser disables it under Users if it should go.",
                    messages.WARNING,
                )
        logins = f"; disabled {disabled} login(s)" if disabled else ""
        self.message_user(request, f"Archived {archived} player(s){logins}.")


@admin.register(PlayerIdentity)
class PlayerIdentityAdmin(DiagnosticsAdmin):
    list_display = ("external_id", "player")
    search_fields = ("external_id", "player__name")
    raw_id_fields = ("player",)
