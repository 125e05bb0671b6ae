"""Pulling from Salesforce's REST API: active users and the records steps listen to, changed
since a date, by SOQL (paginated with nextRecordsUrl), as changes for the same steps."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from integrations.sources import Change, SourceUnavailable, SyncPage
from integrations.sources.http import api_get
from integrations.sources.outbound import source_client
from integrations.values import id_text, time_or_none

from .adapter import VERSION_FIELDS

if TYPE_CHECKING:
    from integrations.models import Integration

API_VERSION = "v60.0"
QUERY_PATH = f"/services/data/{API_VERSION}/query"
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105  (a path, not a secret)
USERS = "user"
USER_FIELDS = ("Id", "Name", "Email", "IsActive", "LastModifiedDate")
# SOQL names: an object or field API name (custom ones end in __c). Anything else is left out
# of a query rather than spliced into it.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")

__all__ = ["api_client", "object_types", "page"]


# Tokens asked for by this process, by (instance, client id, secret digest): a sync pulls a page
# per task, and a token lives for the org's session timeout (15 minutes at the least).
TOKEN_REUSE_SECONDS = 10 * 60
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}


def _token(integration: Integration, instance_url: str, client_id: str, client_secret: str) -> str:
    """An access token by the OAuth 2.0 client credentials flow (the External Client App or
    Connected App must allow it and name a run-as user)."""
    digest = hashlib.sha256(client_secret.encode()).hexdigest()
    key = (instance_url, client_id, digest)
    cached = _tokens.get(key)
    if cached is not None and time.monotonic() - cached[1] < TOKEN_REUSE_SECONDS:
        return cached[0]
    token = _token_request(integration, instance_url, client_id, client_secret)
    _tokens[key] = (token, time.monotonic())
    return token


# An OAuth error code (RFC 6749 5.2: invalid_client, ...): named in the run's error, the rest
# of the answer is not.
_OAUTH_ERROR = re.compile(r"[a-z_]{1,40}")


def _token_request(
    integration: Integration, instance_url: str, client_id: str, client_secret: str
) -> str:
    endpoint = instance_url + TOKEN_PATH
    form = {"grant_type": "client_credentials", "client_id": client_id,
            "client_secret": client_secret}  # fmt: skip
    try:
        with source_client(integration, base_url=instance_url, headers={}, timeout=20.0) as client:
            response = client.post(TOKEN_PATH, data=form)
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"POST {endpoint} failed: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        try:
            code = str((response.json() or {}).get("error") or "")
        except (ValueError, AttributeError):
            code = ""
        named = f" ({code})" if _OAUTH_ERROR.fullmatch(code) else ""
        raise SourceUnavailable(f"POST {endpoint} answered HTTP {response.status_code}{named}")
    token = str((response.json() or {}).get("access_token") or "")
    if not token:
        raise SourceUnavailable(f"POST {endpoint} answered without an access_token")
    return token


def api_client(integration: Integration) -> httpx.Client:
    credentials = integration.credentials
    instance_url = str(credentials.get("instance_url") or "").rstrip("/")
    if not instance_url:
        raise SourceUnavailable("set Instance URL in the integration's credentials first")
    token = str(credentials.get("access_token") or "")
    client_id = str(credentials.get("client_id") or "")
    client_secret = str(credentials.get("client_secret") or "")
    if not token and client_id and client_secret:
        token = _token(integration, instance_url, client_id, client_secret)
    if not token:
        raise SourceUnavailable(
            "set Access token, or Client ID and Client secret, in the integration's credentials"
        )
    return source_client(
        integration,
        base_url=instance_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
    )


def step_fields(integration: Integration, object_type: str) -> list[str]:
    """The fields the steps for this object read (first part of each path), plus the id and
    the version fields."""
    fields = {"Id", *VERSION_FIELDS}
    for step in integration.steps.filter(source_type__iexact=object_type).prefetch_related(
        "filters"
    ):
        columns: Iterable[str] = [
            step.player_id, step.player_name, step.player_email, step.point_type,
            step.score_id, step.comment, step.point_time,
            *(str(t).lstrip("#") for t in step.tags or []),
            *(f.field for f in step.filters.all()),
        ]  # fmt: skip
        if step.points and not _is_number(step.points):
            columns = [*columns, step.points]
        fields.update(c.strip().split(".", 1)[0] for c in columns if c and c.strip())
    return sorted(f for f in fields if _NAME.fullmatch(f))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def soql(integration: Integration, object_type: str, since: datetime | None) -> str:
    if object_type == USERS:
        # Only people who can still sell; inactive users keep their points but get no new ones.
        return f"SELECT {', '.join(USER_FIELDS)} FROM User WHERE IsActive = true"  # noqa: S608
    if not _NAME.fullmatch(object_type):
        raise SourceUnavailable(f"{object_type!r} is not a Salesforce object name")
    query = f"SELECT {', '.join(step_fields(integration, object_type))} FROM {object_type}"  # noqa: S608
    if since is not None:
        # A SOQL dateTime literal, unquoted.
        query += f" WHERE LastModifiedDate > {since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    return query + " ORDER BY LastModifiedDate"


def as_sent(value: Any) -> Any:
    """A REST value as an outbound message sends it (text), so a record pulled and the same
    record delivered look the same to the steps: `true`, `12500.0`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def page(
    integration: Integration,
    client: httpx.Client,
    object_type: str,
    cursor: str | None,
    since: datetime | None,
) -> SyncPage:
    if cursor:
        # nextRecordsUrl is a path on the instance; never follow it anywhere else.
        if not cursor.startswith("/services/data/"):
            raise SourceUnavailable(f"nextRecordsUrl {cursor[:200]!r} is not a query path")
        response = api_get(client, cursor)
    else:
        response = api_get(client, QUERY_PATH, params={"q": soql(integration, object_type, since)})
    if response is None:
        raise SourceUnavailable(f"{QUERY_PATH} answered 404")
    body = response.json()
    changes = []
    for raw in body.get("records") or []:
        if not isinstance(raw, dict):
            continue
        record = {k: as_sent(v) for k, v in raw.items() if k != "attributes"}
        object_id = id_text(record.get("Id"))
        if not object_id:
            continue
        version = next(
            (v for v in (time_or_none(record.get(f)) for f in VERSION_FIELDS) if v), None
        )
        # Users are not versioned (the last change wins for name and email).
        changes.append(Change(
            object_type, object_id, "changed", record, None,
            None if object_type == USERS else version, None,
        ))  # fmt: skip
    next_cursor = None if body.get("done", True) else body.get("nextRecordsUrl") or None
    total = body.get("totalSize") if cursor is None else None
    return SyncPage(changes=changes, next_cursor=next_cursor, total=total)


def object_types(kind: str, listened: set[str]) -> list[str]:
    if kind == "users":
        return [USERS]
    # Every other type a step listens to is an sObject (opportunity, task, Invoice__c).
    return sorted(t for t in listened if t != USERS and _NAME.fullmatch(t))
