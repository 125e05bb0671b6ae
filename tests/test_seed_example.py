"""The seed's worked example, exactly (DESIGN §4)."""

from __future__ import annotations

import pytest

from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db


def test_owner_change_moves_points(pipedrive, deliver) -> None:
    abc = player_upsert(external_id="pd:1001", name="ABC", email="").player
    defp = player_upsert(external_id="pd:1002", name="DEF", email="").player

    won = deliver(pipedrive, deal_v2(123, status="won", value=100, owner_id=1001))
    moved = deliver(pipedrive, deal_v2(123, owner_id=1002, update_time="2024-01-01T13:00:00Z"))

    rows = list(Transaction.objects.order_by("id").values_list("player__name", "points", "kind"))
    assert rows == [("ABC", 100, "award"), ("ABC", -100, "revoke"), ("DEF", 100, "award")]
    assert won.status == "processed"
    assert "booked +100 to ABC (pd:1001)" in won.outcome[0]["message"]
    assert moved.outcome[0]["message"].startswith("Won deals: revoked #")
    assert "booked +100 to DEF (pd:1002)" in moved.outcome[0]["message"]
    assert Player.objects.get(pk=abc.pk) and defp
