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


class InviteError(Exception):
    pass


def player_invite(*, player: Player, base_url: str) -> str:
    """Convert an offline player to a real one: a login (without a password yet) and an email
    with a one-time link to set the password. The player becomes `invited`. Returns the link."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    if not player.email:
        raise InviteError(f"{player.name} has no email: add one to invite them")
    if player.status == Player.Status.ARCHIVED:
        raise InviteError(f"{player.name} is archived")
    if player.status == Player.Status.ACTIVE:
        raise InviteError(f"{player.name} is already an active player")
    User = get_user_model()
    with transaction.atomic():
        user = player.user
        if user is None:
            username = player.email.lower()
            if User.objects.filter(username=username).exists():
                raise InviteError(f"a login named {username} already exists")
            user = User.objects.create_user(username=username, email=player.email)
            user.set_unusable_password()
            user.save()
            player.user = user
        player.status = Player.Status.INVITED
        player.save(update_fields=["user", "status"])
    token = default_token_generator.make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = base_url.rstrip("/") + reverse("players:invite_accept", args=[uid, token])
    send_mail(
        subject="You are invited to play",
        message=(
            f"Hello {player.name},\n\nyou have been invited to join the competition. "
            f"Set your password here (the link works once):\n\n{link}\n"
        ),
        from_email=None,
        recipient_list=[player.email],
    )
    return link


def invite_accepted(*, player: Player) -> None:
    """The invited player set a password: they are active now."""
    player.status = Player.Status.ACTIVE
    player.save(update_fields=["status"])


def player_archive(*, player: Player) -> None:
    """Archived players keep their history and receive no new points; steps never revive them."""
    player.status = Player.Status.ARCHIVED
    player.save(update_fields=["status"])
