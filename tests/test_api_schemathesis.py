"""Schemathesis against the generated OpenAPI schema: random valid and invalid requests to
every operation must never get a 5xx, and every documented answer must match its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core import signals
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from pointagram_site.wsgi import application

# Schemathesis calls the app as host "localhost" (allowed by tests/settings.py). It reads the
# schema while collecting, before any login exists, so it reads it as a site that publishes it.
with override_settings(API_SCHEMA_PUBLIC=True):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)


@pytest.fixture
def admin_token(db: None) -> Iterator[str]:
    from integrations.config_file import integration_import
    from players.services import player_upsert

    user = User.objects.create_user("schemathesis", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    # Something to find, so that not every answer is a 404.
    integration_import(data={"name": "Pipedrive", "type": "pipedrive"})
    player_upsert(external_id="pd:1", name="Ann", email="ann@example.com")
    # Called straight through WSGI, each request would close the test's database connection at
    # its end; Django's own test client turns that off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield Token.objects.create(user=user).key
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors_and_answers_match_the_schema(case: Any, admin_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {admin_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
