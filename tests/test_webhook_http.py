"""What a source system sees when it posts to /hooks/<secret>/, and what gets stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from integrations.models import Integration, WebhookEvent
from tests.support import fixture_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration() -> Integration:
    return Integration.objects.create(name="Pipedrive", type="pipedrive")


def post(client: Client, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers)


def test_delivery_is_stored_pending_and_answered_202_with_its_id(
    client: Client, integration: Integration, django_capture_on_commit_callbacks
) -> None:
    body = fixture_bytes("pipedrive/v2-deal-change.json")
    with django_capture_on_commit_callbacks() as enqueued:
        response = post(client, integration.webhook_path, body, headers={"User-Agent": "Pipedrive"})

    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert response.json() == {"event_id": event.pk}
    assert bytes(event.body) == body
    assert event.integration == integration
    assert event.status == WebhookEvent.Status.PENDING
    assert event.headers["User-Agent"] == "Pipedrive"
    assert len(enqueued) == 1  # processing is enqueued once the row is committed


def test_unknown_secret_gets_404_and_stores_nothing(
    client: Client, integration: Integration
) -> None:
    response = post(client, "/hooks/not-a-secret-we-know/", b'{"meta": {}}')

    assert response.status_code == 404
    assert "no integration" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_body_that_is_not_json_gets_400_and_is_stored_failed(
    client: Client, integration: Integration, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as enqueued:
        response = post(client, integration.webhook_path, b'{"meta": {"id": 1')

    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert response.json()["event_id"] == event.pk
    assert "not valid JSON" in response.json()["error"]
    assert event.status == WebhookEvent.Status.FAILED
    assert "not valid JSON" in event.error
    assert bytes(event.body) == b'{"meta": {"id": 1'  # kept as sent, for the admin to see
    assert enqueued == []


def test_body_that_is_not_utf8_gets_400_and_is_stored_failed(
    client: Client, integration: Integration
) -> None:
    response = post(client, integration.webhook_path, b'{"name": "\xff\xfe"}')

    assert response.status_code == 400
    assert "not UTF-8" in response.json()["error"]
    assert bytes(WebhookEvent.objects.get().body) == b'{"name": "\xff\xfe"}'


def test_get_is_405(client: Client, integration: Integration) -> None:
    response = client.get(integration.webhook_path)

    assert response.status_code == 405
    assert not WebhookEvent.objects.exists()


def test_body_over_the_limit_gets_413_and_stores_nothing(
    client: Client, integration: Integration, settings
) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = json.dumps({"data": {"notes": "x" * 2000}}).encode()

    response = post(client, integration.webhook_path, body)

    assert response.status_code == 413
    assert "limit is 1024 bytes" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_body_at_the_limit_is_accepted(client: Client, integration: Integration, settings) -> None:
    body = json.dumps({"data": {"notes": "x" * 1000}}).encode()
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)

    assert post(client, integration.webhook_path, body).status_code == 202


def test_default_limit_is_one_mebibyte(client: Client, integration: Integration) -> None:
    body = b'{"notes": "' + b"x" * (1024 * 1024) + b'"}'

    assert post(client, integration.webhook_path, body).status_code == 413
    assert not WebhookEvent.objects.exists()


def test_no_secret_header_is_stored(client: Client, integration: Integration) -> None:
    post(
        client,
        integration.webhook_path,
        b"{}",
        headers={"Authorization": "Basic cGQ6czNjcmV0", "X-HubSpot-Signature-v3": "abc"},
    )

    stored = WebhookEvent.objects.get().headers
    assert "Authorization" not in stored
    assert "X-HubSpot-Signature-v3" not in stored
