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


def test_seed_example_step_by_step_with_exact_ledger_rows(pipedrive, deliver) -> None:
    abc = player_upsert(external_id="pd:1001", name="ABC", email="").player
    defp = player_upsert(external_id="pd:1002", name="DEF", email="").player
    won = deal_v2(123, status="won", value=100, owner_id=1001)
    moved = deal_v2(123, status="won", value=100, owner_id=1002,
                    update_time="2024-01-01T13:00:00Z")  # fmt: skip

    def ledger() -> list[tuple]:
        return list(
            Transaction.objects.order_by("id").values_list(
                "player_id", "series__name", "points", "kind", "revokes_id", "source_object"
            )
        )

    deliver(pipedrive, won)
    [award] = Transaction.objects.all()
    assert ledger() == [(abc.pk, "Deals", 100, "award", None, "deal:123")]

    deliver(pipedrive, moved)
    assert ledger() == [
        (abc.pk, "Deals", 100, "award", None, "deal:123"),
        (abc.pk, "Deals", -100, "revoke", award.pk, "deal:123"),
        (defp.pk, "Deals", 100, "award", None, "deal:123"),
    ]
    after_move = ledger()

    again = deliver(pipedrive, moved)  # the very same delivery, sent twice
    resent = deliver(pipedrive, {**moved, "meta": {**moved["meta"], "id": "another-id"}})

    assert ledger() == after_move
    assert again.status == "ignored" and again.outcome[0]["result"] == "duplicate"
    assert resent.outcome[0]["result"] == "unchanged"
    assert "nothing new" in resent.outcome[0]["message"]
