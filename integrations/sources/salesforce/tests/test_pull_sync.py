"""Import users now and Backfill through Salesforce's REST API (a local server): SOQL by
LastModifiedDate, pages followed by nextRecordsUrl, 429 and 500 ridden out, an access token or
the client credentials flow; a backfill over what webhooks brought books nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum

from integrations.models import Integration, SyncRun
from integrations.sync import sync_page, sync_start
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.api_server import Page

from .messages import BOB, OLGA, fixture, last_event_processed

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent / "fixtures"
QUERY = "/services/data/v60.0/query"
NEXT = "/services/data/v60.0/query/01gD0000002HU6KIAW-2000"
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


@pytest.fixture(autouse=True)
def no_tokens_kept() -> None:
    from integrations.sources.salesforce import sync

    sync._tokens.clear()


@pytest.fixture
def pulling(salesforce: Integration, api: Any, settings: Any) -> Integration:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the local stand-in of Salesforce's API
    salesforce.credentials = {**salesforce.credentials, "instance_url": api.url,
                              "access_token": "00D!token"}  # fmt: skip
    salesforce.save()
    return salesforce


def test_import_users_follows_next_records_url_through_a_429_and_a_500(
    pulling: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api.add(QUERY, Page(429, [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}], {"Retry-After": "0"}),
            Page(200, local("query-users.json")))  # fmt: skip
    api.add(NEXT, Page(500, [{"errorCode": "SERVER_UNAVAILABLE"}]),
            Page(200, local("query-users-2.json")))  # fmt: skip

    done = run_to_end(sync_start(integration=pulling, kind="users"),
                      django_capture_on_commit_callbacks)  # fmt: skip

    assert (done.status, done.done, done.total, done.pages) == ("done", 3, 3, 2)
    assert sorted(Player.objects.values_list("name", "email", "identities__external_id")) == [
        ("Bob Buyer", "bob.buyer@example.com", f"sf:{BOB}"),
        ("Carl Closer", "carl@example.com", "sf:0055e000003CaRlAAK"),
        ("Olga Owner", "olga.owner@example.com", f"sf:{OLGA}"),
    ]
    first = api.hits(QUERY)
    assert len(first) == 2 and len(api.hits(NEXT)) == 2
    assert first[0].query["q"] == [
        "SELECT Id, Name, Email, IsActive, LastModifiedDate FROM User WHERE IsActive = true"
    ]
    assert first[0].headers["Authorization"] == "Bearer 00D!token"


def test_backfill_queries_each_listened_object_since_the_date_with_a_client_credentials_token(
    pulling: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pulling.credentials = {**pulling.credentials, "access_token": "", "client_id": "3MVG9",
                           "client_secret": "s3cret"}  # fmt: skip
    pulling.save()
    player_upsert(external_id=f"sf:{OLGA}", name="Olga Owner", email="")
    player_upsert(external_id=f"sf:{BOB}", name="Bob Buyer", email="")
    api.json("/services/oauth2/token", {"access_token": "00D!fresh", "token_type": "Bearer",
                                         "instance_url": api.url})  # fmt: skip
    # Objects in sorted order: opportunity, then task.
    api.add(
        QUERY, Page(200, local("query-opportunities.json")), Page(200, local("query-tasks.json"))
    )

    done = run_to_end(sync_start(integration=pulling, kind="backfill", since=SINCE),
                      django_capture_on_commit_callbacks)  # fmt: skip

    assert done.status == "done", done.error
    assert sorted(Transaction.objects.values_list("source_object", "player__name", "points")) == [
        ("opportunity:0065e00000XyZ12AAB", "Olga Owner", Decimal("12500.00")),
        ("task:00T5e00000Cal01AAB", "Bob Buyer", Decimal("1.00")),
    ]
    [token] = api.hits("/services/oauth2/token")
    assert token.method == "POST"
    assert "grant_type=client_credentials" in token.body and "client_id=3MVG9" in token.body
    opportunities, tasks = (h.query["q"][0] for h in api.hits(QUERY))
    assert (
        opportunities.startswith("SELECT ")
        and " FROM opportunity WHERE LastModifiedDate > "
        "2026-11-01T00:00:00Z ORDER BY LastModifiedDate"
        in opportunities
    )
    assert {"Amount", "CloseDate", "Id", "IsWon", "LastModifiedDate", "Name", "OwnerId"} <= set(
        opportunities.removeprefix("SELECT ").split(" FROM ")[0].split(", ")
    )
    assert " FROM task " in tasks and "TaskSubtype" in tasks
    assert all(h.headers["Authorization"] == "Bearer 00D!fresh" for h in api.hits(QUERY))


def test_a_refused_token_fails_the_run_with_the_reason(
    pulling: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pulling.credentials = {**pulling.credentials, "access_token": "", "client_id": "3MVG9",
                           "client_secret": "wrong"}  # fmt: skip
    pulling.save()
    api.json("/services/oauth2/token", {"error": "invalid_client"}, status=400)

    done = run_to_end(sync_start(integration=pulling, kind="users"),
                      django_capture_on_commit_callbacks)  # fmt: skip

    assert done.status == "failed"
    assert (
        "/services/oauth2/token answered HTTP 400" in done.error and "invalid_client" in done.error
    )


@pytest.mark.parametrize("order", ["webhook first", "backfill first"])
def test_webhooks_and_a_backfill_over_the_same_records_book_once(
    pulling: Integration, api: Any, post: Any, django_capture_on_commit_callbacks: Any,
    order: str,
) -> None:  # fmt: skip
    player_upsert(external_id=f"sf:{OLGA}", name="Olga Owner", email="")
    player_upsert(external_id=f"sf:{BOB}", name="Bob Buyer", email="")
    api.add(QUERY, Page(200, local("query-opportunities.json")), Page(200, local("query-tasks.json")),
            Page(200, local("query-opportunities.json")), Page(200, local("query-tasks.json")))  # fmt: skip

    def backfill() -> None:
        run = sync_start(integration=pulling, kind="backfill", since=SINCE)
        assert run_to_end(run, django_capture_on_commit_callbacks).status == "done"

    if order == "backfill first":
        backfill()
    last_event_processed(post(pulling, fixture("opportunity-won.xml")))
    last_event_processed(post(pulling, fixture("two-notifications.xml")))
    if order == "webhook first":
        backfill()
    backfill()  # and again: nothing new

    rows = Transaction.objects.values("source_object").annotate(total=Sum("points"))
    assert {r["source_object"]: r["total"] for r in rows} == {
        "opportunity:0065e00000XyZ12AAB": Decimal("12500.00"),
        "task:00T5e00000Cal01AAB": Decimal("1.00"),
    }
    # The webhook's task was Olga's and the API says Bob's (same version): one award each way
    # at most, never two at once.
    awards = Transaction.objects.filter(kind="award", revoked_by__isnull=True)
    assert awards.count() == 2
