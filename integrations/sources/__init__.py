"""Source systems: what every adapter speaks (a change, a pulled page, its errors). Each source is
one sub-package (adapter, defaults, sync, tests) declared in `registry.py`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.models import Integration

Action = Literal["created", "changed", "deleted"]


@dataclass(frozen=True)
class Change:
    """One object's change, as the steps see it."""

    object_type: str
    object_id: str
    action: Action
    current: Mapping[str, Any] | None  # None for a deletion
    previous: Mapping[str, Any] | None
    version: datetime | None  # orders changes of one object; None = never stale
    dedupe_key: str | None
    ignored: str = ""  # why this change is acknowledged but not evaluated (unknown event type)

    @property
    def label(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.action}"


@dataclass(frozen=True)
class SyncPage:
    """One page pulled from a source's API (`sources/<type>/sync.py`)."""

    changes: list[Change]
    next_cursor: str | None  # None: this object type is finished
    total: int | None = None  # records of this object type in all, when the source tells


class DeliveryError(Exception):
    """A delivery that does not have the shape its source documents. The message names why."""


class SourceUnavailable(Exception):
    """The source's API could not be reached or kept failing: try the event again later."""


class SourceAdapter(Protocol):
    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        """An error message when the request may not be stored (answered 401), else ""."""
        ...

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        """The changes in one delivery, in order. Raises DeliveryError or SourceUnavailable."""
        ...


def action_from_words(text: str) -> Action:
    """An action by its words: create/created/added -> created, delete/deleted/removed ->
    deleted, anything else -> changed (`order.removed` and `deal_deleted` are deletions)."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    if words & {"create", "created", "added", "add"}:
        return "created"
    if words & {"delete", "deleted", "removed", "remove"}:
        return "deleted"
    return "changed"
