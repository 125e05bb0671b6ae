from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests import settings as test_settings

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests with the real Celery worker run last: once started, the worker takes every task a
    # later test queues, and could hold row locks while that test's teardown empties the tables.
    items.sort(key=lambda item: "celery_worker" in getattr(item, "fixturenames", ()))
    if test_settings.SERVICES_AVAILABLE:
        return
    skip = pytest.mark.skip(reason="PostgreSQL/Redis not reachable: make test fell back to SQLite")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


def _services_line() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return "services: SQLite in memory, tasks in-process (fallback; service tests skipped)"
    return (
        f"services: database {db['ENGINE'].rsplit('.', 1)[-1]} at {db.get('HOST')}:"
        f"{db.get('PORT')}, broker {settings.CELERY_BROKER_URL}"
    )


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's own plugin reads --hypothesis-seed
def pytest_configure(config: pytest.Config) -> None:
    """Random tests draw from one seed per run, printed, so that a failure seen once can be
    replayed (HYPOTHESIS_SEED=N). --hypothesis-seed wins, then HYPOTHESIS_SEED, else a fresh
    one. No example database: examples saved by earlier runs would be tried first, so a run
    would test more than its seed says (looking stronger than it is) and a replay could differ."""
    from hypothesis import settings as hypothesis_settings

    hypothesis_settings.register_profile("pointagram", database=None)
    hypothesis_settings.load_profile("pointagram")
    if getattr(config.option, "hypothesis_seed", None) is None:
        seed = os.environ.get("HYPOTHESIS_SEED", "").strip() or str(secrets.randbelow(10**9))
        config.option.hypothesis_seed = seed


def _seed_line(config: pytest.Config) -> str:
    seed = config.option.hypothesis_seed
    return f"hypothesis seed {seed}: replay with HYPOTHESIS_SEED={seed} make test"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [_services_line(), _seed_line(config)]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    ran = [
        r
        for key in ("passed", "failed")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "") == "call" and "services" in r.keywords
    ]
    terminalreporter.write_line(f"{_services_line()}; {len(ran)} service tests ran")
    terminalreporter.write_line(_seed_line(config))
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser test screenshots: {SCREENSHOTS}")


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on Redis, working on the test database."""
    import redis

    if not test_settings.SERVICES_AVAILABLE:
        pytest.skip("needs Redis and PostgreSQL")
    broker = settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).flushdb()  # no stale messages from an earlier run
    with django_db_blocker.unblock():
        db = connection.settings_dict
        database_url = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pointagram_site.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    log = ROOT / "var" / "test-worker.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "pointagram_site", "worker",
                "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                "--hostname", f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
    # PostgreSQL notices a closed client a moment later; the test database can only be dropped
    # once the worker's sessions are gone.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.1)


@pytest.fixture
def pipedrive(db: None) -> Any:
    """A Pipedrive integration with the default setup (DESIGN §5)."""
    from integrations.config_file import integration_import

    integration, _ = integration_import(data={"name": "Pipedrive", "type": "pipedrive"})
    return integration


@pytest.fixture
def deliver() -> Any:
    """Store a delivery as the webhook view does and process it as the worker does."""
    from integrations.models import WebhookEvent
    from integrations.services import apply, ingest
    from tests.pipedrive_payloads import body

    def deliver(integration: Any, payload: Any) -> WebhookEvent:
        receipt = ingest.webhook_receive(integration=integration, body=body(payload), headers={})
        event = apply.event_process(event_id=receipt.event.pk)
        assert event is not None
        return event

    return deliver


@pytest.fixture
def api() -> Iterator[Any]:
    """A local HTTP server standing in for a source's REST API (tests/api_server.py)."""
    from tests.api_server import api_server

    with api_server() as server:
        yield server


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def chromium_browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download). Missing: a failure under
    CI=true (make test installs it), a skip elsewhere."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is missing: make test installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()  # the greenlet's own connection
