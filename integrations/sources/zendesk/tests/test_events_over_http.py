"""Zendesk events over HTTP: a solved ticket scores a point for its assignee in "Tickets"; the
same event again books nothing; user events keep agents as players; event types no step reads
are acknowledged and stored as ignored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integrations.models import Integration
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction

from .events import AGNES, fixture, processed

pytestmark = pytest.mark.django_db


def test_a_solved_ticket_scores_one_point_for_its_assignee(
    zendesk: Integration, signed_post: Any
) -> None:
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes Agent", email="")

    event = processed(signed_post(zendesk, fixture("ticket-status-changed.json")))

    assert event.status == "processed"
    award = Transaction.objects.get()
    assert (award.player.name, award.points, award.series.name, award.comment) == (
        "Agnes Agent", Decimal("1.00"), "Tickets", "Printer on fire"
    )  # fmt: skip
    assert award.source_object == "ticket:5158"


def test_the_same_event_again_books_nothing(zendesk: Integration, signed_post: Any) -> None:
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes Agent", email="")
    processed(signed_post(zendesk, fixture("ticket-status-changed.json")))

    again = processed(signed_post(zendesk, fixture("ticket-status-changed.json")))

    assert again.status == "ignored"
    assert [o["result"] for o in again.outcome] == ["duplicate"]
    assert Transaction.objects.count() == 1


def test_a_deleted_ticket_loses_its_point(zendesk: Integration, signed_post: Any) -> None:
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes Agent", email="")
    processed(signed_post(zendesk, fixture("ticket-status-changed.json")))

    processed(signed_post(zendesk, fixture("ticket-soft-deleted.json")))

    assert list(Transaction.objects.order_by("id").values_list("points", flat=True)) == [
        Decimal("1.00"), Decimal("-1.00")
    ]  # fmt: skip


def test_an_unknown_event_type_is_acknowledged_and_stored_as_ignored(
    zendesk: Integration, signed_post: Any
) -> None:
    event = processed(signed_post(zendesk, fixture("organization-created.json")))

    assert event.status == "ignored"
    assert event.outcome == [{
        "change": "organization:8447346622462 changed", "result": "ignored",
        "message": "unknown event type 'zen:event-type:organization.created'",
    }]  # fmt: skip


def test_user_events_create_the_agent_then_name_them(
    zendesk: Integration, signed_post: Any
) -> None:
    processed(signed_post(zendesk, fixture("user-created.json")))
    created = Player.objects.get(identities__external_id=f"zd:{AGNES}")
    assert (created.name, created.email) == (f"zd:{AGNES}", "agnes.agent@example.com")

    processed(signed_post(zendesk, fixture("user-name-changed.json")))

    created.refresh_from_db()
    assert created.name == "Agnes Agent"


def test_an_end_user_is_not_made_a_player(zendesk: Integration, signed_post: Any) -> None:
    body = fixture("user-created.json").replace(b'"role": "agent"', b'"role": "end-user"')

    event = processed(signed_post(zendesk, body))

    assert [o["result"] for o in event.outcome] == ["filtered"]
    assert not Player.objects.exists()
