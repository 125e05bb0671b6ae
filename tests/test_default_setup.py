"""A new integration created in the admin gets its type's default setup and works as it is."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import Integration
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import activity_v2, deal_v2
from tests.support import fixture_json

pytestmark = pytest.mark.django_db


def admin_add(client: Client, name: str, type: str, **fields: str) -> Any:
    return client.post(
        reverse("admin:integrations_integration_add"),
        {
            "name": name,
            "type": type,
            "enabled": "on",
            "webhook_secret": "a-very-secret-url-part-123",
            **fields,
        },
        follow=True,
    )


def test_pipedrive_from_the_admin_has_four_default_steps_that_work(
    admin_client: Client, deliver
) -> None:
    response = admin_add(admin_client, "Pipedrive (sales)", "pipedrive")

    assert "Added the 4 default steps" in response.content.decode()
    integration = Integration.objects.get(name="Pipedrive (sales)")
    assert list(integration.steps.values_list("name", flat=True)) == [
        "Users", "Won deals", "Completed calls", "Completed meetings",
    ]  # fmt: skip

    users = deliver(integration, fixture_json("pipedrive/v2-user-create.json"))
    player_upsert(external_id="pd:12415231", name="Ann", email="")
    deliver(integration, deal_v2(8, status="won", value=100, owner_id=12415231))
    deliver(integration, activity_v2(2, done=True, type="meeting", owner_id=12415231))
    deliver(integration, activity_v2(3, done=True, type="call", owner_id=12415231))
    deliver(integration, activity_v2(4, done=False, type="call", owner_id=12415231))

    assert users.status == "processed"
    booked = Transaction.objects.values_list("series__name", "points", "source_object")
    assert sorted(booked) == [
        ("Activities", 1, "activity:2"),
        ("Activities", 1, "activity:3"),
        ("Deals", 100, "deal:8"),
    ]


def test_hubspot_from_the_admin_gets_its_defaults(admin_client: Client) -> None:
    admin_add(admin_client, "HubSpot", "hubspot")

    steps = Integration.objects.get(name="HubSpot").steps.values_list("name", flat=True)
    assert list(steps) == ["Users", "Won deals"]


def test_generic_webhook_from_the_admin_has_no_steps(admin_client: Client) -> None:
    response = admin_add(
        admin_client, "Zap", "webhook",
        webhook__path__source_type="deal", webhook__path__object_id="data.id",
    )  # fmt: skip

    assert "default steps" not in response.content.decode()
    assert not Integration.objects.get(name="Zap").steps.exists()


def test_default_pipedrive_steps_book_a_v1_won_deal_as_they_book_a_v2_one(
    admin_client: Client, deliver
) -> None:
    """v1 names the owner `user_id` (an object with `id`), v2 `owner_id`: the adapter gives a v1
    record `owner_id` too, so the one set of default steps scores both (DESIGN §5)."""
    admin_add(admin_client, "Pipedrive v1", "pipedrive")
    admin_add(admin_client, "Pipedrive v2", "pipedrive", webhook_secret="another-secret-part-456")
    v1 = Integration.objects.get(name="Pipedrive v1")
    v2 = Integration.objects.get(name="Pipedrive v2")
    player_upsert(external_id="pd:12415231", name="Ann", email="")

    one = deliver(v1, fixture_json("pipedrive/v1-deal-updated-won.json"))
    two = deliver(v2, deal_v2(123, status="won", value=100, owner_id=12415231))

    assert (one.status, one.error) == ("processed", "")
    assert two.status == "processed"
    booked = Transaction.objects.order_by("step__integration__name").values_list(
        "series__name", "points", "player__name", "source_object", "step__name"
    )
    assert list(booked) == [
        ("Deals", 100, "Ann", "deal:123", "Won deals"),
        ("Deals", 100, "Ann", "deal:123", "Won deals"),
    ]
