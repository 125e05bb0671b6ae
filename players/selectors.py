"""Reads of the players app."""

from __future__ import annotations

from .models import Player, PlayerIdentity


def player_by_external_id(external_id: str) -> Player | None:
    """The player with this identity (e.g. pd:42): players are matched by identity only."""
    identity = PlayerIdentity.objects.select_related("player").filter(external_id=external_id)
    found = identity.first()
    return found.player if found is not None else None
