"""The seed's worked example with Zendesk tickets: solved by one agent (+1), reopened (-1),
solved by another agent (+1 to them); the same events again book nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from integrations.models import Integration
from players.services import player_upsert
from scoring.models import Transaction

from .events import AGNES, BEA, fixture, processed, ticket_event

pytestmark = pytest.mark.django_db


def test_solved_reopened_then_solved_by_another_agent(
    zendesk: Integration, signed_post: Any
) -> None:
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes", email="")
    player_upsert(external_id=f"zd:{BEA}", name="Bea", email="")
    reopened = ticket_event("a0000000-0000-4000-8000-000000000001", "2026-11-21T08:00:00Z",
                            status="OPEN")  # fmt: skip
    solved_by_bea = ticket_event("a0000000-0000-4000-8000-000000000002", "2026-11-21T12:00:00Z",
                                 status="SOLVED", assignee_id=BEA)  # fmt: skip
    deliveries = [fixture("ticket-status-changed.json"), reopened, solved_by_bea]

    for body in deliveries:
        processed(signed_post(zendesk, body))
    for body in deliveries:  # Zendesk retries: nothing new
        assert processed(signed_post(zendesk, body)).status == "ignored"

    assert list(Transaction.objects.order_by("id").values_list("player__name", "points")) == [
        ("Agnes", Decimal("1.00")),
        ("Agnes", Decimal("-1.00")),
        ("Bea", Decimal("1.00")),
    ]
    rows = Transaction.objects.values("player__name").annotate(total=Sum("points"))
    assert {r["player__name"]: r["total"] for r in rows} == {
        "Agnes": Decimal("0.00"), "Bea": Decimal("1.00")
    }  # fmt: skip


def test_a_solved_ticket_that_closes_keeps_its_point(
    zendesk: Integration, signed_post: Any
) -> None:
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes", email="")
    closed = ticket_event("a0000000-0000-4000-8000-000000000003", "2026-11-24T09:12:44Z",
                          status="CLOSED")  # fmt: skip

    processed(signed_post(zendesk, fixture("ticket-status-changed.json")))
    event = processed(signed_post(zendesk, closed))

    assert [o["result"] for o in event.outcome] == ["unchanged"]
    assert list(Transaction.objects.values_list("points", flat=True)) == [Decimal("1.00")]
