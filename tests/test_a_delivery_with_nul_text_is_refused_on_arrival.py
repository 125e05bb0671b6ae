"""A delivery with a NUL character (the JSON escape "\\u0000") in any string or key is refused
when it arrives. PostgreSQL text cannot hold NUL, so such a delivery can never be processed:
accepted with a 202, it failed in the worker with a DataError and was retried until it gave up.
Now it is answered 400 and stored as `failed` with a message naming the problem, exactly like a
body that is not JSON, and nothing ever retries it (DESIGN §9 "Event status": data errors are
not retried automatically)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from integrations.models import SeenChange, WebhookEvent
from integrations.tasks import event_process_task, events_drain_task, events_sweep_task
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import deal_v2
from tests.support import fixture_bytes

pytestmark = pytest.mark.django_db

# A Pipedrive v2 won deal whose meta.id is "\u0000" (the delivery from the bug report).
NUL_META_ID = "pipedrive/v2-deal-won-nul-meta-id.json"


@pytest.fixture
def hook(pipedrive: Any) -> Any:
    player_upsert(external_id="pd:12415231", name="Ann", email="")
    player_upsert(external_id="pd:1001", name="Bob", email="")
    return pipedrive


def post(client: Client, integration: Any, data: bytes) -> Any:
    return client.post(integration.webhook_path, data=data, content_type="application/json")


def nothing_retries(event: WebhookEvent) -> WebhookEvent:
    """Run everything that picks up stored events: the sweeper (the event made old enough for
    it), a drain and the one-event task."""
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=1))
    events_sweep_task()
    events_drain_task()
    event_process_task(event.pk)
    event.refresh_from_db()
    return event


def test_a_pipedrive_delivery_whose_meta_id_is_nul_is_refused_and_never_retried(
    client: Client, hook: Any
) -> None:
    delivered = fixture_bytes(NUL_META_ID)
    assert b'"id": "\\u0000"' in delivered  # the JSON escape, not a raw byte

    response = post(client, hook, delivered)

    assert response.status_code == 400
    answer = response.json()
    assert "NUL" in answer["error"] and "meta.id" in answer["error"]
    event = WebhookEvent.objects.get(pk=answer["event_id"])
    assert (event.status, event.error, event.attempts) == ("failed", answer["error"], 0)
    assert bytes(event.body) == delivered  # kept as sent, for an admin to see
    event = nothing_retries(event)
    assert (event.status, event.error, event.attempts) == ("failed", answer["error"], 0)
    assert not Transaction.objects.exists()
    assert not SeenChange.objects.exists()


def _with_nul_key(payload: dict[str, Any]) -> dict[str, Any]:
    payload["data"]["custom_fields"]["cf\x00"] = "x"
    return payload


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (deal_v2(1, owner_id=1001, title="ACME\x00 renewal"), "data.title"),
        (deal_v2(1, owner_id=1001, label_ids=[24, "\x00"]), "data.label_ids.1"),
        (_with_nul_key(deal_v2(1, owner_id=1001, custom_fields={})), "data.custom_fields"),
        ([{"nested": [{"deep": "\x00"}]}], "0.nested.0.deep"),
    ],
    ids=["in a mapped column", "in a list", "in a key", "in an array body"],
)
def test_nul_anywhere_in_a_string_or_key_is_refused_naming_where(
    client: Client, hook: Any, payload: Any, where: str
) -> None:
    response = post(client, hook, json.dumps(payload).encode())

    assert response.status_code == 400
    error = response.json()["error"]
    assert "NUL" in error and where in error
    event = nothing_retries(WebhookEvent.objects.get())
    assert (event.status, event.attempts) == ("failed", 0)
    assert not Transaction.objects.exists()


def test_an_escaped_backslash_before_u0000_is_plain_text_and_accepted(
    client: Client, hook: Any
) -> None:
    # JSON "C:\\u0000" is the six characters \u0000 after "C:", no NUL at all.
    payload = deal_v2(1, owner_id=1001, title="C:\\u0000")
    data = json.dumps(payload).encode()
    assert b"\\\\u0000" in data

    response = post(client, hook, data)

    assert response.status_code == 202
    event_process_task(response.json()["event_id"])
    assert WebhookEvent.objects.get().status == "processed"
    assert Transaction.objects.get().comment == "C:\\u0000"


def test_a_spooled_delivery_with_nul_is_stored_failed_when_replayed(
    hook: Any, settings: Any, tmp_path: Path
) -> None:
    from integrations.spool import spool_replay, spool_write

    settings.WEBHOOK_SPOOL_DIR = str(tmp_path / "spool")
    payload = copy.deepcopy(deal_v2(1, owner_id=1001))
    payload["meta"]["id"] = "\x00"
    spool_write(secret=hook.webhook_secret, body=json.dumps(payload).encode(), headers={},
                verified=True)  # fmt: skip

    spool_replay()

    event = WebhookEvent.objects.get()
    assert event.status == "failed" and "NUL" in event.error
    event = nothing_retries(event)
    assert (event.status, event.attempts) == ("failed", 0)
    assert not Transaction.objects.exists()


def test_an_unpaired_surrogate_is_refused_the_same_way(client: Client, hook: Any) -> None:
    # "\ud800" alone is not a character: PostgreSQL cannot store it as text either.
    payload = deal_v2(1, owner_id=1001)
    payload["meta"]["id"] = "\ud800"

    response = post(client, hook, json.dumps(payload).encode())

    assert response.status_code == 400
    assert "unpaired surrogate" in response.json()["error"]
    assert "meta.id" in response.json()["error"]
    event = nothing_retries(WebhookEvent.objects.get())
    assert (event.status, event.attempts) == ("failed", 0)


def test_an_escaped_surrogate_pair_is_a_character_and_accepted(client: Client, hook: Any) -> None:
    data = json.dumps(deal_v2(1, owner_id=1001, title="Won 🎉")).encode()
    assert b"\\ud83c\\udf89" in data  # json.dumps escapes it as a pair

    response = post(client, hook, data)

    assert response.status_code == 202
    event_process_task(response.json()["event_id"])
    assert Transaction.objects.get().comment == "Won 🎉"
