"""Invitations and account takeover (security probe, issue 13 item 1).

A scoring admin set a player's status back to `invited` and their email to an address the admin
owned, then ran *Convert to real player and invite*: the link for the player's existing login (a
superuser's) went to that address and set its password. Now a player's status changes only
through invite, accept and archive; a set-password link is issued only for a login without a
usable password, never for a staff login, and only to the login's own email; an outstanding link
does not revive an archived player; and archiving disables the player's login.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, User
from django.core import mail
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from players.models import Player
from players.services import player_upsert

pytestmark = pytest.mark.django_db

ROOT_PASSWORD = "R00t-original-pass"
ATTACKER_PASSWORD = "Att4cker-chosen-pass"


@pytest.fixture
def sam(db: None) -> User:
    """A scoring admin: may change players, not users."""
    user = User.objects.create_user("sam", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    return user


@pytest.fixture
def sam_admin(sam: User) -> Client:
    client = Client()
    client.force_login(sam)
    return client


@pytest.fixture
def sam_api(sam: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=sam).key}")
    return client


def signs_in(username: str, password: str) -> bool:
    return authenticate(HttpRequest(), username=username, password=password) is not None


def invite_action(client: Client, player: Player) -> str:
    response = client.post(
        reverse("admin:players_player_changelist"),
        {"action": "invite", "_selected_action": [player.pk]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def archive_action(client: Client, player: Player) -> str:
    response = client.post(
        reverse("admin:players_player_changelist"),
        {"action": "archive", "_selected_action": [player.pk]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def links_in(messages: list[mail.EmailMessage]) -> list[str]:
    return [path for m in messages for path in re.findall(r"http://testserver(/players/invite/\S+/)", str(m.body))]  # fmt: skip


def accept(link: str, password: str) -> int:
    return Client().post(link, {"new_password1": password, "new_password2": password}).status_code


def invited_player(admin: Client, name: str = "Ann", email: str = "ann@example.com") -> Player:
    player = player_upsert(external_id=f"pd:{name}", name=name, email=email).player
    invite_action(admin, player)
    player.refresh_from_db()
    assert player.status == Player.Status.INVITED
    return player


def test_a_scoring_admin_cannot_take_over_an_existing_login_by_inviting_its_player(
    sam_api: APIClient, sam_admin: Client
) -> None:
    root = User.objects.create_superuser("root", "root@example.com", ROOT_PASSWORD)
    player = Player.objects.create(
        name="Ria Root", email="root@example.com", status=Player.Status.ACTIVE, user=root
    )

    # The probe's steps: the API edit, then the admin action.
    patched = sam_api.patch(
        f"/api/v1/players/{player.pk}/",
        {"status": "invited", "email": "attacker@evil.example"},
        format="json",
    )
    page = invite_action(sam_admin, player)
    for link in links_in([m for m in mail.outbox if "attacker@evil.example" in m.to]):
        accept(link, ATTACKER_PASSWORD)

    assert not signs_in("root", ATTACKER_PASSWORD)
    assert signs_in("root", ROOT_PASSWORD)
    assert mail.outbox == []
    assert "Not invited: Ria Root&#x27;s login root is a staff login" in page
    assert patched.status_code == 200
    assert patched.json()["status"] == "active"  # status is read-only
    player.refresh_from_db()
    assert player.status == Player.Status.ACTIVE


def test_status_cannot_be_edited_in_the_admin_form(sam_admin: Client) -> None:
    ann = player_upsert(external_id="pd:1", name="Ann", email="ann@example.com").player
    url = reverse("admin:players_player_change", args=[ann.pk])

    page = sam_admin.get(url).content.decode()
    response = sam_admin.post(
        url,
        {"name": "Ann", "email": "ann@example.com", "status": "active",
         "identities-TOTAL_FORMS": "0", "identities-INITIAL_FORMS": "0"},
    )  # fmt: skip

    assert response.status_code == 302
    assert 'name="status"' not in page
    ann.refresh_from_db()
    assert ann.status == Player.Status.OFFLINE


def test_status_cannot_be_set_when_a_player_is_created_through_the_api(
    sam_api: APIClient,
) -> None:
    created = sam_api.post(
        "/api/v1/players/", {"name": "Eve", "email": "eve@example.com", "status": "active"},
        format="json",
    )  # fmt: skip

    assert created.status_code == 201
    assert created.json()["status"] == "offline"


def test_no_set_password_link_for_a_login_that_has_a_password(sam_admin: Client) -> None:
    bob = User.objects.create_user("bob@example.com", "bob@example.com", "B0b-own-password")
    player = Player.objects.create(name="Bob", email="bob@example.com", user=bob)

    page = invite_action(sam_admin, player)

    assert "Not invited: Bob&#x27;s login bob@example.com already has a password" in page
    assert mail.outbox == []
    player.refresh_from_db()
    assert player.status == Player.Status.OFFLINE


def test_no_set_password_link_for_a_disabled_login(sam_admin: Client) -> None:
    login = User.objects.create_user("dee@example.com", "dee@example.com", is_active=False)
    player = Player.objects.create(name="Dee", email="dee@example.com", user=login)

    page = invite_action(sam_admin, player)

    assert "Not invited: Dee&#x27;s login dee@example.com is disabled" in page
    assert mail.outbox == []


def test_an_invitation_goes_to_the_logins_own_email(sam_admin: Client) -> None:
    ann = invited_player(sam_admin)
    ann.email = "attacker@evil.example"  # changed after the first invitation
    ann.save()
    mail.outbox.clear()

    page = invite_action(sam_admin, ann)

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert "Invited Ann (ann@example.com)." in page
    assert "the player&#x27;s email attacker@evil.example is not the login&#x27;s" in page


def test_a_player_whose_login_is_staff_is_not_invited(sam_admin: Client) -> None:
    staff = User.objects.create_user("stan", "stan@example.com", is_staff=True)
    staff.set_unusable_password()  # even without a password: staff logins are not invited
    staff.save()
    player = Player.objects.create(name="Stan", email="stan@example.com", user=staff)

    page = invite_action(sam_admin, player)

    assert (
        "Not invited: Stan&#x27;s login stan is a staff login; a superuser sets its password "
        "under Users" in page
    )
    assert mail.outbox == []


def test_an_outstanding_link_does_not_revive_an_archived_player(sam_admin: Client) -> None:
    ann = invited_player(sam_admin)
    [link] = links_in(mail.outbox)

    archive_action(sam_admin, ann)
    status = accept(link, "Corr3ct-horse-battery")

    assert status == 400
    ann.refresh_from_db()
    assert ann.status == Player.Status.ARCHIVED
    assert not signs_in("ann@example.com", "Corr3ct-horse-battery")


def test_archiving_disables_the_players_login(sam_admin: Client) -> None:
    ann = invited_player(sam_admin)
    [link] = links_in(mail.outbox)
    assert accept(link, "Corr3ct-horse-battery") == 200
    assert signs_in("ann@example.com", "Corr3ct-horse-battery")
    assert ann.user is not None
    token = Token.objects.create(user=ann.user)

    page = archive_action(sam_admin, ann)

    assert "Archived 1 player(s); disabled 1 login(s)." in page
    login = User.objects.get(pk=ann.user.pk)
    assert not login.is_active and not login.has_usable_password()
    assert not signs_in("ann@example.com", "Corr3ct-horse-battery")
    answer = APIClient().get("/api/v1/players/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert answer.status_code == 401


def test_archiving_a_player_leaves_a_staff_login_alone(sam_admin: Client) -> None:
    root = User.objects.create_superuser("root", "root@example.com", ROOT_PASSWORD)
    player = Player.objects.create(
        name="Ria Root", email="root@example.com", status=Player.Status.ACTIVE, user=root
    )

    page = archive_action(sam_admin, player)

    assert "Archived 1 player(s)" in page
    assert "Ria Root&#x27;s login root is a staff login and stays enabled" in page
    player.refresh_from_db()
    assert player.status == Player.Status.ARCHIVED
    assert signs_in("root", ROOT_PASSWORD)
