from __future__ import annotations

from django.conf import settings
from django.db import models


class Player(models.Model):
    class Status(models.TextChoices):
        OFFLINE = "offline", "Offline (imported, no login)"
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OFFLINE, db_index=True
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class PlayerIdentity(models.Model):
    """An external id: prefix + id in the source, e.g. `pd:12415231`. Players are matched by it."""

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="identities")
    external_id = models.CharField(
        max_length=255,
        unique=True,  # one player per external id, site-wide; steps look players up by it
        help_text="Player id prefix + player id in source, e.g. pd:12415231.",
    )

    class Meta:
        verbose_name_plural = "player identities"
        ordering = ("external_id",)

    def __str__(self) -> str:
        return self.external_id
