"""Import users now and Backfill through Zendesk's API (a local server): agents and admins by
cursor pages, tickets through the cursor-based incremental export, 429 and 500 ridden out, basic
auth with email/token; a backfill over what webhooks brought books nothing twice."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integrations.models import Integration, SyncRun
from integrations.sync import SyncNotPossible, sync_page, sync_start
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.api_server import Page

from .events import AGNES, BEA, fixture, processed

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent / "fixtures"
USERS = "/api/v2/users"
TICKETS = "/api/v2/incremental/tickets/cursor.json"
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def local(name: str) -> Any:
    return json.loads((HERE / name).read_text())


def run_to_end(run: SyncRun, capture: Any) -> SyncRun:
    for _ in range(20):
        with capture():
            current = sync_page(run_id=run.pk)
        assert current is not None
        if current.status in ("done", "failed"):
            return current
    raise AssertionError("the sync did not finish in 20 pages")


@pytest.fixture
def pulling(zendesk: Integration, api: Any, settings: Any) -> Integration:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the local stand-in of Zendesk's API
    zendesk.credentials = {**zendesk.credentials, "email": "admin@example.com",
                           "api_token": "tok-123", "api_base_url": api.url}  # fmt: skip
    zendesk.save()
    return zendesk


def test_import_users_pages_through_agents_and_admins_through_a_429_and_a_500(
    pulling: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api.add(USERS, Page(429, {"error": "TooManyRequests"}, {"Retry-After": "0"}),
            Page(200, local("users-page-1.json")), Page(500, {"error": "oops"}),
            Page(200, local("users-page-2.json")))  # fmt: skip

    done = run_to_end(sync_start(integration=pulling, kind="users"),
                      django_capture_on_commit_callbacks)  # fmt: skip

    assert (done.status, done.done, done.pages) == ("done", 3, 2)
    assert sorted(Player.objects.values_list("name", "identities__external_id")) == [
        ("Adam Admin", "zd:8447388090495"), ("Agnes Agent", f"zd:{AGNES}"), ("Bea Backup", f"zd:{BEA}"),
    ]  # fmt: skip
    hits = api.hits(USERS)
    assert len(hits) == 4
    assert hits[0].query["role[]"] == ["agent", "admin"]
    assert "page[after]" not in hits[1].query
    assert hits[-1].query["page[after]"] == ["xXx1"]
    assert (
        hits[0].headers["Authorization"]
        == "Basic " + base64.b64encode(b"admin@example.com/token:tok-123").decode()
    )


def test_backfill_follows_the_incremental_export_cursor_to_the_end_of_the_stream(
    pulling: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes", email="")
    player_upsert(external_id=f"zd:{BEA}", name="Bea", email="")
    api.add(TICKETS, Page(200, local("incremental-tickets-1.json")),
            Page(200, local("incremental-tickets-2.json")))  # fmt: skip

    done = run_to_end(sync_start(integration=pulling, kind="backfill", since=SINCE),
                      django_capture_on_commit_callbacks)  # fmt: skip

    assert (done.status, done.done, done.pages) == ("done", 4, 2)
    # 5158 solved, 5160 closed score; 5159 is open; 5161 was deleted before it scored.
    assert sorted(Transaction.objects.values_list("source_object", "player__name", "points")) == [
        ("ticket:5158", "Agnes", Decimal("1.00")), ("ticket:5160", "Bea", Decimal("1.00")),
    ]  # fmt: skip
    first, second = api.hits(TICKETS)
    assert first.query == {"start_time": [str(int(SINCE.timestamp()))]}
    assert second.query == {"cursor": ["MTc2MzYzMjgwMC4wfHw1MTU5fA=="]}


def test_a_pull_needs_an_email_and_token(
    zendesk: Integration, django_capture_on_commit_callbacks: Any
) -> None:
    with pytest.raises(SyncNotPossible, match="set API token"):
        sync_start(integration=zendesk, kind="users")

    zendesk.credentials = {**zendesk.credentials, "api_token": "tok"}
    zendesk.save()
    done = run_to_end(sync_start(integration=zendesk, kind="users"),
                      django_capture_on_commit_callbacks)  # fmt: skip
    assert (done.status, done.error) == (
        "failed", "set Email and API token in the integration's credentials first"
    )  # fmt: skip


@pytest.mark.parametrize("order", ["webhook first", "backfill first"])
def test_webhooks_and_a_backfill_over_the_same_tickets_book_once(
    pulling: Integration, api: Any, signed_post: Any, django_capture_on_commit_callbacks: Any,
    order: str,
) -> None:  # fmt: skip
    player_upsert(external_id=f"zd:{AGNES}", name="Agnes", email="")
    player_upsert(external_id=f"zd:{BEA}", name="Bea", email="")
    pages = [Page(200, local("incremental-tickets-1.json")),
             Page(200, local("incremental-tickets-2.json"))]  # fmt: skip
    api.add(TICKETS, *pages, *pages)

    def backfill() -> None:
        run = sync_start(integration=pulling, kind="backfill", since=SINCE)
        assert run_to_end(run, django_capture_on_commit_callbacks).status == "done"

    if order == "backfill first":
        backfill()
    processed(signed_post(pulling, fixture("ticket-status-changed.json")))
    if order == "webhook first":
        backfill()
    backfill()  # and again: nothing new

    assert sorted(Transaction.objects.values_list("source_object", "player__name", "points")) == [
        ("ticket:5158", "Agnes", Decimal("1.00")), ("ticket:5160", "Bea", Decimal("1.00")),
    ]  # fmt: skip
