"""A webhook secret is URL-safe text of 8 to 128 characters, used by one integration only, at
every door: the admin, the API and import files refuse others with the same words."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.config_file import ConfigError, integration_import
from integrations.models import Integration

pytestmark = pytest.mark.django_db

SHORT = (
    "The webhook secret 'a' is not URL-safe text of 8 to 128 characters (A-Z, a-z, 0-9, _ and -)."
)
TAKEN = "Another integration already uses this webhook secret."


@pytest.fixture
def taken() -> Integration:
    integration, _ = integration_import(
        data={"name": "Other", "type": "pipedrive", "webhook_secret": "taken-secret-1"}
    )
    return integration


def admin(client: Client, secret: str) -> list[str]:
    response = client.post(reverse("admin:integrations_integration_add"), {
        "name": "New", "type": "pipedrive", "enabled": "on", "webhook_secret": secret})  # fmt: skip
    if response.status_code == 302:
        return []
    return list(response.context["adminform"].form.errors["webhook_secret"])


def api(secret: str) -> list[str]:
    user = User.objects.create_user(f"writer-{secret}", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = client.post("/api/v1/integrations/", {
        "name": "New", "type": "pipedrive", "webhook_secret": secret}, format="json")  # fmt: skip
    return [] if response.status_code == 201 else response.json()["webhook_secret"]


def import_file(secret: str) -> list[str]:
    try:
        integration_import(data={"name": "New", "type": "pipedrive", "webhook_secret": secret})
    except ConfigError as exc:
        return [p.removeprefix("webhook_secret: ") for p in exc.problems]
    return []


DOORS: dict[str, Any] = {"admin": admin, "api": api, "file": import_file}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("secret", "problem"),
    [("a", SHORT), ("taken-secret-1", TAKEN), ("kept-secret-123", None)],
)
def test_every_door_takes_the_same_webhook_secrets(
    door: str, secret: str, problem: str | None, taken: Integration, admin_client: Client
) -> None:
    call = DOORS[door]
    found = call(admin_client, secret) if door == "admin" else call(secret)

    assert found == ([problem] if problem else [])
    created = Integration.objects.filter(name="New").first()
    assert (created is not None) == (problem is None)
    if created is not None:
        assert created.webhook_secret == secret
