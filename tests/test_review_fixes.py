"""Found in review: an identical add-score repeat without score_time, deleting what the ledger
refers to, over-long ids, the webhook secret in the API, a spool line cut short."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from integrations.models import WebhookEvent
from integrations.spool import spool_replay, spool_write
from players.services import player_upsert
from scoring.models import ScoreSeries, Transaction
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(db: None) -> APIClient:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_identical_add_score_without_score_time_books_once(writer: APIClient) -> None:
    ScoreSeries.objects.create(name="Deals")
    ann = player_upsert(external_id="crm:1", name="Ann", email="").player
    body = {"player_id": ann.pk, "scoreseries_name": "Deals", "points": 5, "source_score_id": "x1",
            "tags": ["Web", "web"]}  # fmt: skip

    first = writer.post("/api/v1/scores/", body, format="json")
    again = writer.post("/api/v1/scores/", body, format="json")

    assert (first.status_code, again.status_code, again.json()["result"]) == (201, 200, "unchanged")
    assert list(Transaction.objects.values_list("points", flat=True)) == [5]


def test_deleting_what_the_ledger_refers_to_is_a_409_saying_why(
    writer: APIClient, pipedrive: Any, deliver: Any
) -> None:
    ann = player_upsert(external_id="pd:1001", name="Ann", email="").player
    deliver(pipedrive, deal_v2(123))
    step = pipedrive.steps.get(name="Won deals")

    answers = [writer.delete(url) for url in (f"/api/v1/players/{ann.pk}/",
               f"/api/v1/integrations/{pipedrive.pk}/", f"/api/v1/steps/{step.pk}/")]  # fmt: skip

    assert [a.status_code for a in answers] == [409, 409, 409]
    assert "archive or disable it instead" in answers[0].json()["detail"]
    assert Transaction.objects.count() == 1


def test_an_over_long_id_is_an_error_of_the_step_not_of_the_event(
    pipedrive: Any, deliver: Any
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    payload = deal_v2(123)
    payload["meta"]["entity_id"] = payload["data"]["id"] = "9" * 300

    event = deliver(pipedrive, payload)

    assert event.status == "failed"
    assert "Won deals: score id" in event.error and "300 characters" in event.error


def test_read_only_staff_do_not_see_the_webhook_secret(pipedrive: Any, writer: APIClient) -> None:
    reader = APIClient()
    reader.force_authenticate(User.objects.create_user("reader", is_staff=True))

    seen_by_reader = reader.get(f"/api/v1/integrations/{pipedrive.pk}/").json()["webhook_path"]
    seen_by_writer = writer.get(f"/api/v1/integrations/{pipedrive.pk}/").json()["webhook_path"]

    assert seen_by_reader == "/hooks/***/"
    assert seen_by_writer == pipedrive.webhook_path


def test_a_spool_line_cut_short_does_not_block_or_swallow_the_next(
    pipedrive: Any, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOK_SPOOL_DIR = str(tmp_path)
    body = b'{"meta": {}}'
    spool_write(secret=pipedrive.webhook_secret, body=body, headers={}, verified=True)
    for path in tmp_path.glob("spool-*.jsonl"):
        with open(path, "a") as handle:
            handle.write('{"id": "abc", "secret_sha2')  # the process died mid-write
    spool_write(secret=pipedrive.webhook_secret, body=body, headers={}, verified=True)

    with django_capture_on_commit_callbacks():
        result = spool_replay()

    assert (result.stored, result.rejected) == (2, 1)
    assert WebhookEvent.objects.count() == 2
    assert "secret_sha2" in (tmp_path / "unreadable.txt").read_text()
    assert {bytes(e.body) for e in WebhookEvent.objects.all()} == {body}
