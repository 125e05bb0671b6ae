"""X-Zendesk-Webhook-Signature: base64 HMAC-SHA256 of the timestamp and the raw body with the
signing secret, from the last 5 minutes; required once the secret is set (401, nothing stored)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from integrations.models import Integration, WebhookEvent
from integrations.sources.zendesk import SOURCE

from .conftest import SIGNING_SECRET, zendesk_signature
from .events import fixture

pytestmark = pytest.mark.django_db

BODY = fixture("ticket-status-changed.json")


def test_a_valid_signature_is_accepted(zendesk: Integration, signed_post: Any) -> None:
    response = signed_post(zendesk, BODY)

    assert response.status_code == 202
    assert WebhookEvent.objects.get().status == "pending"


def test_a_signature_from_four_minutes_ago_is_still_accepted(
    zendesk: Integration, signed_post: Any
) -> None:
    assert signed_post(zendesk, BODY, age=timedelta(minutes=4)).status_code == 202


def test_a_bad_signature_is_refused_and_nothing_stored(
    zendesk: Integration, signed_post: Any
) -> None:
    response = signed_post(zendesk, BODY, secret="not-the-signing-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "X-Zendesk-Webhook-Signature does not match"
    assert not WebhookEvent.objects.exists()


def test_an_expired_signature_is_refused_and_nothing_stored(
    zendesk: Integration, signed_post: Any
) -> None:
    response = signed_post(zendesk, BODY, age=timedelta(minutes=6))

    assert response.status_code == 401
    assert "expired" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_a_signature_of_another_body_is_refused(zendesk: Integration, client: Any) -> None:
    timestamp = "2026-11-20T09:12:44Z"
    response = client.post(
        zendesk.webhook_path, data=BODY, content_type="application/json",
        headers={"X-Zendesk-Webhook-Signature": zendesk_signature(SIGNING_SECRET, timestamp, b"{}"),
                 "X-Zendesk-Webhook-Signature-Timestamp": timestamp},
    )  # fmt: skip

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Zendesk-Webhook-Signature": "abc="},
     {"X-Zendesk-Webhook-Signature": "abc=", "X-Zendesk-Webhook-Signature-Timestamp": "yesterday"}],
)  # fmt: skip
def test_missing_or_unreadable_headers_are_refused(
    zendesk: Integration, client: Any, headers: dict[str, str]
) -> None:
    response = client.post(
        zendesk.webhook_path, data=BODY, content_type="application/json", headers=headers
    )

    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_without_a_signing_secret_deliveries_need_no_signature(
    zendesk: Integration, client: Any
) -> None:
    zendesk.credentials = {"subdomain": "acme"}
    zendesk.save()

    response = client.post(zendesk.webhook_path, data=BODY, content_type="application/json")

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"subdomain": "acme.evil.example"}, "must be letters, digits and hyphens only"),
        ({"subdomain": "acme/x"}, "must be letters, digits and hyphens only"),
        ({"subdomain": "-acme"}, "must be letters, digits and hyphens only"),
        ({"email": "nobody"}, "is not an email address"),
        ({"api_token": "tok"}, "set Email too"),
        ({"api_base_url": "ftp://acme.zendesk.com"}, "not an http(s) URL"),
    ],
)
def test_credentials_are_checked_with_the_field_named(values: dict[str, str], problem: str) -> None:
    problems = SOURCE.credentials_problems(values)

    assert any(problem in p for p in problems.values()), problems


def test_the_documented_credentials_are_valid() -> None:
    assert SOURCE.credentials_problems({
        "signing_secret": SIGNING_SECRET, "subdomain": "acme-support",
        "email": "admin@example.com", "api_token": "tok",
    }) == {}  # fmt: skip
    assert SOURCE.secret_keys == {"signing_secret", "api_token"}
