"""HubSpot: signature v3, batch split, records from the CRM API (a local server), dedupe."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from integrations.config_file import integration_import
from integrations.models import Integration, WebhookEvent
from integrations.sources.hubspot.adapter import signature_v3
from players.services import player_upsert
from scoring.models import Transaction
from tests.api_server import Page
from tests.support import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent / "fixtures"
DEAL_PATH = "/crm/v3/objects/deals/4500"


def local(name: str) -> Any:
    return json.loads((HERE / name).read_text())


@pytest.fixture
def hubspot(api: Any, settings: Any) -> Integration:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the local stand-in of HubSpot's API
    integration, _ = integration_import(
        data={
            "name": "HubSpot",
            "type": "hubspot",
            "credentials": {"app_secret": "app-secret", "access_token": "pat-123",
                            "api_base_url": api.url},
        }
    )  # fmt: skip
    player_upsert(external_id="hs:77", name="Olga Owner", email="")
    return integration


def signed_post(
    client: Client, integration: Integration, body: bytes, *, secret: str = "app-secret",
    age_ms: int = 0,
) -> Any:  # fmt: skip
    timestamp = str(int(time.time() * 1000) - age_ms)
    uri = f"http://testserver{integration.webhook_path}"
    headers = {
        "X-HubSpot-Signature-v3": signature_v3(secret, "POST", uri, body, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    return client.post(
        integration.webhook_path, data=body, content_type="application/json", headers=headers
    )


def process(response: Any) -> WebhookEvent:
    from integrations.services.apply import event_process

    assert response.status_code == 202, response.content
    event = event_process(event_id=response.json()["event_id"])
    assert event is not None
    return event


def test_default_setup_has_users_and_won_deals(hubspot: Integration) -> None:
    steps = list(hubspot.steps.values_list("name", "source_type", "points", "player_id"))
    assert steps == [
        ("Users", "owner", "", "id"),
        ("Won deals", "deal", "amount", "hubspot_owner_id"),
    ]


def test_signed_batch_is_split_and_each_deal_fetched_from_the_api(
    client: Client, hubspot: Integration, api: Any
) -> None:
    api.json(DEAL_PATH, local("deal-4500.json"))

    event = process(signed_post(client, hubspot, fixture_bytes("hubspot/batch.json")))

    assert event.status == "processed"
    assert [o["change"] for o in event.outcome] == ["contact:17001 created", "deal:4500 changed"]
    assert "no enabled step for contact created" in event.outcome[0]["message"]
    booked = Transaction.objects.get()
    assert (booked.player.name, booked.points, booked.comment) == (
        "Olga Owner", 1500.50, "ACME expansion"
    )  # fmt: skip
    assert booked.source_object == "deal:4500"
    [request] = api.hits(DEAL_PATH)
    assert request.headers["Authorization"] == "Bearer pat-123"
    assert set(request.query["properties"][0].split(",")) >= {"amount", "dealstage",
                                                              "hubspot_owner_id"}  # fmt: skip


def test_same_batch_again_is_acknowledged_and_books_nothing(
    client: Client, hubspot: Integration, api: Any
) -> None:
    api.json(DEAL_PATH, local("deal-4500.json"))
    body = fixture_bytes("hubspot/batch.json")
    process(signed_post(client, hubspot, body))

    again = process(signed_post(client, hubspot, body))

    assert again.status == "ignored"
    assert [o["result"] for o in again.outcome] == ["duplicate", "duplicate"]
    assert Transaction.objects.count() == 1


def test_deletion_revokes_and_unknown_event_types_are_ignored_with_2xx(
    client: Client, hubspot: Integration, api: Any
) -> None:
    api.json(DEAL_PATH, local("deal-4500.json"))
    process(signed_post(client, hubspot, fixture_bytes("hubspot/batch.json")))

    event = process(
        signed_post(client, hubspot, (HERE / "batch-deletion-and-unknown.json").read_bytes())
    )

    assert [t.points for t in Transaction.objects.all()] == [1500.50, -1500.50]
    assert event.outcome[1] == {
        "change": "contact:17001 changed",
        "result": "ignored",
        "message": "unknown event type 'contact.privacyDeletion'",
    }


def test_only_unknown_event_types_store_the_event_as_ignored(
    client: Client, hubspot: Integration
) -> None:
    body = json.dumps([local("batch-deletion-and-unknown.json")[1]]).encode()

    event = process(signed_post(client, hubspot, body))

    assert event.status == "ignored"


def test_api_404_means_the_object_was_deleted(
    client: Client, hubspot: Integration, api: Any
) -> None:
    api.add(DEAL_PATH, Page(200, local("deal-4500.json")), Page(404, {"message": "gone"}))
    batch = fixture_json("hubspot/batch.json")
    process(signed_post(client, hubspot, json.dumps(batch).encode()))
    later = copy.deepcopy(batch[1])
    later.update(eventId=102, occurredAt=1714200009000)

    event = process(signed_post(client, hubspot, json.dumps([later]).encode()))

    assert event.outcome[0]["change"] == "deal:4500 deleted"
    assert sum(t.points for t in Transaction.objects.all()) == 0


def test_rate_limit_and_server_error_are_waited_out(
    client: Client, hubspot: Integration, api: Any
) -> None:
    api.add(
        DEAL_PATH,
        Page(429, {"status": "error"}, {"Retry-After": "0"}),
        Page(500, {"status": "error"}),
        Page(200, local("deal-4500.json")),
    )

    event = process(signed_post(client, hubspot, fixture_bytes("hubspot/batch.json")))

    assert event.status == "processed"
    assert len(api.hits(DEAL_PATH)) == 3
    assert Transaction.objects.count() == 1


def test_api_that_keeps_failing_leaves_the_event_pending_for_a_retry(
    client: Client, hubspot: Integration, api: Any
) -> None:
    from integrations.sources import SourceUnavailable

    api.add(DEAL_PATH, Page(503, {"status": "error"}))

    with pytest.raises(SourceUnavailable, match="failed 4 times"):
        process(signed_post(client, hubspot, fixture_bytes("hubspot/batch.json")))

    assert WebhookEvent.objects.get().status == "pending"
    assert not Transaction.objects.exists()


class TestSignature:
    def test_wrong_secret_is_401_and_stores_nothing(
        self, client: Client, hubspot: Integration
    ) -> None:
        response = signed_post(client, hubspot, b"[]", secret="not-the-secret")

        assert response.status_code == 401
        assert "does not match" in response.json()["error"]
        assert not WebhookEvent.objects.exists()

    def test_expired_timestamp_is_401(self, client: Client, hubspot: Integration) -> None:
        response = signed_post(client, hubspot, b"[]", age_ms=6 * 60 * 1000)

        assert response.status_code == 401
        assert "expired" in response.json()["error"]
        assert not WebhookEvent.objects.exists()

    def test_tampered_body_is_401(self, client: Client, hubspot: Integration) -> None:
        timestamp = str(int(time.time() * 1000))
        uri = f"http://testserver{hubspot.webhook_path}"
        response = client.post(
            hubspot.webhook_path, data=b'[{"eventId": 2}]', content_type="application/json",
            headers={"X-HubSpot-Signature-v3": signature_v3("app-secret", "POST", uri, b"[]",
                                                            timestamp),
                     "X-HubSpot-Request-Timestamp": timestamp},
        )  # fmt: skip

        assert response.status_code == 401

    def test_missing_headers_are_401(self, client: Client, hubspot: Integration) -> None:
        response = client.post(hubspot.webhook_path, data=b"[]", content_type="application/json")

        assert response.status_code == 401
        assert "missing" in response.json()["error"]

    def test_valid_signature_within_the_window_is_accepted(
        self, client: Client, hubspot: Integration
    ) -> None:
        assert signed_post(client, hubspot, b"[]", age_ms=4 * 60 * 1000).status_code == 202


def test_import_users_and_backfill_pull_owners_and_deals(
    hubspot: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from integrations.sync import sync_page, sync_start

    api.add("/crm/v3/owners",
        Page(200, {"results": [{"id": "77", "firstName": "Olga", "lastName": "Owner",
                                "email": "olga@example.com", "archived": False}],
                   "paging": {"next": {"after": "2"}}}),
        Page(200, {"results": [{"id": "78", "firstName": "Old", "lastName": "Timer",
                                "email": "", "archived": True}]}),
    )  # fmt: skip
    old = {**local("deal-4500.json"), "id": "4400", "updatedAt": "2023-01-01T00:00:00Z"}
    api.json("/crm/v3/objects/deals", {"results": [local("deal-4500.json"), old]})

    for kind, since in (("users", None), ("backfill", "2024-01-01T00:00:00Z")):
        from integrations.values import time_parse

        run = sync_start(integration=hubspot, kind=kind, since=time_parse(since))
        for _ in range(5):
            with django_capture_on_commit_callbacks():
                run = sync_page(run_id=run.pk)  # type: ignore[assignment]
            if run.status == "done":
                break
        assert run.status == "done", run.error

    from players.models import Player

    assert Player.objects.get(identities__external_id="hs:77").email == "olga@example.com"
    assert not Player.objects.filter(identities__external_id="hs:78").exists()
    assert list(Transaction.objects.values_list("source_object", "points")) == [
        ("deal:4500", 1500.50)
    ]
    [deals_request] = api.hits("/crm/v3/objects/deals")
    assert "dealstage" in deals_request.query["properties"][0]


def test_without_an_access_token_the_event_fails_at_once_naming_the_credential(
    client: Client, hubspot: Integration, api: Any
) -> None:
    hubspot.credentials = {**hubspot.credentials, "access_token": ""}
    hubspot.save(update_fields=["credentials"])
    api.json(DEAL_PATH, local("deal-4500.json"))

    event = process(signed_post(client, hubspot, fixture_bytes("hubspot/batch.json")))

    assert event.status == "failed"
    assert "set Access token on the integration page (Integrations → HubSpot)" in event.error
    assert api.hits(DEAL_PATH) == []  # no call, no retries
