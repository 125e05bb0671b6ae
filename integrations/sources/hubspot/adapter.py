"""HubSpot webhooks (DESIGN §5, §9): signature v3, batches of events with ids only, records
fetched from the CRM API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import httpx

from integrations.sources import Action, Change, DeliveryError
from integrations.sources.http import api_get, api_path
from integrations.sources.outbound import source_client
from integrations.values import id_text, time_parse

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.models import Integration

DEFAULT_API_BASE_URL = "https://api.hubapi.com"
SIGNATURE_WINDOW_MS = 5 * 60 * 1000
# HubSpot's object ids are numbers: anything else is not fetched (it would be put in a path).
OBJECT_ID = re.compile(r"[0-9]{1,30}")
MILLISECONDS = re.compile(r"[0-9]{1,15}")  # ASCII digits: str.isdigit() also takes '²'
OBJECT_PATHS = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "ticket": "tickets",
    "product": "products",
    "line_item": "line_items",
}
ACTIONS: dict[str, Action] = {
    "creation": "created",
    "propertyChange": "changed",
    "deletion": "deleted",
}


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def api_client(integration: Integration) -> httpx.Client:
    credentials = integration.credentials
    base_url = str(credentials.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    token = str(credentials.get("access_token") or "")
    return source_client(
        integration,
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=20.0,
    )


def _client_with_token(integration: Integration) -> httpx.Client:
    """A delivery's client: without an access token no call can succeed, so the event fails
    at once with what to do (trying again would fail the same way)."""
    if not str(integration.credentials.get("access_token") or "").strip():
        raise DeliveryError(
            "HubSpot sends only ids, and this integration has no Access token to fetch the "
            f"records with: set Access token on the integration page (Integrations → "
            f"{integration.name}), then reprocess this event"
        )
    return api_client(integration)


def step_properties(integration: Integration, object_type: str) -> list[str]:
    """The properties the steps for this object type read (first part of each path)."""
    paths: set[str] = set()
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
        paths.update(c.split(".", 1)[0] for c in columns if c)
    paths.discard("id")
    return sorted(paths)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def object_fetch(
    client: httpx.Client, object_type: str, object_id: str, properties: list[str]
) -> dict[str, Any] | None:
    """The object's current properties plus its id; None when HubSpot says it is gone (404)."""
    path = api_path("crm", "v3", "objects", OBJECT_PATHS[object_type], object_id)
    response = api_get(client, path, params={"properties": ",".join(properties)})
    if response is None:
        return None
    data = response.json()
    return {**(data.get("properties") or {}), "id": id_text(data.get("id")) or object_id}


class Adapter:
    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        """X-HubSpot-Signature-v3, checked when the integration has an `app_secret`."""
        secret = str(integration.credentials.get("app_secret") or "")
        if not secret:
            return ""
        signature = request.headers.get("X-HubSpot-Signature-v3", "")
        timestamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
        if not signature or not timestamp:
            return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
        if not MILLISECONDS.fullmatch(timestamp):
            return f"X-HubSpot-Request-Timestamp {timestamp[:40]!r} is not milliseconds"
        if abs(time.time() * 1000 - int(timestamp)) > SIGNATURE_WINDOW_MS:
            return "X-HubSpot-Request-Timestamp is more than 5 minutes away: request expired"
        expected = signature_v3(
            secret, request.method or "POST", request.build_absolute_uri(), body, timestamp
        )
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "X-HubSpot-Signature-v3 does not match"
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        events = payload if isinstance(payload, list) else [payload]
        changes: list[Change] = []
        records: dict[tuple[str, str], dict[str, Any] | None] = {}
        client: httpx.Client | None = None
        try:
            for index, event in enumerate(events):
                if not isinstance(event, dict):
                    raise DeliveryError(f"event [{index}] is {type(event).__name__}, not an object")
                subscription = str(event.get("subscriptionType") or "")
                object_type, _, kind = subscription.partition(".")
                object_id = id_text(event.get("objectId"))
                try:
                    version = time_parse(event.get("occurredAt"))
                except ValueError:
                    raise DeliveryError(
                        f"event [{index}] occurredAt {event.get('occurredAt')!r} is not a time"
                    ) from None
                key = "hs:{}:{}:{}:{}".format(
                    event.get("portalId"), event.get("subscriptionId"), event.get("eventId"),
                    event.get("occurredAt"),
                )  # fmt: skip
                action = ACTIONS.get(kind)
                if action is None or object_type not in OBJECT_PATHS or not object_id:
                    changes.append(Change(
                        object_type or "unknown", object_id or "?", "changed", None, None,
                        version, key, ignored=f"unknown event type {subscription!r}",
                    ))  # fmt: skip
                    continue
                if not OBJECT_ID.fullmatch(object_id):
                    changes.append(Change(
                        object_type, object_id[:100], "changed", None, None, version, key,
                        ignored=f"objectId {object_id!r} is not a HubSpot object id (digits)",
                    ))  # fmt: skip
                    continue
                record: dict[str, Any] | None = None
                listened = integration.steps.filter(
                    enabled=True, source_type__iexact=object_type
                ).exists()
                if action != "deleted" and listened:  # fetch only what a step will read
                    if (object_type, object_id) not in records:
                        client = client or _client_with_token(integration)
                        records[object_type, object_id] = object_fetch(
                            client, object_type, object_id,
                            step_properties(integration, object_type),
                        )  # fmt: skip
                    record = records[object_type, object_id]
                    if record is None:
                        action = "deleted"  # an API 404 means the object is gone
                changes.append(Change(object_type, object_id, action, record, None, version, key))
        finally:
            if client is not None:
                client.close()
        return changes
