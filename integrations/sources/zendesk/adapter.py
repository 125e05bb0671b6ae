"""Zendesk event webhooks (DESIGN §5, §9): signed with the webhook's signing secret, one event
per delivery, the ticket or user in `detail`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import TYPE_CHECKING, Any

from integrations.sources import Action, Change, DeliveryError
from integrations.values import id_text, is_empty, time_or_none, time_parse

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.models import Integration

SIGNATURE_WINDOW_SECONDS = 5 * 60
EVENT_TYPE_PREFIX = "zen:event-type:"
OBJECT_TYPES = ("ticket", "user")
DELETIONS = {"deleted", "soft_deleted", "permanently_deleted"}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def event_action(kind: str) -> Action:
    """`ticket.created` → created; `*.deleted`, `*.soft_deleted`, `*.permanently_deleted` →
    deleted; anything else (`status_changed`, `comment_added`, `undeleted`) → changed."""
    if kind == "created":
        return "created"
    if kind in DELETIONS:
        return "deleted"
    return "changed"


class Adapter:
    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        """X-Zendesk-Webhook-Signature, checked when the integration has a `signing_secret`."""
        secret = str(integration.credentials.get("signing_secret") or "")
        if not secret:
            return ""
        given = request.headers.get("X-Zendesk-Webhook-Signature", "")
        timestamp = request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", "")
        if not given or not timestamp:
            return "missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp"
        try:
            signed_at = time_parse(timestamp)
        except ValueError:
            signed_at = None
        if signed_at is None:
            return f"X-Zendesk-Webhook-Signature-Timestamp {timestamp[:40]!r} is not a time"
        if abs(time.time() - signed_at.timestamp()) > SIGNATURE_WINDOW_SECONDS:
            return "X-Zendesk-Webhook-Signature-Timestamp is more than 5 minutes away: expired"
        expected = signature(secret, timestamp, body)
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            return "X-Zendesk-Webhook-Signature does not match"
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        if not isinstance(payload, dict):
            raise DeliveryError("a Zendesk event is a JSON object with 'type' and 'detail'")
        event_type = str(payload.get("type") or "")
        object_type, _, kind = event_type.removeprefix(EVENT_TYPE_PREFIX).partition(".")
        detail = payload.get("detail")
        record = detail if isinstance(detail, dict) else {}
        # The ticket's id, else the subject's: zen:ticket:5158.
        object_id = id_text(record.get("id")) or id_text(
            str(payload.get("subject") or "").rpartition(":")[2]
        )
        key = f"zd:{payload['id']}" if not is_empty(payload.get("id")) else None
        if (
            not event_type.startswith(EVENT_TYPE_PREFIX)
            or object_type not in OBJECT_TYPES
            or not kind
        ):
            return [Change(
                object_type or "unknown", object_id or "?", "changed", None, None,
                time_or_none(payload.get("time")), key,
                ignored=f"unknown event type {event_type!r}",
            )]  # fmt: skip
        version = _version(record.get("updated_at"), "detail.updated_at")
        if version is None:
            version = _version(payload.get("time"), "time")
        if not isinstance(detail, dict) or not object_id:
            raise DeliveryError(f"the {event_type} event has no 'detail' object with an 'id'")
        action = event_action(kind)
        current: dict[str, Any] | None = None if action == "deleted" else detail
        event = payload.get("event")
        if current is not None and kind == "name_changed" and isinstance(event, dict):
            # A user's detail carries no name; this event's `current` is the new one.
            current = {**current, "name": event.get("current")}
        return [Change(object_type, object_id, action, current, None, version, key)]


def _version(value: Any, field: str) -> Any:
    try:
        return time_parse(value)
    except ValueError:
        raise DeliveryError(f"'{field}' holds {value!r}, not a time") from None
