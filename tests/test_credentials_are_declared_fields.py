"""Credentials are the fields the integration's type declares. In the admin they are form fields
(a secret is write-only: it shows "set" or "not set", blank keeps it, "clear" removes it); the
API and import files take them as an object whose unknown keys are refused and where "***" keeps
the stored value; a value that is not text is refused everywhere, naming the field."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.config_file import integration_import
from integrations.models import Integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(db: None) -> APIClient:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def guarded() -> Integration:
    integration, _ = integration_import(data={
        "name": "PD", "type": "pipedrive",
        "credentials": {"basic_auth_user": "pd", "basic_auth_password": "s3cret-pw"}})  # fmt: skip
    return integration


def change_page(client: Client, integration: Integration) -> str:
    url = reverse("admin:integrations_integration_change", args=[integration.pk])
    return client.get(url).content.decode()


def change_data(integration: Integration, **fields: str) -> dict[str, Any]:
    data = {"name": integration.name, "enabled": "on",
            "webhook_secret": integration.webhook_secret,
            "pipedrive__basic_auth_user": integration.credentials.get("basic_auth_user", ""),
            "pipedrive__api_base_url": "",
            "steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000"}  # fmt: skip
    return data | fields


def test_the_change_page_has_a_field_per_credential_and_never_shows_a_secret(
    admin_client: Client, guarded: Integration
) -> None:
    text = change_page(admin_client, guarded)

    for key in ("basic_auth_user", "basic_auth_password", "api_token", "api_base_url"):
        assert f'name="pipedrive__{key}"' in text
    assert 'value="pd"' in text
    assert "s3cret-pw" not in text
    assert '<strong class="secret-status">set</strong>' in text  # the password
    assert '<strong class="secret-status">not set</strong>' in text  # the API token
    assert 'name="pipedrive__basic_auth_password__clear"' in text
    assert 'name="credentials"' not in text  # no JSON box


def test_a_secret_left_blank_keeps_its_value_and_clear_removes_it(
    admin_client: Client, guarded: Integration
) -> None:
    url = reverse("admin:integrations_integration_change", args=[guarded.pk])

    kept = admin_client.post(url, change_data(guarded, pipedrive__basic_auth_user="pd2"))
    guarded.refresh_from_db()
    after_keep = dict(guarded.credentials)
    cleared = admin_client.post(url, change_data(
        guarded, pipedrive__basic_auth_user="", pipedrive__basic_auth_password__clear="on"))  # fmt: skip
    guarded.refresh_from_db()

    assert kept.status_code == cleared.status_code == 302
    assert after_keep == {"basic_auth_user": "pd2", "basic_auth_password": "s3cret-pw"}
    assert guarded.credentials == {}


def test_a_user_without_its_password_is_refused_under_the_password(
    admin_client: Client, guarded: Integration
) -> None:
    url = reverse("admin:integrations_integration_change", args=[guarded.pk])

    response = admin_client.post(url, change_data(
        guarded, pipedrive__basic_auth_password__clear="on"))  # fmt: skip

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {
        "pipedrive__basic_auth_user": ["Basic auth user is set: set Basic auth password too"]
    }


def test_the_api_and_files_refuse_a_typo_in_a_credential_key(
    writer: APIClient, tmp_path: Path
) -> None:
    message = ("unknown credential 'api_tokn' for type pipedrive; known: api_base_url, "
               "api_token, basic_auth_password, basic_auth_user")  # fmt: skip
    path = tmp_path / "pd.json"
    path.write_text(json.dumps({"name": "PD", "type": "pipedrive",
                                "credentials": {"api_tokn": "t"}}))  # fmt: skip

    api = writer.post("/api/v1/integrations/", {"name": "PD", "type": "pipedrive",
                      "credentials": {"api_tokn": "t"}}, format="json")  # fmt: skip
    with pytest.raises(CommandError) as refused:
        call_command("integration_import", str(path), stdout=StringIO())

    assert api.status_code == 400
    assert api.json() == {"credentials": {"api_tokn": [message]}}
    assert f"credentials.api_tokn: {message}" in str(refused.value)
    assert not Integration.objects.exists()


def test_a_credential_that_is_not_text_is_refused_naming_it(writer: APIClient) -> None:
    response = writer.post("/api/v1/integrations/", {"name": "PD", "type": "pipedrive",
                           "credentials": {"api_token": ["a"]}}, format="json")  # fmt: skip

    assert response.status_code == 400
    assert response.json() == {
        "credentials": {"api_token": ["API token must be text, not list \"['a']\""]}
    }


def test_credentials_that_are_not_an_object_are_refused(writer: APIClient) -> None:
    response = writer.post("/api/v1/integrations/", {"name": "PD", "type": "pipedrive",
                           "credentials": ["a"]}, format="json")  # fmt: skip

    assert response.status_code == 400
    assert "credentials" in response.json()
    assert not Integration.objects.exists()


def test_stars_keep_a_stored_secret_and_an_empty_value_clears_one_in_the_api(
    writer: APIClient, guarded: Integration
) -> None:
    url = f"/api/v1/integrations/{guarded.pk}/"

    shown = writer.get(url).json()["credentials"]
    kept = writer.patch(url, {"credentials": {"basic_auth_password": "***",
                                              "api_token": "tok-1"}}, format="json")  # fmt: skip
    guarded.refresh_from_db()
    after_keep = dict(guarded.credentials)
    cleared = writer.patch(url, {"credentials": {"basic_auth_user": "",
                                                 "basic_auth_password": ""}}, format="json")  # fmt: skip
    guarded.refresh_from_db()

    assert shown == {"basic_auth_user": "pd", "basic_auth_password": "***"}
    assert kept.status_code == cleared.status_code == 200
    assert after_keep == {"basic_auth_user": "pd", "basic_auth_password": "s3cret-pw",
                          "api_token": "tok-1"}  # fmt: skip
    assert guarded.credentials == {"api_token": "tok-1"}


def test_a_value_saved_before_its_rule_is_checked_only_when_given_again(
    writer: APIClient, guarded: Integration
) -> None:
    # A loopback base URL, stored before calls were held to the source's hosts.
    Integration.objects.filter(pk=guarded.pk).update(
        credentials={**guarded.credentials, "api_base_url": "http://127.0.0.1:9"}
    )
    url = f"/api/v1/integrations/{guarded.pk}/"

    other = writer.patch(url, {"credentials": {"api_token": "tok-1"}}, format="json")
    again = writer.patch(url, {"credentials": {"api_base_url": "http://127.0.0.1:9"}},
                         format="json")  # fmt: skip

    assert other.status_code == 200
    assert again.status_code == 400
    assert "refused" in again.json()["credentials"]["api_base_url"][0]
