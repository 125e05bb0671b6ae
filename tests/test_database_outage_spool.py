"""PostgreSQL down: deliveries are spooled to an fsynced local file and answered 202; the replayer
stores each exactly once when PostgreSQL is back; 503 only when the spool cannot be written."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from integrations.models import Integration, WebhookEvent
from integrations.services.apply import event_process
from integrations.spool import spool_replay
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import body, deal_v2

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def spool(tmp_path: Path, settings: Any) -> Path:
    settings.WEBHOOK_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.fixture
def database_down() -> Iterator[Any]:
    """Point this process's connection at a port where no PostgreSQL listens, then back."""
    port = connection.settings_dict["PORT"]

    class Outage:
        def start(self) -> None:
            connection.close()
            connection.settings_dict["PORT"] = "1"

        def end(self) -> None:
            connection.close()
            connection.settings_dict["PORT"] = port

    outage = Outage()
    yield outage
    outage.end()


def post(client: Client, integration: Integration, payload: Any, auth: str = "") -> Any:
    headers = {"Authorization": auth} if auth else {}
    return client.post(integration.webhook_path, data=body(payload),
                       content_type="application/json", headers=headers)  # fmt: skip


def process_all() -> None:
    for event_id in WebhookEvent.objects.filter(status="pending").values_list("pk", flat=True):
        event_process(event_id=event_id)


def test_deliveries_during_an_outage_are_spooled_then_stored_once(
    client: Client, spool: Path, database_down: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from integrations.config_file import integration_import

    pipedrive, _ = integration_import(data={"name": "PD", "type": "pipedrive",
                                            "credentials": {"basic_auth_user": "pd", "basic_auth_password": "pw"}})  # fmt: skip
    auth = "Basic " + base64.b64encode(b"pd:pw").decode()
    player_upsert(external_id="pd:1001", name="Ann", email="")
    player_upsert(external_id="pd:1002", name="Bob", email="")
    assert (
        post(client, pipedrive, deal_v2(1, update_time="2024-01-01T10:00:00Z"), auth).status_code
        == 202
    )

    database_down.start()
    during = [
        post(
            client, pipedrive, deal_v2(1, owner_id=1002, update_time="2024-01-01T11:00:00Z"), auth
        ),
        post(client, pipedrive, deal_v2(2, value=50, update_time="2024-01-01T11:00:00Z"), auth),
        post(
            client,
            pipedrive,
            deal_v2(3, value=70),
            "Basic " + base64.b64encode(b"pd:wrong").decode(),
        ),
        client.post(
            "/hooks/never-seen-secret-abcdefgh/", data=b"{}", content_type="application/json"
        ),
    ]
    database_down.end()

    assert [r.status_code for r in during] == [202, 202, 401, 202]
    assert all("spooled" in r.json() for r in (during[0], during[1], during[3]))
    lines = [p.read_text() for p in spool.glob("spool-*.jsonl")]
    assert sum(text.count("\n") for text in lines) == 3
    assert pipedrive.webhook_secret not in "".join(lines)  # only its SHA-256 is kept
    backup = spool.parent / "copy"
    shutil.copytree(spool, backup)

    with django_capture_on_commit_callbacks():
        first = spool_replay()
    # A replay interrupted after storing is run again: nothing is stored twice.
    for path in backup.glob("spool-*.jsonl"):
        shutil.copy(path, spool / path.name)
    with django_capture_on_commit_callbacks():
        again = spool_replay()
    process_all()

    assert (first.stored, first.rejected) == (2, 1)  # the unknown URL is refused at replay
    assert (again.stored, again.duplicates) == (0, 2)
    assert not list(spool.glob("*.jsonl"))
    totals = {name: sum(t.points for t in Transaction.objects.filter(player__name=name))
              for name in ("Ann", "Bob")}  # fmt: skip
    assert totals == {"Ann": 50, "Bob": 100}


def test_503_only_when_the_spool_cannot_be_written_either(
    client: Client, settings: Any, database_down: Any
) -> None:
    integration = Integration.objects.create(name="PD", type="pipedrive")
    assert post(client, integration, deal_v2(1)).status_code == 202  # this process knows it now
    settings.WEBHOOK_SPOOL_DIR = "/dev/null/spool"  # no directory can be made there

    database_down.start()
    response = post(client, integration, deal_v2(2))
    database_down.end()

    assert response.status_code == 503
    assert "try again later" in response.json()["error"]


def test_a_full_spool_answers_503(
    client: Client, spool: Path, settings: Any, database_down: Any
) -> None:
    integration = Integration.objects.create(name="PD", type="pipedrive")
    assert post(client, integration, deal_v2(1)).status_code == 202
    settings.WEBHOOK_SPOOL_MAX_BYTES = 3000  # room for one spooled delivery

    database_down.start()
    answers = [post(client, integration, deal_v2(n)).status_code for n in range(2, 5)]
    database_down.end()

    assert answers == [202, 503, 503]
