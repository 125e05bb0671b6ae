"""The Pipedrive adapter, driven by the fixture files (v1 and v2)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from integrations.models import Integration, WebhookEvent
from integrations.sources import DeliveryError
from integrations.sources.pipedrive.adapter import Adapter as PipedriveAdapter
from players.services import player_upsert
from scoring.models import Transaction
from tests.support import fixture_bytes, fixture_json

SPLIT_CASES = [
    # fixture, object type, id, action, version, dedupe key, has current record
    ("v1-deal-updated-won.json", "deal", "123", "changed",
     datetime(2018, 4, 11, 9, 50, 13, tzinfo=UTC), "v1:deal:123:1523440213384700", True),
    ("v2-deal-change.json", "deal", "8", "changed", datetime(2022, 11, 24, 15, 11, 55, tzinfo=UTC),
     "v2:df47d877-b58c-4886-91cd-1aa83e1d7366", True),
    ("v2-deal-create.json", "deal", "8", "created",
     datetime(2022, 11, 24, 13, 18, 56, 89000, tzinfo=UTC),
     "v2:71825ee0-0054-4267-b5fd-d28b7a414212", True),
    ("v2-activity-change.json", "activity", "2", "changed",
     datetime(2022, 11, 24, 15, 28, 13, tzinfo=UTC), "v2:7a40ac1f-debd-4d22-b8d6-d9a687a96ec4",
     True),
    ("v2-user-create.json", "user", "16943176", "created",
     datetime.fromtimestamp(1669304389, tz=UTC), "v2:user:16943176:1669304389", True),
    ("v2-user-deactivated.json", "user", "15702024", "changed",
     datetime.fromtimestamp(1669304802, tz=UTC), "v2:user:15702024:1669304802", True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "object_type", "object_id", "action", "version", "key", "has_record"), SPLIT_CASES
)
def test_fixture_splits_into_one_change(
    name: str,
    object_type: str,
    object_id: str,
    action: str,
    version: datetime,
    key: str,
    has_record: bool,
) -> None:
    [change] = PipedriveAdapter().split(Integration(), fixture_json(f"pipedrive/{name}"))

    assert (change.object_type, change.object_id, change.action) == (object_type, object_id, action)
    assert change.version == version
    assert change.dedupe_key == key
    assert (change.current is not None) == has_record


def test_v2_deletion_has_no_current_record() -> None:
    payload = copy.deepcopy(fixture_json("pipedrive/v2-deal-change.json"))
    payload["meta"]["action"] = "delete"
    payload["previous"], payload["data"] = payload["data"], None

    [change] = PipedriveAdapter().split(Integration(), payload)

    assert (change.action, change.current, change.object_id) == ("deleted", None, "8")


def test_v1_user_delivery_carries_the_user_in_current_0() -> None:
    payload = {
        "v": 1, "event": "added.user", "current": [{"id": 5, "name": "Eve"}], "previous": None,
        "meta": {"v": 1, "action": "added", "object": "user", "id": 5, "timestamp": 1523440213},
    }  # fmt: skip

    [change] = PipedriveAdapter().split(Integration(), payload)

    assert (change.object_type, change.action, change.current) == (
        "user", "created", {"id": 5, "name": "Eve"}
    )  # fmt: skip


@pytest.mark.parametrize(
    "payload", [[], {"data": {}}, {"meta": {"entity": "deal"}}, {"meta": {"timestamp": "x"}}]
)
def test_malformed_delivery_is_a_delivery_error(payload: Any) -> None:
    with pytest.raises(DeliveryError):
        PipedriveAdapter().split(Integration(), payload)


@pytest.mark.django_db
def test_v1_won_deal_fixture_books_points_for_the_user_object(deliver) -> None:
    from integrations.config_file import integration_import

    integration, _ = integration_import(
        data={"name": "Pipedrive v1", "type": "pipedrive", "steps": [
            {"kind": "points", "name": "Won deals", "source_type": "deal", "series": "Deals",
             "points": "value", "player_id": "user_id", "player_id_prefix": "pd:",
             "comment": "title", "point_time": "won_time",
             "filters": [{"field": "status", "values": ["won"]}]},
        ]},
    )  # fmt: skip
    player_upsert(external_id="pd:12415231", name="Ann Seller", email="")

    event = deliver(integration, fixture_json("pipedrive/v1-deal-updated-won.json"))

    booked = Transaction.objects.get()
    assert event.status == "processed"
    assert (booked.player.name, booked.points, booked.comment) == ("Ann Seller", 100, "Sample deal")
    assert booked.point_time == datetime(2018, 4, 11, 9, 50, 13, tzinfo=UTC)
    assert booked.source_object == "deal:123"


@pytest.mark.django_db
def test_same_delivery_twice_is_a_duplicate(pipedrive: Integration, deliver) -> None:
    payload = fixture_json("pipedrive/v2-user-create.json")

    first = deliver(pipedrive, payload)
    second = deliver(pipedrive, payload)

    assert first.status == "processed"
    assert second.status == "ignored"
    assert second.outcome[0]["result"] == "duplicate"


@pytest.mark.django_db
class TestBasicAuth:
    @pytest.fixture
    def guarded(self) -> Integration:
        return Integration.objects.create(
            name="Guarded", type="pipedrive",
            credentials={"basic_auth_user": "pd", "basic_auth_password": "s3cret"},
        )  # fmt: skip

    def post(self, client: Client, integration: Integration, auth: str | None) -> Any:
        headers = {"Authorization": auth} if auth else {}
        return client.post(
            integration.webhook_path,
            data=fixture_bytes("pipedrive/v2-deal-change.json"),
            content_type="application/json",
            headers=headers,
        )

    def test_right_credentials_are_accepted(self, client: Client, guarded: Integration) -> None:
        auth = "Basic " + base64.b64encode(b"pd:s3cret").decode()

        assert self.post(client, guarded, auth).status_code == 202

    @pytest.mark.parametrize(
        "auth", [None, "Basic " + base64.b64encode(b"pd:wrong").decode(), "Bearer x", "Basic !!"]
    )
    def test_missing_or_wrong_credentials_get_401_and_store_nothing(
        self, client: Client, guarded: Integration, auth: str | None
    ) -> None:
        response = self.post(client, guarded, auth)

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic")
        assert not WebhookEvent.objects.exists()

    def test_without_a_user_set_no_auth_is_asked(self, client: Client) -> None:
        open_integration = Integration.objects.create(name="Open", type="pipedrive")

        assert self.post(client, open_integration, None).status_code == 202
