"""Who may read the API's schema and docs (security probe, issue 13 item 9).

The schema maps every endpoint, field and filter: by default only those who may read the API
(staff, by token or session) get it. `API_SCHEMA_PUBLIC` (environment, off by default) opens
the schema and the docs page to anyone, e.g. for a public integration guide.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.plugin import ROOT

pytestmark = pytest.mark.django_db

SCHEMA, DOCS = "/api/v1/schema/", "/api/v1/docs/"


def test_anonymous_clients_get_neither_schema_nor_docs_by_default(client: Client) -> None:
    schema = APIClient().get(SCHEMA)
    docs = client.get(DOCS)

    assert schema.status_code == 401
    assert b"openapi" not in schema.content
    assert docs.status_code == 302 and docs["Location"] == f"/admin/login/?next={DOCS}"


def test_staff_read_the_schema_and_docs_and_other_logins_do_not(client: Client) -> None:
    staff = User.objects.create_user("reader", is_staff=True)
    plain = User.objects.create_user("player")
    by_token = APIClient()
    by_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    plain_token = APIClient()
    plain_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=plain).key}")
    client.force_login(staff)

    assert by_token.get(SCHEMA).status_code == 200
    assert client.get(SCHEMA).status_code == 200
    assert b"swagger-ui" in client.get(DOCS).content
    assert plain_token.get(SCHEMA).status_code == 403
    client.force_login(plain)
    assert client.get(DOCS).status_code == 403


def test_api_schema_public_opens_schema_and_docs_to_anyone(client: Client, settings: Any) -> None:
    settings.API_SCHEMA_PUBLIC = True

    schema = APIClient().get(SCHEMA)
    docs = client.get(DOCS)

    assert schema.status_code == 200 and b"openapi" in schema.content
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert APIClient().get("/api/v1/players/").status_code == 401  # the API itself stays shut


@pytest.mark.parametrize(("value", "public"), [("", False), ("0", False), ("1", True)])
def test_api_schema_public_is_read_from_the_environment(value: str, public: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="pointagram_site.settings", DEBUG="1",
               API_SCHEMA_PUBLIC=value)  # fmt: skip
    shown = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.API_SCHEMA_PUBLIC)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert shown.stdout.strip() == str(public), shown.stderr
