"""Outbound messages over HTTP: every accepted message is answered with the SOAP Ack (200,
text/xml); its notifications are processed in order, deduplicated, versioned; what no step
listens to is acknowledged and stored as ignored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integrations.console import step_dry_run
from integrations.models import Integration, WebhookEvent
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction

from .messages import (
    BOB,
    OLGA,
    acked,
    fault,
    fixture,
    last_event_processed,
    opportunity,
    outbound,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def players(db: None) -> None:
    player_upsert(external_id=f"sf:{OLGA}", name="Olga Owner", email="")
    player_upsert(external_id=f"sf:{BOB}", name="Bob Buyer", email="")


def booked() -> list[tuple[str, Decimal, str]]:
    return list(
        Transaction.objects.order_by("id").values_list("player__name", "points", "series__name")
    )


def test_a_won_opportunity_is_acked_and_scores_its_amount_for_the_owner(
    salesforce: Integration, post: Any
) -> None:
    response = post(salesforce, fixture("opportunity-won.xml"))

    assert acked(response)
    event = last_event_processed(response)
    assert event.status == "processed"
    assert booked() == [("Olga Owner", Decimal("12500.00"), "Deals")]
    award = Transaction.objects.get()
    assert (award.comment, award.point_time.date().isoformat()) == (
        "Acme renewal 2027", "2026-11-20"
    )  # fmt: skip
    assert award.source_object == "opportunity:0065e00000XyZ12AAB"


def test_the_same_message_again_is_acked_and_books_nothing(
    salesforce: Integration, post: Any
) -> None:
    last_event_processed(post(salesforce, fixture("opportunity-won.xml")))

    again = last_event_processed(post(salesforce, fixture("opportunity-won.xml")))

    assert again.status == "ignored"
    assert [o["result"] for o in again.outcome] == ["duplicate"]
    assert len(booked()) == 1


def test_notifications_are_processed_in_order_each_by_its_steps(
    salesforce: Integration, post: Any
) -> None:
    event = last_event_processed(post(salesforce, fixture("two-notifications.xml")))

    assert [(o["change"], o["result"]) for o in event.outcome] == [
        ("task:00T5e00000Cal01AAB changed", "booked"),
        ("opportunity:0065e00000XyZ13AAB changed", "filtered"),
    ]
    assert booked() == [("Olga Owner", Decimal("1.00"), "Activities")]


def test_objects_no_step_listens_to_are_acked_and_stored_as_ignored(
    salesforce: Integration, post: Any
) -> None:
    event = last_event_processed(post(salesforce, fixture("versions-and-unknown.xml")))

    assert event.status == "ignored"
    assert [o["result"] for o in event.outcome] == ["no_step", "no_step", "ignored"]
    assert not Transaction.objects.exists()


def test_an_older_last_modified_date_is_stale(salesforce: Integration, post: Any) -> None:
    last_event_processed(post(salesforce, fixture("opportunity-won.xml")))
    older = opportunity("04l5e00000Old01AAV", OwnerId=BOB,
                        LastModifiedDate="2026-11-20T14:00:00.000Z")  # fmt: skip

    event = last_event_processed(post(salesforce, outbound(older)))

    assert [o["result"] for o in event.outcome] == ["stale"]
    assert booked() == [("Olga Owner", Decimal("12500.00"), "Deals")]


def test_a_retried_notification_carrying_newer_data_is_not_a_duplicate(
    salesforce: Integration, post: Any
) -> None:
    # Salesforce sends a queued notification with the record as it is when sent: the same
    # notification Id may come back with a newer record.
    first = opportunity("04l5e00000Rty01AAV")
    newer = opportunity("04l5e00000Rty01AAV", OwnerId=BOB,
                        LastModifiedDate="2026-11-20T15:00:00.000Z")  # fmt: skip
    last_event_processed(post(salesforce, outbound(first)))

    last_event_processed(post(salesforce, outbound(newer)))

    assert [(name, points) for name, points, _ in booked()] == [
        ("Olga Owner", Decimal("12500.00")),
        ("Olga Owner", Decimal("-12500.00")),
        ("Bob Buyer", Decimal("12500.00")),
    ]


def test_a_user_message_feeds_the_users_step(salesforce: Integration, post: Any) -> None:
    Player.objects.all().delete()

    last_event_processed(post(salesforce, fixture("user-active.xml")))

    player = Player.objects.get(identities__external_id=f"sf:{OLGA}")
    assert (player.name, player.email) == ("Olga Owner", "olga.owner@example.com")


def test_a_body_that_is_not_an_outbound_message_is_stored_failed_with_a_soap_fault(
    salesforce: Integration, client: Any
) -> None:
    salesforce.credentials = {}  # no organisation to check: the body reaches storage
    salesforce.save()

    response = client.post(
        salesforce.webhook_path, data=b'{"a": 1}', content_type="application/json"
    )

    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert event.status == "failed"
    assert "not well-formed XML" in event.error
    assert fault(response).startswith("body is not well-formed XML")
    assert f"(stored as event {event.pk})" in fault(response)


def test_the_step_console_reads_a_pasted_outbound_message(salesforce: Integration) -> None:
    step = salesforce.steps.get(name="Won opportunities")

    run = step_dry_run(step=step, text=fixture("opportunity-won.xml").decode())

    assert run.error == ""
    [verdict] = run.changes
    assert (verdict.player, verdict.points) == (f"Olga Owner (sf:{OLGA})", "+12500")
    assert not Transaction.objects.exists()  # the console books nothing
