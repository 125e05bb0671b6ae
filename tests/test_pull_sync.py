"""Pull sync: Import users now and Backfill since DATE against a local API server; a backfill
and webhooks covering the same deals book nothing twice, in either order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from integrations.config_file import integration_import
from integrations.models import Integration, SyncRun
from integrations.sync import SyncNotPossible, sync_page, sync_start, syncs_schedule
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.api_server import Page
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db

SINCE = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def pipedrive_api(api: Any, settings: Any) -> Integration:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the local stand-in of Pipedrive's API
    integration, _ = integration_import(
        data={"name": "Pipedrive", "type": "pipedrive",
              "credentials": {"api_token": "tok-1", "api_base_url": api.url}}
    )  # fmt: skip
    return integration


def deal(deal_id: int, *, status: str = "won", value: Any = 100, owner_id: int = 1001,
         update_time: str = "2024-01-01T12:00:00Z") -> dict[str, Any]:  # fmt: skip
    return deal_v2(deal_id, status=status, value=value, owner_id=owner_id,
                   update_time=update_time)["data"]  # fmt: skip


def run_to_end(run: SyncRun, django_capture_on_commit_callbacks: Any) -> SyncRun:
    for _ in range(50):
        with django_capture_on_commit_callbacks():
            current = sync_page(run_id=run.pk)
        assert current is not None
        if current.status in ("done", "failed"):
            return current
    raise AssertionError("the sync did not finish in 50 pages")


def totals() -> dict[str, Decimal]:
    rows = Transaction.objects.values("player__name").annotate(total=Sum("points"))
    return {r["player__name"]: r["total"] for r in rows if r["total"]}


def test_import_users_now_upserts_every_active_user(
    pipedrive_api: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api.json("/v1/users", {"success": True, "data": [
        {"id": 1001, "name": "Ann", "email": "ann@example.com", "active_flag": True},
        {"id": 1002, "name": "Bob", "email": "bob@example.com", "active_flag": True},
        {"id": 1003, "name": "Gone", "email": "", "active_flag": False},
    ]})  # fmt: skip

    with django_capture_on_commit_callbacks() as queued:
        run = sync_start(integration=pipedrive_api, kind="users")
    done = run_to_end(run, django_capture_on_commit_callbacks)

    assert len(queued) == 1
    assert (done.status, done.done, done.total) == ("done", 3, 3)
    names = Player.objects.order_by("name").values_list("name", "identities__external_id")
    assert list(names) == [("Ann", "pd:1001"), ("Bob", "pd:1002")]
    assert api.hits("/v1/users")[0].headers["x-api-token"] == "tok-1"


def test_backfill_pages_through_deals_and_activities_respecting_429_and_500(
    pipedrive_api: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    api.add("/api/v2/deals",
        Page(429, {"error": "rate limited"}, {"Retry-After": "0"}),
        Page(200, {"success": True, "data": [deal(1), deal(2, status="open")],
                   "additional_data": {"next_cursor": "page-2"}}),
        Page(500, {"error": "oops"}),
        Page(200, {"success": True, "data": [deal(3, value=50)],
                   "additional_data": {"next_cursor": None}}),
    )  # fmt: skip
    api.json("/api/v2/activities", {"success": True, "data": [
        {"id": 9, "done": True, "type": "call", "owner_id": 1001, "subject": "Call",
         "update_time": "2024-01-02T10:00:00Z"},
    ], "additional_data": {"next_cursor": None}})  # fmt: skip

    done = run_to_end(
        sync_start(integration=pipedrive_api, kind="backfill", since=SINCE),
        django_capture_on_commit_callbacks,
    )

    assert (done.status, done.done, done.pages, done.booked) == ("done", 4, 3, 3)
    assert sorted(Transaction.objects.values_list("source_object", "points")) == [
        ("activity:9", 1), ("deal:1", 100), ("deal:3", 50),
    ]  # fmt: skip
    deal_hits = api.hits("/api/v2/deals")
    assert len(deal_hits) == 4  # 429, page 1, 500, page 2
    assert deal_hits[0].query["updated_since"] == ["2024-01-01T00:00:00Z"]
    assert deal_hits[-1].query["cursor"] == ["page-2"]


@pytest.mark.parametrize("order", ["webhook first", "backfill first"])
def test_webhook_and_backfill_over_the_same_deals_book_once(
    pipedrive_api: Integration, api: Any, deliver: Any, django_capture_on_commit_callbacks: Any,
    order: str,
) -> None:  # fmt: skip
    player_upsert(external_id="pd:1001", name="Ann", email="")
    player_upsert(external_id="pd:1002", name="Bob", email="")
    # The API shows each deal's newest state; the webhooks brought the same states.
    api.json("/api/v2/deals", {"success": True, "data": [
        deal(1, owner_id=1002, update_time="2024-01-02T09:00:00Z"),
        deal(2, value=70, update_time="2024-01-02T09:00:00Z"),
    ], "additional_data": {"next_cursor": None}})  # fmt: skip
    api.json("/api/v2/activities", {"success": True, "data": [], "additional_data": {}})
    webhooks = [
        deal_v2(1, owner_id=1001, update_time="2024-01-01T09:00:00Z"),
        deal_v2(1, owner_id=1002, update_time="2024-01-02T09:00:00Z"),
        deal_v2(2, value=70, update_time="2024-01-02T09:00:00Z"),
    ]

    def backfill() -> None:
        run = sync_start(integration=pipedrive_api, kind="backfill", since=SINCE)
        assert run_to_end(run, django_capture_on_commit_callbacks).status == "done"

    if order == "backfill first":
        backfill()
    for payload in webhooks:
        deliver(pipedrive_api, payload)
    if order == "webhook first":
        backfill()
    backfill()  # and once more: nothing new

    assert totals() == {"Bob": 100, "Ann": 70}
    awards = Transaction.objects.filter(kind="award")
    assert awards.filter(revoked_by__isnull=True).count() == 2  # one active award per deal


def test_api_that_keeps_failing_fails_the_run_with_its_reason(
    pipedrive_api: Integration, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api.add("/api/v2/deals", Page(503, {"error": "down"}))

    run = sync_start(integration=pipedrive_api, kind="backfill", since=SINCE)
    done = run_to_end(run, django_capture_on_commit_callbacks)

    assert done.status == "failed"
    assert "/api/v2/deals failed 4 times (last: HTTP 503)" in done.error


def test_sync_without_a_token_is_refused_with_the_reason(db: None) -> None:
    integration, _ = integration_import(data={"name": "No token", "type": "pipedrive"})

    with pytest.raises(SyncNotPossible, match="set API token"):
        sync_start(integration=integration, kind="users")
    assert not SyncRun.objects.exists()


def test_admin_actions_start_runs_and_show_progress(
    admin_client: Client, pipedrive_api: Integration, django_capture_on_commit_callbacks: Any
) -> None:
    changelist = reverse("admin:integrations_integration_changelist")
    with django_capture_on_commit_callbacks():
        users = admin_client.post(
            changelist, {"action": "import_users", "_selected_action": [pipedrive_api.pk]},
            follow=True,
        )  # fmt: skip
        form = admin_client.post(
            changelist, {"action": "backfill", "_selected_action": [pipedrive_api.pk]}
        )
        started = admin_client.post(
            changelist,
            {"action": "backfill", "_selected_action": [pipedrive_api.pk], "since": "2024-01-01"},
            follow=True,
        )

    assert "Import users #" in users.content.decode()
    assert "Backfill changes since" in form.content.decode()
    assert "Backfill #" in started.content.decode()
    run = SyncRun.objects.get(kind="backfill")
    assert run.since == SINCE
    page = admin_client.get(reverse("admin:integrations_syncrun_changelist")).content.decode()
    assert "0 / ?" in page


def test_beat_schedule_starts_users_and_backfill_for_integrations_with_a_token(
    pipedrive_api: Integration, django_capture_on_commit_callbacks: Any
) -> None:
    integration_import(data={"name": "No token", "type": "pipedrive"})

    with django_capture_on_commit_callbacks() as queued:
        started = syncs_schedule()

    assert sorted(r.kind for r in started) == ["backfill", "users"]
    assert {r.integration for r in started} == {pipedrive_api}
    assert len(queued) == 2
