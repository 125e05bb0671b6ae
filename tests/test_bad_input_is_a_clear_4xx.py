"""Bad input is a clear 4xx naming what is wrong, never a 500: headers, query parameters, the
webhook URL with or without its slash, chunked bodies (through gunicorn, as `make web` serves);
and no webhook secret in any log line on the way."""

from __future__ import annotations

import http.client
import io
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from integrations.models import Integration, WebhookEvent
from scoring.models import ScoreSeries
from tests.plugin import ROOT
from tests.support import fixture_bytes, wait_for

pytestmark = pytest.mark.django_db

DEAL = fixture_bytes("pipedrive/v2-deal-change.json")


@pytest.fixture
def deals() -> ScoreSeries:
    return ScoreSeries.objects.create(name="Deals")


@pytest.mark.parametrize(
    ("url", "status", "named"),
    [
        ("/api/v1/players/?page=²", 400, "page"),
        ("/api/v1/players/?page_size=²", 400, "page_size"),
        ("/api/v1/transactions/?page=" + "9" * 5000, 400, "page"),
        ("/api/v1/transactions/?page_size=-1", 400, "page_size"),
        ("/admin/scoring/transaction/?player=²", 400, "player"),
        ("/admin/scoring/transaction/?player=" + "9" * 30, 400, "player"),
        ("/admin/scoring/transaction/export/?player=²", 400, "player"),
        ("/leaderboards/{series}/?until=9999-12-31", 400, "until"),
        ("/leaderboards/{series}/?since=9999-12-31&period=custom", 400, "since"),
        ("/api/v1/leaderboards/{series}/?since=9999-12-15T00:00:00Z", 400, "since"),
        ("/api/v1/leaderboards/{series}/?until=0001-01-01T00:00:00Z", 400, "until"),
    ],
)  # fmt: skip
def test_a_bad_query_value_is_a_4xx_naming_it_not_a_500(
    admin_client: Client, deals: ScoreSeries, url: str, status: int, named: str
) -> None:
    """Issue 13, finding 6: each of these was a 500."""
    response = admin_client.get(url.format(series=deals.pk))

    assert response.status_code == status
    assert named in response.content.decode()


@pytest.mark.parametrize("timestamp", ["9" * 5000, "²", "\uff11" * 13])  # last: fullwidth
def test_a_hubspot_timestamp_that_is_not_milliseconds_is_a_401(
    client: Client, timestamp: str
) -> None:
    integration = Integration.objects.create(
        name="HubSpot", type="hubspot", credentials={"app_secret": "app-secret"}
    )

    response = client.post(
        integration.webhook_path, data=b"[]", content_type="application/json",
        headers={"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": timestamp},
    )  # fmt: skip

    assert response.status_code == 401
    assert "X-HubSpot-Request-Timestamp" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("debug", [False, True])
def test_a_webhook_url_without_its_trailing_slash_is_taken(
    client: Client, pipedrive: Integration, settings: Any, debug: bool
) -> None:
    """Was a 500 with DEBUG (the secret in its traceback), and a 301 that senders do not follow
    without."""
    settings.DEBUG = debug

    response = client.post(pipedrive.webhook_path.rstrip("/"), data=DEAL,
                           content_type="application/json")  # fmt: skip

    assert response.status_code == 202
    assert bytes(WebhookEvent.objects.get().body) == DEAL


@pytest.fixture
def logged(settings: Any) -> Iterator[io.StringIO]:
    """Everything the configured log handlers write, as they write it (their filters
    included)."""
    out = io.StringIO()
    handlers = {
        h
        for name in ("", "django", "django.request", "django.server", "integrations")
        for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler) and h.__class__.__module__ == "logging"
    }
    assert handlers, "no configured stream handler to listen to"
    streams = {h: h.setStream(out) for h in handlers}
    try:
        yield out
    finally:
        for handler, stream in streams.items():
            if stream is not None:
                handler.setStream(stream)


def test_no_webhook_secret_in_any_log_line(
    pipedrive: Integration, settings: Any, logged: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DEBUG = True  # tracebacks are logged either way; DEBUG used to add one
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    pipedrive.credentials = {"basic_auth_user": "pd", "basic_auth_password": "pw"}
    pipedrive.save()
    secret = pipedrive.webhook_secret
    client = Client(raise_request_exception=False)
    url = pipedrive.webhook_path

    client.post(url.rstrip("/"), data=b"{}", content_type="application/json")  # no slash
    client.get(url)  # 405
    client.post(url, data=b"{}", content_type="application/json")  # 401, no password
    client.post(url, data=b"x" * 101, content_type="application/json")  # 413
    client.post(url.replace(secret, secret[::-1]), data=b"{}", content_type="application/json")

    def broken(*, integration: Integration, **kwargs: Any) -> Any:
        raise RuntimeError(f"could not store a delivery for {integration.webhook_path}")

    monkeypatch.setattr("integrations.views.webhook_receive", broken)
    pipedrive.credentials = {}
    pipedrive.save()
    failed = client.post(url, data=b"{}", content_type="application/json")  # 500

    text = logged.getvalue()
    assert failed.status_code == 500
    assert "Traceback" in text and "/hooks/***" in text  # the lines were captured
    assert secret not in text
    assert secret[::-1] not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gunicorn(transactional_db: None) -> Iterator[str]:
    """`make web`'s server, one worker, on the test database; tasks in-process."""
    db = connection.settings_dict
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pointagram_site.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
        "CELERY_BROKER_URL": "",
        "SECRET_KEY": "tests-only-gunicorn-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "WEBHOOK_MAX_BODY_BYTES": "4096",
    }
    env.pop("DEBUG", None)
    log = ROOT / "var" / "test-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "pointagram_site.wsgi", "--workers", "1",
             "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_for(answers, timeout=60, what="gunicorn")
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)
        time.sleep(0.2)  # its database session closes a moment later


def post_chunked(address: str, path: str, chunks: list[bytes]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(address, timeout=30)
    try:
        conn.request("POST", path, body=iter(chunks),
                     headers={"Content-Type": "application/json"}, encode_chunked=True)  # fmt: skip
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.services
def test_a_chunked_body_is_read_through_gunicorn(gunicorn: str) -> None:
    """Was read as empty and stored as failed ("body is not valid JSON")."""
    integration = Integration.objects.create(name="Pipedrive", type="pipedrive")
    chunks = [DEAL[:100], DEAL[100:1000], DEAL[1000:]]

    status, answer = post_chunked(gunicorn, integration.webhook_path, chunks)
    too_big, refusal = post_chunked(gunicorn, integration.webhook_path, [b" " * 3000] * 2)

    assert status == 202, answer
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == DEAL and event.error == ""
    assert too_big == 413, refusal
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize("declared", ["²", "9" * 5000])
def test_a_content_length_that_is_not_a_number_is_no_500(
    client: Client, pipedrive: Integration, declared: str
) -> None:
    """Servers check the header before Django sees it; the view does not count on that."""
    response = client.post(
        pipedrive.webhook_path, data=DEAL, content_type="application/json",
        CONTENT_LENGTH=declared,
    )  # fmt: skip

    assert response.status_code in (400, 413)
