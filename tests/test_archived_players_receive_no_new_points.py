"""An archived player receives no new points, whichever door the points come through (DESIGN §9
"Awards"): the add-score API refuses them naming the player, a points step books nothing and
says "archived player", reprocessing from the admin books nothing either, and no users step
brings the player back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.tasks import event_process_task
from players.models import Player
from players.services import player_archive, player_upsert
from scoring.models import ScoreSeries, Transaction
from tests.pipedrive_payloads import deal_v2, user_v2

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(db: None) -> APIClient:
    """A token of the scoring admin group: allowed to add scores."""
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def archived_ann(db: None) -> Player:
    ann = player_upsert(external_id="pd:1001", name="Ann Archived", email="ann@example.com").player
    player_archive(player=ann)
    return ann


def ledger() -> list[tuple[str, Any, str]]:
    return list(Transaction.objects.order_by("id").values_list("player__name", "points", "kind"))


# --- the add-score API ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    [
        {"player_external_id": "pd:1001"},
        {"player_external_id": "pd:1001", "player_name": "Ann Again", "create_player": 1},
        {"player_email": "ann@example.com"},
        "player_id",
    ],
    ids=["by external id", "by external id with create_player", "by email", "by id"],
)
def test_add_score_to_an_archived_player_is_refused_naming_the_player(
    writer: APIClient, archived_ann: Player, who: Any
) -> None:
    ScoreSeries.objects.create(name="Deals")
    player = {"player_id": archived_ann.pk} if who == "player_id" else who

    response = writer.post(
        "/api/v1/scores/", {**player, "scoreseries_name": "Deals", "points": 10}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "Ann Archived" in response.content.decode()
    assert "archived" in response.content.decode()
    assert ledger() == []
    archived_ann.refresh_from_db()
    assert archived_ann.status == "archived"


def test_rebooking_a_score_of_a_player_archived_since_is_refused_and_keeps_the_old_row(
    writer: APIClient,
) -> None:
    ScoreSeries.objects.create(name="Deals")
    ann = player_upsert(external_id="crm:7", name="Ann", email="").player
    body = {"player_external_id": "crm:7", "scoreseries_name": "Deals", "points": 50,
            "source_score_id": "order-1"}  # fmt: skip
    assert writer.post("/api/v1/scores/", body, format="json").status_code == 201
    player_archive(player=ann)

    response = writer.post("/api/v1/scores/", {**body, "points": 70}, format="json")

    assert response.status_code == 400
    assert "Ann" in response.content.decode()
    assert ledger() == [("Ann", 50, "award")]  # neither revoked nor rebooked


# --- points steps (webhooks, and the admin's reprocess) -----------------------------------------


def test_a_won_deal_owned_by_an_archived_player_books_nothing_and_says_so(
    pipedrive: Any, deliver: Any, archived_ann: Player
) -> None:
    event = deliver(pipedrive, deal_v2(123, status="won", value=100, owner_id=1001))

    assert ledger() == []
    assert event.status == "ignored"
    [outcome] = event.outcome
    assert outcome["message"] == (
        "Won deals: archived player Ann Archived (pd:1001) receives no new points"
    )


def test_reprocessing_from_the_admin_after_archiving_books_nothing(
    admin_client: Client, pipedrive: Any, deliver: Any
) -> None:
    # The deal came before its owner was known; then the owner was imported and archived.
    event = deliver(pipedrive, deal_v2(123, status="won", value=100, owner_id=1001))
    assert "unknown player pd:1001" in event.outcome[0]["message"]
    deliver(pipedrive, user_v2(1001, name="Ann", email="ann@example.com"))
    ann = Player.objects.get(identities__external_id="pd:1001")
    admin_client.post(
        reverse("admin:players_player_changelist"),
        {"action": "archive", "_selected_action": [ann.pk]},
    )

    admin_client.post(
        reverse("admin:integrations_webhookevent_changelist"),
        {"action": "reprocess", "_selected_action": [event.pk]},
    )
    event_process_task(event.pk)  # what the worker runs for the queued event

    event.refresh_from_db()
    assert ledger() == []
    assert event.status == "ignored"
    assert "archived player Ann (pd:1001)" in event.outcome[0]["message"]


def test_a_users_step_never_brings_an_archived_player_back(
    pipedrive: Any, deliver: Any, archived_ann: Player
) -> None:
    deliver(pipedrive, user_v2(1001, name="Ann Renamed", email="new@example.com"))
    deliver(pipedrive, deal_v2(123, status="won", value=100, owner_id=1001))

    archived_ann.refresh_from_db()
    assert (archived_ann.status, archived_ann.name) == ("archived", "Ann Archived")
    assert ledger() == []
