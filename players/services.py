"""Writes of the players app."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .models import Player, PlayerIdentity
from .selectors import player_by_external_id


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
    found = player_by_external_id(external_id)
    if found is None:
        player, created = player_create_with_identity(
            external_id=external_id, name=name, email=email
        )
        if created:
            return PlayerUpsert(player=player, created=True, updated=False)
    else:
        player = found
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


@dataclass(frozen=True)
class Invitation:
    link: str
    email: str  # where it went: always the login's own address


def player_invite(*, player: Player, base_url: str) -> Invitation:
    """Convert an offline player to a real one: a login (without a password yet) and an email
    with a one-time link to set the password. The player becomes `invited`.

    A set-password link is a password reset, so it is issued only for a login that has no
    usable password yet and is not staff, and it goes only to the login's own email: whoever
    may edit players (a scoring admin) must not be able to point it at another login or another
    address (security probe, issue 13 item 1).
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    User = get_user_model()
    with transaction.atomic():
        # Locked: two admins inviting at once must not create two logins.
        player = Player.objects.select_for_update().get(pk=player.pk)
        user = player.user
        if player.status == Player.Status.ARCHIVED:
            raise InviteError(f"{player.name} is archived")
        if user is not None and (user.is_staff or user.is_superuser):
            raise InviteError(
                f"{player.name}'s login {user.username} is a staff login; a superuser sets its "
                "password under Users"
            )
        if player.status == Player.Status.ACTIVE:
            raise InviteError(f"{player.name} is already an active player")
        if user is None:
            if not player.email:
                raise InviteError(f"{player.name} has no email: add one to invite them")
            username = player.email.lower()
            if User.objects.filter(username=username).exists():
                raise InviteError(f"a login named {username} already exists")
            user = User.objects.create_user(username=username, email=player.email)  # no password
            player.user = user
        elif not user.is_active:
            raise InviteError(
                f"{player.name}'s login {user.username} is disabled; a superuser enables it "
                "under Users"
            )
        elif user.has_usable_password():
            raise InviteError(
                f"{player.name}'s login {user.username} already has a password: they sign in "
                "with it"
            )
        elif not user.email:
            raise InviteError(
                f"{player.name}'s login {user.username} has no email; a superuser adds one "
                "under Users"
            )
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
        recipient_list=[user.email],
    )
    return Invitation(link=link, email=user.email)


def invitation_accept(*, player: Player, password: str) -> None:
    """The invited player chose a password (already validated): set it; they are active now.

    Only an invited player can accept: a link still in someone's mailbox must not revive an
    archived player or reset the password of one who is active already.
    """
    with transaction.atomic():
        player = Player.objects.select_for_update().get(pk=player.pk)
        user = player.user
        if player.status != Player.Status.INVITED or user is None or not user.is_active:
            raise InviteError(f"{player.name} is {player.status}, not invited")
        user.set_password(password)  # a new password makes the link's token invalid
        user.save(update_fields=["password"])
        player.status = Player.Status.ACTIVE
        player.save(update_fields=["status"])


@dataclass(frozen=True)
class PlayerArchived:
    login_disabled: bool  # the player's login can no longer sign in
    staff_login_kept: bool  # a staff login is left for a superuser to disable under Users


def player_archive(*, player: Player) -> PlayerArchived:
    """Archived players keep their history and receive no new points; steps never revive them.

    Their login is disabled: inactive (no sign-in, sessions and API tokens stop working) and
    without a usable password (which also voids any invitation link still out). A staff login is
    left alone: whoever may archive players (a scoring admin) must not lock out staff.
    """
    with transaction.atomic():
        player = Player.objects.select_for_update().get(pk=player.pk)
        player.status = Player.Status.ARCHIVED
        player.save(update_fields=["status"])
        user = player.user
        if user is None:
            return PlayerArchived(login_disabled=False, staff_login_kept=False)
        if user.is_staff or user.is_superuser:
            return PlayerArchived(login_disabled=False, staff_login_kept=True)
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
        return PlayerArchived(login_disabled=True, staff_login_kept=False)
