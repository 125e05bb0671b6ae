"""Test settings: the real settings module, pointed at the real services when they answer.

`make test` runs against PostgreSQL and Redis at DATABASE_URL / CELERY_BROKER_URL, defaulting to
this machine's standard ports. When they do not answer: with CI=true the run stops here; anywhere
else it says so in one line and falls back to SQLite and in-process tasks, and the tests marked
`services` are reported as skipped.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pointagram"
# Database 15 keeps test messages away from a development broker on database 0.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)

_missing = [
    name
    for name, var, port in (
        ("PostgreSQL", "DATABASE_URL", 5432),
        ("Redis", "CELERY_BROKER_URL", 6379),
    )
    if not _answers(os.environ[var], port)
]
SERVICES_AVAILABLE = not _missing
if _missing:
    where = ", ".join(_missing)
    if os.environ.get("CI", "").lower() == "true":
        sys.exit(f"CI: {where} not reachable (DATABASE_URL / CELERY_BROKER_URL); failing the run.")
    print(
        f"{where} not reachable: falling back to SQLite and in-process tasks; "
        "service tests will be skipped.",
        file=sys.stderr,
    )
    os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    os.environ["CELERY_BROKER_URL"] = ""

from pointagram_site.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]  # test client, schemathesis, live server
# Tests speak plain HTTP (test client, live server); tests/test_security.py checks the
# production values with `check --deploy`.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Sign-in throttling (django-axes) refuses authenticate() calls without a request, and
# client.login() passes none; tests/test_login_throttling.py switches it on for its tests, with
# the site's throttling settings otherwise as they are.
AXES_ENABLED = False
