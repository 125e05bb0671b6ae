"""The embedded default (no broker): the task runs right after the commit, before the 202."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from integrations.models import Integration, WebhookEvent
from players.models import Player
from pointagram_site.celery import app
from tests.support import fixture_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager() -> Iterator[None]:
    from integrations.services import wake

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    wake.eager_cached = None  # read once per process: read it again
    yield
    app.conf.task_always_eager = before
    wake.eager_cached = None


def test_without_broker_event_is_processed_before_the_answer(
    eager: None, client: Client, pipedrive: Integration, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            pipedrive.webhook_path,
            data=fixture_bytes("pipedrive/v2-user-create.json"),
            content_type="application/json",
        )

    assert response.status_code == 202
    event = WebhookEvent.objects.get(pk=response.json()["event_id"])
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 1
    assert Player.objects.filter(identities__external_id="pd:16943176").exists()


def test_reprocessing_twice_is_safe(
    eager: None, pipedrive: Integration, django_capture_on_commit_callbacks
) -> None:
    from integrations.services import drain, ingest

    with django_capture_on_commit_callbacks(execute=True):
        receipt = ingest.webhook_receive(
            integration=pipedrive, body=fixture_bytes("pipedrive/v2-user-create.json"), headers={}
        )
    with django_capture_on_commit_callbacks(execute=True):
        drain.events_reprocess(event_ids=[receipt.event.pk, receipt.event.pk])

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 1  # a reprocess starts counting attempts again
    assert Player.objects.count() == 1
