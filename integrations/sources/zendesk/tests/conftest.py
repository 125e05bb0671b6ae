from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.configuration import integration_defaults_apply
from integrations.models import Integration

SIGNING_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


@pytest.fixture
def zendesk(db: None) -> Integration:
    """A Zendesk integration with the default setup whose deliveries must be signed."""
    integration = Integration.objects.create(
        name="Zendesk",
        type="zendesk",
        credentials={"signing_secret": SIGNING_SECRET, "subdomain": "acme"},
    )
    integration_defaults_apply(integration=integration)
    return integration


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """As Zendesk documents it, computed here on its own: base64(HMACSHA256(TIMESTAMP + BODY))."""
    return base64.b64encode(
        hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    ).decode()


@pytest.fixture
def signed_post(client: Any) -> Any:
    """POST a body as Zendesk does, signed `age` ago (with another secret if given)."""

    def post(
        integration: Integration,
        body: bytes,
        *,
        secret: str = SIGNING_SECRET,
        age: timedelta = timedelta(0),
    ) -> Any:
        timestamp = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
        return client.post(
            integration.webhook_path,
            data=body,
            content_type="application/json",
            headers={
                "X-Zendesk-Webhook-Signature": zendesk_signature(secret, timestamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            },
        )

    return post
