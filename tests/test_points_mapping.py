"""Points step mappings: points, point types, tags, comment, players (DESIGN §4, §9)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.models import IntegrationStep
from integrations.services import apply, drain
from players.models import Player
from players.services import player_upsert
from scoring.models import PointType, ScoreSeries, Tag, Transaction
from tests.pipedrive_payloads import activity_v2, deal_v2, user_v2
from tests.support import step_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(db: None) -> Player:
    return player_upsert(external_id="pd:1001", name="Ann", email="ann@example.com").player


def test_fixed_points_number(pipedrive, deliver, ann) -> None:
    step_update(pipedrive, "Won deals", points="5")

    deliver(pipedrive, deal_v2(1, value=999))

    assert Transaction.objects.get().points == 5


def test_points_are_rounded_half_up_to_two_places(pipedrive, deliver, ann) -> None:
    deliver(pipedrive, deal_v2(1, value=12.345))
    deliver(pipedrive, deal_v2(2, value="2786.075"))

    assert list(Transaction.objects.values_list("points", flat=True)) == [
        Decimal("12.35"),
        Decimal("2786.08"),
    ]


def test_points_column_that_is_not_a_number_fails_the_step_with_its_name(
    pipedrive, deliver, ann
) -> None:
    event = deliver(pipedrive, deal_v2(1, value="abc"))

    assert event.status == "failed"
    assert "Won deals: points column 'value' holds 'abc', not a number" in event.error
    assert not Transaction.objects.exists()


def test_a_failing_step_does_not_stop_the_others(pipedrive, deliver, ann) -> None:
    broken = IntegrationStep.objects.create(
        integration=pipedrive, kind="points", name="Broken", order=0, source_type="deal",
        series=ScoreSeries.objects.get(name="Deals"), points="no_such_column",
        player_id="owner_id", player_id_prefix="pd:",
    )  # fmt: skip

    event = deliver(pipedrive, deal_v2(1))

    assert event.status == "failed"
    assert [o["result"] for o in event.outcome] == ["error", "booked"]
    assert f"{broken.name}: points column 'no_such_column' empty" in event.error
    assert Transaction.objects.get().points == 100


def test_zero_points_is_no_award_and_revokes(pipedrive, deliver, ann) -> None:
    deliver(pipedrive, deal_v2(1, value=100, update_time="2024-01-01T10:00:00Z"))
    zero = deliver(pipedrive, deal_v2(1, value=0, update_time="2024-01-01T11:00:00Z"))

    assert list(Transaction.objects.values_list("points", flat=True)) == [100, -100]
    assert "zero points" in zero.outcome[0]["message"]


def test_point_type_column_matches_series_point_types_case_insensitively(
    pipedrive, deliver, ann
) -> None:
    series = ScoreSeries.objects.get(name="Activities")
    meeting = PointType.objects.create(series=series, name="Meeting", points=10)
    step = pipedrive.steps.get(name="Completed meetings")
    step.points, step.point_type = "", "type"
    step.save()

    deliver(pipedrive, activity_v2(1, type="MEETING"))

    booked = Transaction.objects.get()
    assert (booked.points, booked.point_type) == (10, meeting)


def test_unknown_point_type_is_a_clear_step_error(pipedrive, deliver, ann) -> None:
    series = ScoreSeries.objects.get(name="Activities")
    PointType.objects.create(series=series, name="Call", points=1)
    step = pipedrive.steps.get(name="Completed meetings")
    step.points, step.point_type = "", "subject"
    step.save()

    event = deliver(pipedrive, activity_v2(1, type="meeting", subject="Lunch"))

    assert event.status == "failed"
    assert (
        "point type column 'subject' holds 'Lunch', which is not a point type of series "
        "'Activities' (known: Call)" in event.error
    )


def test_tag_columns_add_values_and_hashtags(pipedrive, deliver, ann) -> None:
    step_update(pipedrive, "Won deals", tags=["status", "label_ids", "#notes"])

    deliver(pipedrive, deal_v2(1, label_ids=[24, 25], notes="Big one #enterprise and #Q1!"))

    names = sorted(Transaction.objects.get().tags.values_list("name", flat=True), key=str.lower)
    assert names == ["24", "25", "enterprise", "Q1", "won"]


def test_create_tags_off_leaves_unknown_tags_out_and_says_so(pipedrive, deliver, ann) -> None:
    Tag.objects.create(name="Enterprise")
    step_update(pipedrive, "Won deals", tags=["#notes"], create_tags=False)

    event = deliver(pipedrive, deal_v2(1, notes="#enterprise #smb"))

    assert list(Transaction.objects.get().tags.values_list("name", flat=True)) == ["Enterprise"]
    assert not Tag.objects.filter(name__iexact="smb").exists()
    assert "tags not found, left out: smb" in event.outcome[0]["message"]


def test_tag_change_moves_points_under_on_change(pipedrive, deliver, ann) -> None:
    step_update(pipedrive, "Won deals", tags=["#notes"])

    deliver(pipedrive, deal_v2(1, notes="#a", update_time="2024-01-01T10:00:00Z"))
    deliver(pipedrive, deal_v2(1, notes="#A", update_time="2024-01-01T11:00:00Z"))  # same tag
    deliver(pipedrive, deal_v2(1, notes="#b", update_time="2024-01-01T12:00:00Z"))

    assert list(Transaction.objects.values_list("kind", flat=True)) == ["award", "revoke", "award"]


def test_comment_column_is_shown_with_the_points(pipedrive, deliver, ann) -> None:
    deliver(pipedrive, deal_v2(1, title="ACME renewal"))

    assert Transaction.objects.get().comment == "ACME renewal"


def test_unknown_player_books_nothing_until_users_import_and_reprocess(
    pipedrive, deliver, django_capture_on_commit_callbacks
) -> None:
    event = deliver(pipedrive, deal_v2(1, owner_id=42))
    assert event.status == "ignored"
    assert "Won deals: unknown player pd:42" in event.outcome[0]["message"]

    deliver(pipedrive, user_v2(42, name="Zed", email="zed@example.com"))
    with django_capture_on_commit_callbacks():
        drain.events_reprocess(event_ids=[event.pk])
    apply.event_process(event_id=event.pk)

    booked = Transaction.objects.get()
    assert (booked.player.name, booked.points) == ("Zed", 100)


def test_players_are_created_on_the_fly_when_name_or_email_is_mapped(pipedrive, deliver) -> None:
    step_update(pipedrive, "Won deals", player_id="user_id.id", player_name="user_id.name",
              player_email="user_id.email")  # fmt: skip

    event = deliver(
        pipedrive, deal_v2(1, user_id={"id": 77, "name": "New Seller", "email": "n@example.com"})
    )

    player = Player.objects.get(identities__external_id="pd:77")
    assert (player.name, player.email, player.status) == ("New Seller", "n@example.com", "offline")
    assert Transaction.objects.get().player == player
    assert "created offline player New Seller (pd:77)" in event.outcome[0]["message"]


def test_owner_changed_to_unknown_player_revokes_the_old_award(pipedrive, deliver, ann) -> None:
    deliver(pipedrive, deal_v2(1, owner_id=1001, update_time="2024-01-01T10:00:00Z"))
    event = deliver(pipedrive, deal_v2(1, owner_id=42, update_time="2024-01-01T11:00:00Z"))

    assert list(Transaction.objects.values_list("points", flat=True)) == [100, -100]
    assert "unknown player pd:42" in event.outcome[0]["message"]


def test_archived_player_gets_no_new_points(pipedrive, deliver, ann) -> None:
    ann.status = Player.Status.ARCHIVED
    ann.save()

    event = deliver(pipedrive, deal_v2(1))

    assert not Transaction.objects.exists()
    assert "archived player Ann (pd:1001)" in event.outcome[0]["message"]
    assert Player.objects.get(pk=ann.pk).status == "archived"


def test_users_step_imports_active_users_as_offline_players(pipedrive, deliver) -> None:
    created = deliver(pipedrive, user_v2(5, name="Eve", email="eve@example.com"))
    updated = deliver(
        pipedrive, user_v2(5, name="Eve Smith", email="eve@example.com", timestamp=1700000100)
    )
    inactive = deliver(pipedrive, user_v2(6, name="Gone", email="", active=False))

    eve = Player.objects.get(identities__external_id="pd:5")
    assert (eve.name, eve.status) == ("Eve Smith", "offline")
    assert "created offline player Eve (pd:5)" in created.outcome[0]["message"]
    assert "updated player Eve Smith (pd:5)" in updated.outcome[0]["message"]
    assert inactive.status == "ignored"
    assert not Player.objects.filter(identities__external_id="pd:6").exists()


def test_users_step_does_not_rename_an_active_player(pipedrive, deliver) -> None:
    eve = player_upsert(external_id="pd:5", name="Eve", email="eve@example.com").player
    eve.status = Player.Status.ACTIVE
    eve.save()

    deliver(pipedrive, user_v2(5, name="Someone Else", email="x@example.com"))

    eve.refresh_from_db()
    assert (eve.name, eve.email) == ("Eve", "eve@example.com")


def test_disabled_integration_stores_deliveries_as_ignored(pipedrive, deliver, ann) -> None:
    pipedrive.enabled = False
    pipedrive.save()

    event = deliver(pipedrive, deal_v2(1))

    assert event.status == "ignored"
    assert event.outcome == [{"message": "integration disabled"}]
    assert not Transaction.objects.exists()
