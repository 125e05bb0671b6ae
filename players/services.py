"""Writes of the players app."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .models import Player, PlayerIdentity


@dataclass(frozen=True)
class PlayerUpsert:
    player: Player
    created: bool
    updated: bool


def player_upsert(*, external_id: str, name: str, email: str) -> PlayerUpsert:
    """The users step: find the player by identity; create an offline one if missing.

    Name and email are updated only while the player is still offline (an invited or active
    player owns their profile). An empty name never overwrites; a new player without a name is
    named after the external id.
    """
    identity = PlayerIdentity.objects.select_related("player").filter(external_id=external_id)
    found = identity.first()
    if found is None:
        player, created = player_create_with_identity(
            external_id=external_id, name=name, email=email
        )
        if created:
            return PlayerUpsert(player=player, created=True, updated=False)
    else:
        player = found.player
    changed = []
    if player.status == Player.Status.OFFLINE:
        if name and player.name != name:
            player.name = name
            changed.append("name")
        if email and player.email != email:
            player.email = email
            changed.append("email")
    if changed:
        player.save(update_fields=changed)
    return PlayerUpsert(player=player, created=False, updated=bool(changed))


def player_create_with_identity(*, external_id: str, name: str, email: str) -> tuple[Player, bool]:
    """Create an offline player with this identity, or return the one another worker just made."""
    try:
        with transaction.atomic():  # savepoint: a lost race must not spoil the caller's work
            player = Player.objects.create(name=name or external_id, email=email)
            PlayerIdentity.objects.create(player=player, external_id=external_id)
            return player, True
    except IntegrityError:
        identity = PlayerIdentity.objects.select_related("player").get(external_id=external_id)
        return identity.player, False
