"""An archived player keeps what they were awarded (DESIGN §9 "Awards": archived players receive
no new points, and they keep their history): a later change of the same object, still theirs,
neither revokes their award nor books a new one; the outcome says the player is archived."""

from __future__ import annotations

from typing import Any

import pytest

from players.services import player_archive, player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import deal_v2
from tests.support import step_update

pytestmark = pytest.mark.django_db


def ledger() -> list[tuple[str, Any, str]]:
    return list(Transaction.objects.order_by("id").values_list("player__name", "points", "kind"))


@pytest.mark.parametrize(
    "later",
    [{"value": 150}, {"title": "Renamed deal"}, {"won_time": "2024-01-05T09:00:00Z"}],
    ids=["value changes", "title changes", "won time changes"],
)
@pytest.mark.parametrize("revoke", ["on_change", "on_change_or_time"])
def test_a_later_change_of_an_archived_players_won_deal_revokes_nothing(
    pipedrive: Any, deliver: Any, later: dict[str, Any], revoke: str
) -> None:
    step_update(pipedrive, "Won deals", revoke=revoke)
    ann = player_upsert(external_id="pd:1001", name="Ann", email="").player
    deliver(pipedrive, deal_v2(123, value=100, owner_id=1001, won_time="2024-01-01T12:00:00Z"))
    assert ledger() == [("Ann", 100, "award")]
    player_archive(player=ann)

    changed = deliver(
        pipedrive,
        deal_v2(123, **{"value": 100, "owner_id": 1001, "won_time": "2024-01-01T12:00:00Z",
                        **later}, update_time="2024-01-02T12:00:00Z"),
    )  # fmt: skip

    assert ledger() == [("Ann", 100, "award")]
    [outcome] = changed.outcome
    assert "archived player Ann (pd:1001)" in outcome["message"]
    assert "revoked" not in outcome["message"]
    assert sum(Transaction.objects.values_list("points", flat=True)) == 100


def test_a_drained_batch_keeps_the_archived_players_award_too(pipedrive: Any, client: Any) -> None:
    from integrations.tasks import events_drain_task

    def post(payload: Any) -> None:
        response = client.post(
            pipedrive.webhook_path, data=payload, content_type="application/json"
        )
        assert response.status_code == 202

    # The worker's path: deliveries wait in the outbox and a drain takes them in one batch.
    ann = player_upsert(external_id="pd:1001", name="Ann", email="").player
    post(deal_v2(123, value=100, owner_id=1001))
    events_drain_task()
    player_archive(player=ann)
    post(deal_v2(123, value=150, owner_id=1001, update_time="2024-01-02T12:00:00Z"))

    events_drain_task()

    assert ledger() == [("Ann", 100, "award")]
    latest = pipedrive.events.order_by("id").last()
    assert latest.status == "ignored"
    assert "archived player Ann (pd:1001)" in latest.outcome[0]["message"]
