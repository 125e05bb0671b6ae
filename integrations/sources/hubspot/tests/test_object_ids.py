"""HubSpot object ids are digits: anything else in a delivery fetches nothing, and every path
segment of a request to a source's API is quoted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from integrations.config_file import integration_import
from integrations.models import Integration
from integrations.services.apply import event_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def hubspot(api: Any, settings: Any) -> Integration:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    integration, _ = integration_import(data={
        "name": "HubSpot", "type": "hubspot",
        "credentials": {"access_token": "pat-123", "api_base_url": api.url},
    })  # fmt: skip
    return integration


@pytest.mark.parametrize(
    "object_id",
    ["4500/../../owners", "//evil.example/x", "4500?archived=true", "4500#x", "²",
     "%2e%2e", "-1", "4500.5"],
)  # fmt: skip
def test_an_object_id_that_is_not_digits_fetches_nothing(
    client: Client, hubspot: Integration, api: Any, object_id: str
) -> None:
    """Issue 13, finding 5: a batch with objectId `4500/../../owners` made the server request
    /crm/v3/owners with the token (and deliveries need no signature without an app secret)."""
    batch = [{"objectId": object_id, "subscriptionType": "deal.propertyChange", "eventId": 1,
              "portalId": 1, "subscriptionId": 2, "occurredAt": 1714200000000}]  # fmt: skip
    response = client.post(
        hubspot.webhook_path, data=json.dumps(batch), content_type="application/json"
    )

    event = event_process(event_id=response.json()["event_id"])

    assert (api.connections, api.requests) == (0, [])
    assert event is not None and event.status == "ignored"
    [outcome] = event.outcome
    assert outcome["result"] == "ignored"
    assert outcome["message"] == f"objectId {object_id!r} is not a HubSpot object id (digits)"


def test_a_numeric_object_id_is_fetched(client: Client, hubspot: Integration, api: Any) -> None:
    api.json("/crm/v3/objects/deals/4500", {"id": "4500", "properties": {"dealstage": "open"}})
    batch = [{"objectId": 4500, "subscriptionType": "deal.propertyChange", "eventId": 1,
              "portalId": 1, "subscriptionId": 2, "occurredAt": 1714200000000}]  # fmt: skip
    response = client.post(
        hubspot.webhook_path, data=json.dumps(batch), content_type="application/json"
    )

    event_process(event_id=response.json()["event_id"])

    assert len(api.hits("/crm/v3/objects/deals/4500")) == 1


def test_every_path_segment_is_quoted() -> None:
    from integrations.sources.http import api_path

    assert api_path("crm", "v3", "objects", "deals", "4500") == "/crm/v3/objects/deals/4500"
    assert api_path("crm", "../../owners", "//evil.example/x", "a?b#c", "%2e") == (
        "/crm/..%2F..%2Fowners/%2F%2Fevil.example%2Fx/a%3Fb%23c/%252e"
    )


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_a_path_segment_that_is_empty_or_dots_is_refused(segment: str) -> None:
    from integrations.sources.http import api_path

    with pytest.raises(ValueError, match="path segment"):
        api_path("crm", "v3", segment)
