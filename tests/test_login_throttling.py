"""Failed sign-ins are throttled (security probe, issue 13 item 3; django-axes).

The probe sent 40 wrong passwords to the admin login in 10 s, then the right one, and got in.
Now 5 failures for one username from one address lock that combination for 15 minutes (both
from the environment): the answer is a 429 that says so, the right password does not help, and
`manage.py axes_reset_username` (or the cool-off) unlocks it. Other addresses are not locked out,
so nobody can lock a colleague out from elsewhere. The API takes tokens, never passwords.

tests/settings.py switches axes off for the rest of the suite (tests that call client.login
pass no request, which axes refuses); every test here switches it back on, with the site's
settings otherwise unchanged.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from pointagram_site.login_lockout import client_ip
from tests.plugin import ROOT

pytestmark = pytest.mark.django_db

PASSWORD = "R00t-right-password"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture(autouse=True)
def axes_on(settings: Any) -> None:
    settings.AXES_ENABLED = True


@pytest.fixture
def root(db: None) -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def sign_in(client: Client, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": "root", "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_forty_wrong_passwords_lock_the_admin_login_and_the_right_one_then_fails(
    root: User,
) -> None:
    attacker = Client()
    answers = [sign_in(attacker, f"guess-{n}").status_code for n in range(40)]

    right = sign_in(attacker, PASSWORD)

    assert not signed_in(attacker)
    assert right.status_code == 429
    assert answers[:4] == [200] * 4  # the login form again, with its error
    assert set(answers[4:]) == {429}  # the 5th failure locks
    text = right.content.decode()
    assert "Too many failed sign-ins for root from your address" in text
    assert "Try again in 15 minutes" in text
    assert "manage.py axes_reset_username root" in text


def test_the_lock_holds_one_username_at_one_address_only(root: User) -> None:
    colleague = User.objects.create_user("sam", password="S4m-own-password", is_staff=True)
    colleague.groups.add(Group.objects.get(name="scoring admin"))
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(5):
        sign_in(attacker, f"guess-{n}")

    owner = Client(REMOTE_ADDR="198.51.100.7")
    sign_in(owner, PASSWORD)
    other_user = attacker.post(LOGIN, {"username": "sam", "password": "S4m-own-password"})

    assert signed_in(owner)
    assert other_user.status_code == 302 and signed_in(attacker)


def test_four_failures_do_not_lock_and_a_success_starts_the_count_again(root: User) -> None:
    client = Client()
    for n in range(4):
        assert sign_in(client, f"guess-{n}").status_code == 200
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()
    for n in range(4):
        assert sign_in(client, f"again-{n}").status_code == 200

    assert sign_in(client, PASSWORD).status_code == 302


def test_an_admin_unlocks_with_axes_reset_username_or_the_cool_off_ends(root: User) -> None:
    client = Client()
    for n in range(5):
        sign_in(client, f"guess-{n}")
    assert sign_in(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "root")
    assert sign_in(client, PASSWORD).status_code == 302

    client.logout()
    for n in range(5):
        sign_in(client, f"guess-{n}")
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))  # fmt: skip
    assert sign_in(client, PASSWORD).status_code == 302


def test_the_api_takes_no_passwords(root: User) -> None:
    basic = base64.b64encode(f"root:{PASSWORD}".encode()).decode()

    answer = APIClient().get("/api/v1/players/", HTTP_AUTHORIZATION=f"Basic {basic}")

    assert answer.status_code == 401


def test_behind_trusted_proxies_the_address_is_the_one_the_outermost_proxy_saw(
    settings: Any,
) -> None:
    request = RequestFactory().post(
        reverse("admin:login"), REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",  # the client wrote 6.6.6.6 itself
    )  # fmt: skip

    settings.TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"
    settings.TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.9"
    settings.TRUSTED_PROXIES = 2
    assert client_ip(request) == "6.6.6.6"
    settings.TRUSTED_PROXIES = 3  # fewer entries than proxies: not forwarded as configured
    assert client_ip(request) == "10.0.0.1"


def test_limit_cool_off_and_proxies_come_from_the_environment() -> None:
    show = (
        "from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.TRUSTED_PROXIES, s.AXES_ENABLED)"
    )

    def shown(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        clean.update(DJANGO_SETTINGS_MODULE="pointagram_site.settings", DEBUG="1", **env)
        result = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env=clean,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert shown() == "5 0:15:00 0 True"
    assert shown(AXES_FAILURE_LIMIT="3", AXES_COOLOFF_MINUTES="60", TRUSTED_PROXIES="1") == (
        "3 1:00:00 1 True"
    )
    assert shown(AXES_COOLOFF_MINUTES="0") == "5 None 0 True"  # locked until reset
