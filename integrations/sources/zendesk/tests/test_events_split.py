"""Each Zendesk event is one change: the type after `event-type:` (ticket, user), the id from
`detail.id`, the record `detail`, the action from the event's last word, versioned by
`detail.updated_at`, deduplicated by the event `id`; other event types are acknowledged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.models import Integration
from integrations.sources import DeliveryError
from integrations.sources.zendesk.adapter import Adapter

from .events import AGNES, fixture_json


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# fixture -> (object type, object id, action, version, dedupe key, ignored)
SPLITS: dict[str, tuple[Any, ...]] = {
    "ticket-status-changed.json": ("ticket", "5158", "changed", at("2026-11-20T09:12:44"),
                                   "zd:cbe4028c-7239-495d-b020-f22348516046", ""),
    "ticket-soft-deleted.json": ("ticket", "5158", "deleted", at("2026-11-22T10:00:00"),
                                 "zd:5a1f3c52-96d1-4b53-9a5b-7e3b2f0c9d11", ""),
    "user-created.json": ("user", AGNES, "created", at("2026-11-18T08:00:00"),
                          "zd:0b4e4c6e-5e0b-4f3e-8f62-3a1d2c6f7e01", ""),
    "user-name-changed.json": ("user", AGNES, "changed", at("2026-11-18T08:05:00"),
                               "zd:7d2c1b9a-1f0e-4d3c-9b8a-2e1f0d9c8b02", ""),
    "organization-created.json": ("organization", "8447346622462", "changed",
                                  at("2026-11-18T09:00:00"),
                                  "zd:c9e8d7f6-0a1b-4c2d-8e3f-4a5b6c7d8e03",
                                  "unknown event type 'zen:event-type:organization.created'"),
}  # fmt: skip


@pytest.mark.parametrize("name", SPLITS)
def test_each_event_is_one_change(name: str) -> None:
    [change] = Adapter().split(Integration(type="zendesk"), fixture_json(name))

    assert (
        change.object_type, change.object_id, change.action, change.version,
        change.dedupe_key, change.ignored,
    ) == SPLITS[name]  # fmt: skip


def test_the_record_is_the_detail_and_a_deletion_has_none() -> None:
    [solved] = Adapter().split(Integration(type="zendesk"),
                               fixture_json("ticket-status-changed.json"))  # fmt: skip
    [deleted] = Adapter().split(Integration(type="zendesk"),
                                fixture_json("ticket-soft-deleted.json"))  # fmt: skip

    assert solved.current == fixture_json("ticket-status-changed.json")["detail"]
    assert deleted.current is None


def test_a_name_change_carries_the_new_name_into_the_record() -> None:
    [change] = Adapter().split(Integration(type="zendesk"), fixture_json("user-name-changed.json"))

    assert change.current is not None
    assert (change.current["name"], change.current["email"]) == (
        "Agnes Agent", "agnes.agent@example.com"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "action"),
    [("created", "created"), ("deleted", "deleted"), ("soft_deleted", "deleted"),
     ("permanently_deleted", "deleted"), ("undeleted", "changed"),
     ("comment_added", "changed"), ("agent_assignment_changed", "changed")],
)  # fmt: skip
def test_the_action_is_the_event_types_last_word(kind: str, action: str) -> None:
    event = fixture_json("ticket-status-changed.json")
    event["type"] = f"zen:event-type:ticket.{kind}"

    [change] = Adapter().split(Integration(type="zendesk"), event)

    assert change.action == action


def test_without_updated_at_the_event_time_is_the_version() -> None:
    event = fixture_json("ticket-status-changed.json")
    del event["detail"]["updated_at"]
    event["time"] = "2026-11-20T09:13:00Z"

    [change] = Adapter().split(Integration(type="zendesk"), event)

    assert change.version == at("2026-11-20T09:13:00")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "a Zendesk event is a JSON object"),
        ({"type": "zen:event-type:ticket.status_changed", "id": "x"}, "no 'detail' object"),
        ({**fixture_json("ticket-status-changed.json"), "time": "soon",
          "detail": {"id": "1", "updated_at": "later"}}, "'detail.updated_at' holds 'later'"),
    ],
)  # fmt: skip
def test_a_malformed_event_says_why(payload: Any, problem: str) -> None:
    with pytest.raises(DeliveryError, match=problem):
        Adapter().split(Integration(type="zendesk"), json.loads(json.dumps(payload)))
