"""The three revoke settings, deletions, reopened deals and point time (DESIGN §4)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import deal_v2
from tests.support import step_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def players(db: None) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    player_upsert(external_id="pd:1002", name="Bob", email="")


def totals() -> dict[str, Decimal]:
    rows = Transaction.objects.values("player__name").annotate(total=Sum("points"))
    return {r["player__name"]: r["total"] for r in rows if r["total"]}


def ledger() -> list[tuple[str, Decimal, str]]:
    return list(Transaction.objects.values_list("player__name", "points", "kind"))


def test_do_not_revoke_keeps_points_through_owner_change_and_deletion(pipedrive, deliver) -> None:
    step_update(pipedrive, "Won deals", revoke="never")

    deliver(pipedrive, deal_v2(1, owner_id=1001, update_time="2024-01-01T10:00:00Z"))
    moved = deliver(pipedrive, deal_v2(1, owner_id=1002, update_time="2024-01-01T11:00:00Z"))
    deliver(pipedrive, deal_v2(1, status="lost", update_time="2024-01-01T12:00:00Z"))
    deliver(pipedrive, deal_v2(1, action="deleted", update_time="2024-01-01T13:00:00Z"))

    assert ledger() == [("Ann", 100, "award")]
    assert "revoke setting: do not revoke" in moved.outcome[0]["message"]


def test_on_change_moves_points_when_value_changes(pipedrive, deliver) -> None:
    deliver(pipedrive, deal_v2(1, value=100, update_time="2024-01-01T10:00:00Z"))
    deliver(pipedrive, deal_v2(1, value=250, update_time="2024-01-01T11:00:00Z"))

    assert ledger() == [("Ann", 100, "award"), ("Ann", -100, "revoke"), ("Ann", 250, "award")]


def test_on_change_ignores_changes_that_do_not_touch_the_award(pipedrive, deliver) -> None:
    deliver(pipedrive, deal_v2(1, title="Old", update_time="2024-01-01T10:00:00Z"))
    event = deliver(pipedrive, deal_v2(1, title="New", update_time="2024-01-01T11:00:00Z"))

    assert ledger() == [("Ann", 100, "award")]
    assert event.status == "processed"  # the step matched and completed, booking nothing
    assert "nothing new" in event.outcome[0]["message"]


def test_point_time_change_books_nothing_under_on_change(pipedrive, deliver) -> None:
    deliver(
        pipedrive, deal_v2(1, won_time="2024-01-01T10:00:00Z", update_time="2024-01-01T10:00:00Z")
    )
    deliver(
        pipedrive, deal_v2(1, won_time="2024-02-01T10:00:00Z", update_time="2024-01-01T11:00:00Z")
    )

    assert ledger() == [("Ann", 100, "award")]
    assert Transaction.objects.get().point_time.isoformat() == "2024-01-01T10:00:00+00:00"


def test_point_time_change_moves_points_under_on_change_or_time(pipedrive, deliver) -> None:
    step_update(pipedrive, "Won deals", revoke="on_change_or_time")

    deliver(
        pipedrive, deal_v2(1, won_time="2024-01-01T10:00:00Z", update_time="2024-01-01T10:00:00Z")
    )
    deliver(
        pipedrive, deal_v2(1, won_time="2024-02-01T10:00:00Z", update_time="2024-01-01T11:00:00Z")
    )

    times = [t.point_time.date().isoformat() for t in Transaction.objects.all()]
    assert ledger() == [("Ann", 100, "award"), ("Ann", -100, "revoke"), ("Ann", 100, "award")]
    assert times == ["2024-01-01", "2024-01-01", "2024-02-01"]  # a revoke keeps its original's


def test_reopening_a_won_deal_revokes_and_winning_again_reawards(pipedrive, deliver) -> None:
    deliver(pipedrive, deal_v2(1, status="won", update_time="2024-01-01T10:00:00Z"))
    reopened = deliver(pipedrive, deal_v2(1, status="open", update_time="2024-01-01T11:00:00Z"))
    deliver(pipedrive, deal_v2(1, status="won", update_time="2024-01-01T12:00:00Z"))

    assert ledger() == [("Ann", 100, "award"), ("Ann", -100, "revoke"), ("Ann", 100, "award")]
    assert (
        "filter status is one of [won] failed: value was 'open'" in reopened.outcome[0]["message"]
    )
    assert reopened.status == "processed"  # it booked a revoke


def test_deletion_revokes_under_on_change(pipedrive, deliver) -> None:
    deliver(pipedrive, deal_v2(1, update_time="2024-01-01T10:00:00Z"))
    deleted = deliver(pipedrive, deal_v2(1, action="deleted", update_time="2024-01-01T11:00:00Z"))

    assert totals() == {}
    assert ledger()[-1] == ("Ann", -100, "revoke")
    assert "deleted in source" in deleted.outcome[0]["message"]


def test_default_point_time_is_kept_across_revoke_and_reaward(pipedrive, deliver) -> None:
    step_update(pipedrive, "Won deals", point_time="")

    deliver(pipedrive, deal_v2(1, owner_id=1001, update_time="2024-01-01T10:00:00Z"))
    deliver(pipedrive, deal_v2(1, owner_id=1002, update_time="2024-03-01T10:00:00Z"))

    assert {t.point_time.isoformat() for t in Transaction.objects.all()} == {
        "2024-01-01T10:00:00+00:00"
    }


def test_stale_change_books_nothing(pipedrive, deliver) -> None:
    deliver(pipedrive, deal_v2(1, owner_id=1002, update_time="2024-01-01T12:00:00Z"))
    stale = deliver(pipedrive, deal_v2(1, owner_id=1001, update_time="2024-01-01T11:00:00Z"))

    assert ledger() == [("Bob", 100, "award")]
    assert stale.status == "ignored"
    assert (
        "stale: version 2024-01-01T11:00:00Z < applied 2024-01-01T12:00:00Z"
        in stale.outcome[0]["message"]
    )


def test_equal_version_is_reconciled_not_stale(pipedrive, deliver) -> None:
    deliver(pipedrive, deal_v2(1, value=100, update_time="2024-01-01T12:00:00Z"))
    deliver(pipedrive, deal_v2(1, value=120, update_time="2024-01-01T12:00:00Z"))

    assert totals() == {"Ann": 120}


def test_event_type_created_only_scores_creations(pipedrive, deliver) -> None:
    step_update(pipedrive, "Won deals", event_type="created")

    changed = deliver(pipedrive, deal_v2(1, action="changed"))
    created = deliver(pipedrive, deal_v2(2, action="created"))

    assert changed.status == "ignored"
    assert "no enabled step for deal changed" in changed.outcome[0]["message"]
    assert created.status == "processed"
    assert ledger() == [("Ann", 100, "award")]
