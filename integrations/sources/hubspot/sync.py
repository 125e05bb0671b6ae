"""Pulling from HubSpot's API: owners (the players) and objects changed since a date."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from integrations.sources import Change, SourceUnavailable, SyncPage
from integrations.sources.http import api_get, api_path
from integrations.values import as_text, id_text, time_or_none

from .adapter import OBJECT_PATHS, api_client, step_properties

if TYPE_CHECKING:
    from integrations.models import Integration

PAGE_SIZE = 100  # HubSpot's largest page for these endpoints
OWNERS = "owner"

__all__ = ["api_client", "object_types", "page"]


def _owner_record(owner: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(
        p for p in (as_text(owner.get("firstName")), as_text(owner.get("lastName"))) if p
    )
    return {
        **owner,
        "name": name or as_text(owner.get("email")),
        "archived": bool(owner.get("archived")),
    }


def page(
    integration: Integration,
    client: httpx.Client,
    object_type: str,
    cursor: str | None,
    since: datetime | None,
) -> SyncPage:
    params: dict[str, Any] = {"limit": PAGE_SIZE}
    if cursor:
        params["after"] = cursor
    if object_type == OWNERS:
        path = api_path("crm", "v3", "owners")
    else:
        path = api_path("crm", "v3", "objects", OBJECT_PATHS[object_type])
        params["properties"] = ",".join(step_properties(integration, object_type))
    response = api_get(client, path, params=params)
    if response is None:
        raise SourceUnavailable(f"{path} answered 404")
    body = response.json()
    results = [r for r in body.get("results") or [] if isinstance(r, dict)]
    changes = []
    for result in results:
        object_id = id_text(result.get("id"))
        if not object_id:
            continue
        if object_type == OWNERS:
            changes.append(
                Change(OWNERS, object_id, "changed", _owner_record(result), None, None, None)
            )
            continue
        version = time_or_none(result.get("updatedAt"))
        if since is not None and version is not None and version < since:
            continue  # the list endpoint has no "changed since" filter: skip older records
        record = {**(result.get("properties") or {}), "id": object_id}
        changes.append(Change(object_type, object_id, "changed", record, None, version, None))
    next_cursor = ((body.get("paging") or {}).get("next") or {}).get("after") or None
    return SyncPage(changes=changes, next_cursor=next_cursor, total=body.get("total"))


def object_types(kind: str, listened: set[str]) -> list[str]:
    if kind == "users":
        return [OWNERS]
    return [t for t in OBJECT_PATHS if t in listened]
