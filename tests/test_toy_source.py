"""A source defined here, outside the code, is registered with `source_registered` and then works
everywhere a source does: the admin's add form shows its credential field, the API and import
files take its credentials (and refuse keys it does not declare), its deliveries are
authenticated and booked by its default step, its unverified spooled deliveries are refused,
and pulls go through its sync module. Adding a source is one folder and one registry line."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.config_file import integration_export, integration_import
from integrations.models import Integration, WebhookEvent
from integrations.services.apply import event_process
from integrations.sources import Change, DeliveryError, SyncPage
from integrations.sources.registry import Field, Source, source_registered
from integrations.spool import spool_replay, spool_write
from integrations.sync import sync_page, sync_start
from players.services import player_upsert
from scoring.models import Transaction

pytestmark = pytest.mark.django_db

TOKEN = "toy-token-123"


class ToyAdapter:
    """Deliveries are `{"items": [{"id", "kind", "who", "score"}]}`; when the integration has a
    token, the X-Toy-Token header must carry it."""

    def authenticate(self, integration: Integration, request: Any, body: bytes) -> str:
        token = str(integration.credentials.get("token") or "")
        if token and not hmac.compare_digest(request.headers.get("X-Toy-Token", ""), token):
            return "X-Toy-Token is missing or wrong"
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise DeliveryError("a toy delivery is an object with items")
        return [
            Change(item["kind"], str(item["id"]), "changed", item, None, None,
                   f"toy:{item['id']}:{item['score']}")
            for item in payload["items"]
        ]  # fmt: skip


PULLED: list[dict[str, Any]] = []  # what the toy's API holds, for the pull


def _page(integration: Integration, client: Any, object_type: str, cursor: str | None,
          since: datetime | None) -> SyncPage:  # fmt: skip
    changes = [Change(object_type, str(r["id"]), "changed", r, None, None, None) for r in PULLED]
    return SyncPage(changes=changes, next_cursor=None, total=len(changes))


TOY_SYNC = SimpleNamespace(
    api_client=lambda integration: nullcontext(None),  # the toy's API needs no HTTP
    object_types=lambda kind, listened: ["toy"] if kind == "backfill" else [],
    page=_page,
)

TOY = Source(
    type="toy",
    label="Toy system",
    adapter=ToyAdapter(),
    credentials=(
        Field(
            "token",
            "Toy token",
            help="Sent by the toy system in X-Toy-Token.",
            secret=True,
            signs_in=True,
            min_length=8,
        ),
    ),
    sign_in_help="Paste this URL into the toy system.",
    pull_credential="token",
    sync=TOY_SYNC,
    defaults={
        "series": [{"name": "Toys"}],
        "steps": [
            {
                "kind": "points",
                "name": "Toy scores",
                "source_type": "toy",
                "series": "Toys",
                "points": "score",
                "player_id": "who",
                "player_id_prefix": "toy:",
            },
        ],
    },
)


@pytest.fixture
def toy() -> Iterator[Source]:
    with source_registered(TOY) as source:
        yield source


@pytest.fixture
def toy_integration(toy: Source) -> Integration:
    integration, _ = integration_import(
        data={"name": "Toys", "type": "toy", "credentials": {"token": TOKEN}}
    )
    player_upsert(external_id="toy:ann", name="Ann", email="")
    return integration


def delivery(*items: dict[str, Any]) -> bytes:
    import json

    return json.dumps({"items": list(items)}).encode()


def test_the_admin_add_form_shows_the_toy_token_and_saves_it(
    toy: Source, admin_client: Client
) -> None:
    add = reverse("admin:integrations_integration_add")

    page = admin_client.get(add).content.decode()
    response = admin_client.post(
        add, {"name": "Toys", "type": "toy", "enabled": "on", "toy__token": TOKEN}, follow=True
    )

    assert 'name="toy__token"' in page and "Toy token" in page and "Toy system" in page
    integration = Integration.objects.get(name="Toys")
    assert integration.credentials == {"token": TOKEN}
    assert "Added the 1 default steps" in response.content.decode()
    change = admin_client.get(reverse("admin:integrations_integration_change",
                                      args=[integration.pk])).content.decode()  # fmt: skip
    assert TOKEN not in change  # a secret is never shown back
    assert '<strong class="secret-status">set</strong>' in change


def test_the_api_creates_a_toy_integration_and_refuses_a_key_it_does_not_declare(
    toy: Source,
) -> None:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    created = api.post("/api/v1/integrations/", {"name": "Toys", "type": "toy",
                       "credentials": {"token": TOKEN}}, format="json")  # fmt: skip
    unknown = api.post("/api/v1/integrations/", {"name": "Toys 2", "type": "toy",
                       "credentials": {"api_token": "x"}}, format="json")  # fmt: skip

    assert created.status_code == 201, created.json()
    assert created.json()["credentials"] == {"token": "***"}
    assert Integration.objects.get(name="Toys").credentials == {"token": TOKEN}
    assert unknown.status_code == 400
    assert unknown.json()["credentials"] == {
        "api_token": ["unknown credential 'api_token' for type toy; known: token"]
    }


def test_an_import_file_creates_a_toy_integration_and_exports_its_token_masked(
    toy_integration: Integration,
) -> None:
    exported = integration_export(integration=toy_integration)

    assert toy_integration.credentials == {"token": TOKEN}
    assert exported["credentials"] == {"token": "***"}
    assert [s["name"] for s in exported["steps"]] == ["Toy scores"]


def test_a_toy_delivery_with_its_token_is_booked_by_its_default_step(
    client: Client, toy_integration: Integration
) -> None:
    item = {"id": 7, "kind": "toy", "who": "ann", "score": 5}

    refused = client.post(toy_integration.webhook_path, delivery(item),
                          content_type="application/json")  # fmt: skip
    accepted = client.post(toy_integration.webhook_path, delivery(item),
                           content_type="application/json", headers={"X-Toy-Token": TOKEN})  # fmt: skip
    event = event_process(event_id=accepted.json()["event_id"])

    assert refused.status_code == 401
    assert accepted.status_code == 202
    assert event is not None and event.status == "processed", event and event.outcome
    booked = Transaction.objects.get()
    assert (booked.player.name, booked.points, booked.series.name) == ("Ann", 5, "Toys")


def test_an_unverified_spooled_toy_delivery_is_refused_because_deliveries_must_sign_in(
    toy_integration: Integration, tmp_path: Path, settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.WEBHOOK_SPOOL_DIR = str(tmp_path / "spool")
    item = {"id": 8, "kind": "toy", "who": "ann", "score": 3}
    secret = toy_integration.webhook_secret
    spool_write(secret=secret, body=delivery(item), headers={}, verified=False)
    spool_write(secret=secret, body=delivery(item), headers={}, verified=True)

    with django_capture_on_commit_callbacks():
        replayed = spool_replay()

    assert TOY.needs_auth(toy_integration.credentials)
    assert (replayed.stored, replayed.rejected) == (1, 1)
    assert WebhookEvent.objects.count() == 1


def test_a_toy_pull_books_points_through_its_sync_module(
    toy_integration: Integration, django_capture_on_commit_callbacks: Any
) -> None:
    PULLED[:] = [{"id": 9, "kind": "toy", "who": "ann", "score": 4}]

    with django_capture_on_commit_callbacks():
        run = sync_start(integration=toy_integration, kind="backfill",
                         since=datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    with django_capture_on_commit_callbacks():
        done = sync_page(run_id=run.pk)

    assert done is not None and done.status == "done", done and done.error
    assert (done.done, done.booked) == (1, 1)
    assert Transaction.objects.get().points == 4
