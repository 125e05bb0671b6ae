"""The webhook authenticates against the integration as this process last read it, and stores
the delivery only if the integration is still that version, checked in the INSERT itself: one
query per delivery, and a rotated URL or changed credentials take effect at once."""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.models import Integration, WebhookEvent
from integrations.services.maintenance import integration_secret_rotate
from tests.pipedrive_payloads import body, deal_v2

pytestmark = pytest.mark.django_db


def post(client: Client, secret: str, number: int, auth: str = "") -> int:
    headers = {"Authorization": f"Basic {base64.b64encode(auth.encode()).decode()}"} if auth else {}
    response = client.post(
        f"/hooks/{secret}/", body(deal_v2(number)), content_type="application/json", headers=headers
    )
    return response.status_code


def test_a_known_integrations_delivery_is_stored_with_one_statement(
    client: Client, pipedrive: Integration
) -> None:
    assert post(client, pipedrive.webhook_secret, 1) == 202  # this process reads it once

    with CaptureQueriesContext(connection) as queries:
        assert post(client, pipedrive.webhook_secret, 2) == 202

    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    assert WebhookEvent.objects.count() == 2


def test_a_rotated_url_stops_at_once_in_a_process_that_knew_it(
    client: Client, pipedrive: Integration
) -> None:
    old = pipedrive.webhook_secret
    assert post(client, old, 1) == 202

    new = integration_secret_rotate(integration=pipedrive)

    assert post(client, old, 2) == 404
    assert post(client, new, 3) == 202
    assert WebhookEvent.objects.count() == 2


def test_changed_credentials_count_at_once_in_a_process_that_knew_the_old_ones(
    client: Client, pipedrive: Integration
) -> None:
    pipedrive.credentials = {"basic_auth_user": "pd", "basic_auth_password": "old-pass"}
    pipedrive.save()
    assert post(client, pipedrive.webhook_secret, 1, auth="pd:old-pass") == 202

    pipedrive.credentials = {"basic_auth_user": "pd", "basic_auth_password": "new-pass"}
    pipedrive.save()

    # The new password first: the process still holds the old one and must not refuse it.
    assert post(client, pipedrive.webhook_secret, 2, auth="pd:new-pass") == 202
    assert post(client, pipedrive.webhook_secret, 3, auth="pd:old-pass") == 401
    assert post(client, pipedrive.webhook_secret, 4, auth="pd:new-pass") == 202
    assert WebhookEvent.objects.count() == 3
