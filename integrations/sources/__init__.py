"""Source systems. Each is one sub-package with an adapter; adding a source = one folder and one
line in ADAPTERS."""

from __future__ import annotations

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

    @property
    def label(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.action}"


class DeliveryError(Exception):
    """A delivery that does not have the shape its source documents. The message names why."""


class SourceAdapter(Protocol):
    def authenticate(self, integration: Integration, request: HttpRequest) -> str:
        """An error message when the request may not be stored (answered 401), else ""."""
        ...

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        """The changes in one delivery, in order. Raises DeliveryError."""
        ...


def action_from_words(word: str) -> Action:
    word = word.strip().lower()
    if word in {"create", "created", "added", "add"}:
        return "created"
    if word in {"delete", "deleted", "removed", "remove"}:
        return "deleted"
    return "changed"


class NoAuth:
    def authenticate(self, integration: Integration, request: HttpRequest) -> str:
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        return []


def default_config(integration_type: str) -> dict[str, Any] | None:
    """The default series and steps of a new integration of this type (DESIGN §5), in the import
    file's shape; None for types without defaults."""
    from .pipedrive.defaults import DEFAULT_CONFIG as pipedrive

    return {"pipedrive": pipedrive}.get(integration_type)


def adapter_for(integration_type: str) -> SourceAdapter:
    from .pipedrive.adapter import PipedriveAdapter

    adapters: dict[str, SourceAdapter] = {
        "pipedrive": PipedriveAdapter(),
    }
    return adapters.get(integration_type, NoAuth())
