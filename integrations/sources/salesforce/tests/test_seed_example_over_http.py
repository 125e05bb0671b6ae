"""The seed's worked example, with Salesforce outbound messages: an opportunity won by one
owner scores its amount; moved to another owner, the points move (-X, +X); the same message
again books nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from integrations.models import Integration
from players.services import player_upsert
from scoring.models import Transaction

from .messages import BOB, OLGA, fixture, last_event_processed, opportunity, outbound

pytestmark = pytest.mark.django_db


def totals() -> dict[str, Decimal]:
    rows = Transaction.objects.values("player__name").annotate(total=Sum("points"))
    return {r["player__name"]: r["total"] for r in rows}


def test_won_then_moved_to_another_owner_then_repeated(salesforce: Integration, post: Any) -> None:
    player_upsert(external_id=f"sf:{OLGA}", name="ABC", email="")
    player_upsert(external_id=f"sf:{BOB}", name="DEF", email="")
    moved = outbound(opportunity("04l5e00000Mov01AAV", OwnerId=BOB,
                                 LastModifiedDate="2026-11-21T09:00:00.000Z"))  # fmt: skip

    last_event_processed(post(salesforce, fixture("opportunity-won.xml")))
    assert totals() == {"ABC": Decimal("12500.00")}

    last_event_processed(post(salesforce, moved))
    assert list(Transaction.objects.order_by("id").values_list("player__name", "points")) == [
        ("ABC", Decimal("12500.00")),
        ("ABC", Decimal("-12500.00")),
        ("DEF", Decimal("12500.00")),
    ]

    repeated = last_event_processed(post(salesforce, moved))
    # The same state in a new notification (another Flow run) books nothing either.
    same_state = outbound(opportunity("04l5e00000Mov02AAV", OwnerId=BOB,
                                      LastModifiedDate="2026-11-21T09:00:00.000Z"))  # fmt: skip
    again = last_event_processed(post(salesforce, same_state))

    assert [o["result"] for o in repeated.outcome] == ["duplicate"]
    assert [o["result"] for o in again.outcome] == ["unchanged"]
    assert Transaction.objects.count() == 3
    assert totals() == {"ABC": Decimal("0.00"), "DEF": Decimal("12500.00")}
