"""Pulling from Zendesk's API: agents and admins (the players), and tickets changed since a
date through the cursor-based incremental export, as changes for the same steps."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from integrations.sources import Change, SourceUnavailable, SyncPage
from integrations.sources.http import api_get
from integrations.sources.outbound import source_client
from integrations.values import id_text, time_or_none

if TYPE_CHECKING:
    from integrations.models import Integration

USERS = "user"
TICKETS = "ticket"
USERS_PATH = "/api/v2/users"
TICKETS_PATH = "/api/v2/incremental/tickets/cursor.json"
PAGE_SIZE = 100  # the users endpoint's largest cursor page

__all__ = ["api_client", "object_types", "page"]


def api_base_url(credentials: dict[str, Any]) -> str:
    base = str(credentials.get("api_base_url") or "").rstrip("/")
    subdomain = str(credentials.get("subdomain") or "")
    if base:
        return base
    if not subdomain:
        raise SourceUnavailable("set Subdomain in the integration's credentials first")
    return f"https://{subdomain}.zendesk.com"


def api_client(integration: Integration) -> httpx.Client:
    credentials = integration.credentials
    email = str(credentials.get("email") or "")
    token = str(credentials.get("api_token") or "")
    if not email or not token:
        raise SourceUnavailable("set Email and API token in the integration's credentials first")
    # An API token signs in as "{email}/token" with the token as password.
    return source_client(
        integration,
        base_url=api_base_url(credentials),
        headers={},
        auth=(f"{email}/token", token),
        timeout=30.0,
    )


def _users_page(client: httpx.Client, cursor: str | None) -> SyncPage:
    params: list[tuple[str, str | int]] = [
        ("role[]", "agent"), ("role[]", "admin"), ("page[size]", PAGE_SIZE),
    ]  # fmt: skip
    if cursor:
        params.append(("page[after]", cursor))
    response = api_get(client, USERS_PATH, params=params)
    if response is None:
        raise SourceUnavailable(f"{USERS_PATH} answered 404")
    body = response.json()
    changes = [
        Change(USERS, id_text(u.get("id")), "changed", u, None, None, None)
        for u in body.get("users") or []
        if isinstance(u, dict) and id_text(u.get("id"))
    ]
    meta = body.get("meta") or {}
    next_cursor = (meta.get("after_cursor") or None) if meta.get("has_more") else None
    return SyncPage(changes=changes, next_cursor=next_cursor, total=None)


def _tickets_page(client: httpx.Client, cursor: str | None, since: datetime | None) -> SyncPage:
    if cursor:
        params: dict[str, Any] = {"cursor": cursor}
    else:
        params = {"start_time": int(since.timestamp()) if since is not None else 0}
    response = api_get(client, TICKETS_PATH, params=params)
    if response is None:
        raise SourceUnavailable(f"{TICKETS_PATH} answered 404")
    body = response.json()
    changes = []
    for ticket in body.get("tickets") or []:
        ticket_id = id_text(ticket.get("id")) if isinstance(ticket, dict) else ""
        if not ticket_id:
            continue
        version = time_or_none(ticket.get("updated_at"))
        if str(ticket.get("status") or "").lower() == "deleted":
            changes.append(Change(TICKETS, ticket_id, "deleted", None, None, version, None))
        else:
            changes.append(Change(TICKETS, ticket_id, "changed", ticket, None, version, None))
    # The export ends at "now"; until then each answer names the cursor to ask next.
    next_cursor = None if body.get("end_of_stream", True) else body.get("after_cursor") or None
    return SyncPage(changes=changes, next_cursor=next_cursor, total=None)


def page(
    integration: Integration,
    client: httpx.Client,
    object_type: str,
    cursor: str | None,
    since: datetime | None,
) -> SyncPage:
    if object_type == USERS:
        return _users_page(client, cursor)
    return _tickets_page(client, cursor, since)


def object_types(kind: str, listened: set[str]) -> list[str]:
    if kind == "users":
        return [USERS]
    return [TICKETS] if TICKETS in listened else []
