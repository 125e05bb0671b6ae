"""Zendesk event webhooks for the tests: the fixture files, and variations of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from integrations.models import WebhookEvent
from integrations.services.apply import event_process

HERE = Path(__file__).parent / "fixtures"
AGNES = "8447388090494"  # assignee in ticket-status-changed.json
BEA = "8447388090496"


def fixture(name: str) -> bytes:
    return (HERE / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def ticket_event(event_id: str, at: str, **detail: Any) -> bytes:
    """ticket-status-changed.json as another event: its id, time and ticket fields changed."""
    event = copy.deepcopy(fixture_json("ticket-status-changed.json"))
    event.update(id=event_id, time=at)
    event["detail"].update(updated_at=at, **detail)
    return json.dumps(event).encode()


def processed(response: Any) -> WebhookEvent:
    assert response.status_code == 202, response.content
    event = event_process(event_id=response.json()["event_id"])
    assert event is not None
    return event
