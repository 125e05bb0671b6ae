"""Pipedrive deliveries built from the fixture files, with the fields a test changes."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from tests.support import fixture_json

_ACTIONS = {"created": "create", "changed": "change", "deleted": "delete"}


def deal_v2(
    deal_id: int = 123,
    *,
    status: str = "won",
    value: Any = 100,
    owner_id: Any = 1001,
    update_time: str | None = "2024-01-01T12:00:00Z",
    action: str = "changed",
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A v2 deal delivery (from v2-deal-change.json) for deal `deal_id` in the given state."""
    payload = copy.deepcopy(fixture_json("pipedrive/v2-deal-change.json"))
    data = payload["data"]
    data.update(
        id=deal_id, status=status, value=value, owner_id=owner_id, update_time=update_time, **fields
    )
    payload["meta"].update(
        action=_ACTIONS[action],
        entity_id=str(deal_id),
        id=event_id or str(uuid.uuid4()),
        timestamp=update_time or "2024-01-01T12:00:00Z",
    )
    if action == "deleted":
        payload["previous"] = data
        payload["data"] = None
    return payload


def activity_v2(
    activity_id: int = 2,
    *,
    done: Any = True,
    type: str = "call",
    owner_id: Any = 1001,
    update_time: str = "2024-01-01T12:00:00Z",
    **fields: Any,
) -> dict[str, Any]:
    payload = copy.deepcopy(fixture_json("pipedrive/v2-activity-change.json"))
    payload["data"].update(
        id=activity_id, done=done, type=type, owner_id=owner_id, update_time=update_time, **fields
    )
    payload["meta"].update(entity_id=str(activity_id), id=str(uuid.uuid4()))
    return payload


def user_v2(
    user_id: int, *, name: str, email: str, active: bool = True, timestamp: int = 1700000000
) -> dict[str, Any]:
    """A v2 user delivery; its dedupe key is the user id + `timestamp` (epoch seconds)."""
    payload = copy.deepcopy(fixture_json("pipedrive/v2-user-create.json"))
    payload["data"].update(id=str(user_id), name=name, email=email, active_flag=active)
    payload["meta"].update(entity_id=str(user_id), id=str(user_id), timestamp=timestamp)
    return payload


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()
