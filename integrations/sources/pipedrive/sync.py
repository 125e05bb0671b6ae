"""Pulling from Pipedrive's API: users (v1) and deals/activities changed since a date (v2,
cursor-paginated), as changes for the same steps the webhooks feed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from integrations.sources import Change, SourceUnavailable, SyncPage
from integrations.sources.http import api_get, api_path
from integrations.sources.outbound import source_client
from integrations.values import id_text, time_or_none

if TYPE_CHECKING:
    from integrations.models import Integration

DEFAULT_API_BASE_URL = "https://api.pipedrive.com"
PAGE_SIZE = 500  # Pipedrive's largest page
USERS = "user"
# object type -> v2 list endpoint (these accept updated_since, cursor and limit)
COLLECTIONS = {
    "deal": api_path("api", "v2", "deals"),
    "activity": api_path("api", "v2", "activities"),
    "person": api_path("api", "v2", "persons"),
    "organization": api_path("api", "v2", "organizations"),
    "product": api_path("api", "v2", "products"),
}


def api_client(integration: Integration) -> httpx.Client:
    credentials = integration.credentials
    token = str(credentials.get("api_token") or "")
    if not token:
        raise SourceUnavailable("the integration has no api_token: set it in its credentials")
    base_url = str(credentials.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    return source_client(
        integration, base_url=base_url, headers={"x-api-token": token}, timeout=30.0
    )


def page(
    integration: Integration,
    client: httpx.Client,
    object_type: str,
    cursor: str | None,
    since: datetime | None,
) -> SyncPage:
    if object_type == USERS:
        response = api_get(client, api_path("v1", "users"))
        users = (response.json().get("data") or []) if response is not None else []
        changes = [
            Change(USERS, id_text(u.get("id")), "changed", u, None, None, None)
            for u in users
            if isinstance(u, dict) and id_text(u.get("id"))
        ]
        return SyncPage(changes=changes, next_cursor=None, total=len(changes))
    params: dict[str, Any] = {"limit": PAGE_SIZE}
    if since is not None:
        params["updated_since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if cursor:
        params["cursor"] = cursor
    response = api_get(client, COLLECTIONS[object_type], params=params)
    if response is None:
        raise SourceUnavailable(f"{COLLECTIONS[object_type]} answered 404")
    body = response.json()
    records = [r for r in body.get("data") or [] if isinstance(r, dict)]
    changes = [
        Change(
            object_type,
            id_text(r.get("id")),
            "changed",
            r,
            None,
            time_or_none(r.get("update_time")),
            None,
        )
        for r in records
        if id_text(r.get("id"))
    ]
    next_cursor = (body.get("additional_data") or {}).get("next_cursor") or None
    return SyncPage(changes=changes, next_cursor=next_cursor, total=None)


def object_types(kind: str, listened: set[str]) -> list[str]:
    if kind == "users":
        return [USERS]
    return [t for t in COLLECTIONS if t in listened]
