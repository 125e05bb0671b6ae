"""Source systems. Each is one sub-package with an adapter (authenticate, split a delivery into
changes, dedupe keys) and its default setup; adding a source = one folder and one line in
ADAPTERS below."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
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


class NoDeliveries:
    """The custom type is API-only: its deliveries carry no changes."""

    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        return []


# integration type -> module holding `Adapter` (and, for types with a default setup,
# `DEFAULT_CONFIG` in its `defaults` module).
ADAPTERS = {
    "pipedrive": "integrations.sources.pipedrive",
    "hubspot": "integrations.sources.hubspot",
    "webhook": "integrations.sources.webhook",
}


def adapter_for(integration_type: str) -> SourceAdapter:
    package = ADAPTERS.get(integration_type)
    if package is None:
        return NoDeliveries()
    adapter: SourceAdapter = import_module(f"{package}.adapter").Adapter()
    return adapter


def sync_module(integration_type: str) -> Any | None:
    """The type's pull sync (`sync.py`: api_client, object_types, page), or None."""
    package = ADAPTERS.get(integration_type)
    if package is None:
        return None
    try:
        return import_module(f"{package}.sync")
    except ModuleNotFoundError:
        return None


def default_config(integration_type: str) -> dict[str, Any] | None:
    """The default series and steps of a new integration of this type (DESIGN §5), in the import
    file's shape; None for types without defaults."""
    package = ADAPTERS.get(integration_type)
    if package is None:
        return None
    try:
        module = import_module(f"{package}.defaults")
    except ModuleNotFoundError:
        return None
    config: dict[str, Any] = module.DEFAULT_CONFIG
    return config
