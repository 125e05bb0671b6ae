"""The settings module as an operator meets it: driven by environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.plugin import ROOT

SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "from pointagram_site.celery import app; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'name': str(s.DATABASES['default']['NAME']), 'eager': app.conf.task_always_eager, "
    "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'email': s.EMAIL_BACKEND}))"
)


def run_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    clean["DJANGO_SETTINGS_MODULE"] = "pointagram_site.settings"
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


_OURS = {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}


def test_without_secret_key_outside_debug_it_refuses_to_start() -> None:
    result = run_settings(DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_defaults_are_sqlite_in_the_project_eager_tasks_and_console_email() -> None:
    result = run_settings(DEBUG="1")

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["engine"] == "django.db.backends.sqlite3"
    assert shown["name"] == str(ROOT / "var" / "db.sqlite3")
    assert shown["eager"] is True
    assert shown["debug"] is True
    assert shown["email"] == "django.core.mail.backends.console.EmailBackend"


def test_environment_selects_postgresql_redis_and_hosts() -> None:
    result = run_settings(
        SECRET_KEY="x" * 50,
        DEBUG="false",
        DATABASE_URL="postgres://u:p@db.example:5432/points",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/3",
        ALLOWED_HOSTS="points.example.com, www.points.example.com",
    )

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["engine"] == "django.db.backends.postgresql"
    assert shown["name"] == "points"
    assert shown["eager"] is False
    assert shown["debug"] is False
    assert shown["hosts"] == ["points.example.com", "www.points.example.com"]
