"""`make run` loads the demo data with `manage.py demo_setup`: idempotent, and a fresh login."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from integrations.models import Integration, IntegrationStep
from players.models import Player

pytestmark = pytest.mark.django_db


def demo_setup() -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(r"as user 'admin' with password (\S+)", output)
    assert match, output
    return match.group(1)


def test_printed_login_works_and_is_not_fixed() -> None:
    first = printed_password(demo_setup())
    second = printed_password(demo_setup())

    assert first != second
    assert authenticate(username="admin", password=second) is not None
    assert authenticate(username="admin", password=first) is None
    assert User.objects.get(username="admin").is_superuser


def test_running_twice_does_not_duplicate_demo_data() -> None:
    output = demo_setup()
    counts = (
        Integration.objects.count(),
        IntegrationStep.objects.count(),
        Player.objects.count(),
        User.objects.count(),
    )

    demo_setup()

    assert counts == (1, 4, 3, 1)
    assert (
        Integration.objects.count(),
        IntegrationStep.objects.count(),
        Player.objects.count(),
        User.objects.count(),
    ) == counts
    assert "http://127.0.0.1:8000/admin/" in output
    assert Integration.objects.get().webhook_path in output
