"""Pipedrive webhooks v1 and v2 (DESIGN §5, §9). The version is detected per delivery."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from integrations.sources import Change, DeliveryError, action_from_words
from integrations.values import id_text, is_empty, time_parse, unwrap_id

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.models import Integration


class Adapter:
    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        """HTTP basic auth, checked only when the integration has `basic_auth_user` set."""
        user = str(integration.credentials.get("basic_auth_user") or "")
        if not user:
            return ""
        password = str(integration.credentials.get("basic_auth_password") or "")
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return "this webhook needs HTTP basic auth"
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return "the basic auth header is not valid base64"
        expected = f"{user}:{password}".encode()
        if not hmac.compare_digest(given, expected):
            return "wrong basic auth user or password"
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        if not isinstance(payload, dict):
            raise DeliveryError("a Pipedrive delivery is a JSON object with 'meta'")
        meta = payload.get("meta")
        if not isinstance(meta, dict):
            raise DeliveryError("the delivery has no 'meta' object")
        if _is_v1(payload, meta):
            return [_v1_change(payload, meta)]
        return [_v2_change(payload, meta)]


def _is_v1(payload: dict[str, Any], meta: dict[str, Any]) -> bool:
    if str(meta.get("version", "")).startswith("2") or "data" in payload:
        return False
    return payload.get("v") == 1 or meta.get("v") == 1 or "event" in payload or "current" in payload


def _record(value: Any, field: str) -> dict[str, Any] | None:
    if isinstance(value, list):  # v1 user deliveries carry the user in current[0]
        value = value[0] if value else None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DeliveryError(f"'{field}' is {type(value).__name__}, not an object")
    return value


def _v1_owner(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """v1 names a deal's or activity's owner `user_id` (for deals an object with `id`); v2 names
    it `owner_id`. A v1 record gets `owner_id` too (`user_id` is kept), so one set of default
    steps reading `owner_id` scores both versions."""
    if record is None or "owner_id" in record or "user_id" not in record:
        return record
    return {**record, "owner_id": unwrap_id(record["user_id"])}


def _version(value: Any, field: str) -> Any:
    try:
        return time_parse(value)
    except ValueError:
        raise DeliveryError(f"'{field}' holds {value!r}, not a time") from None


def _body_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _v1_change(payload: dict[str, Any], meta: dict[str, Any]) -> Change:
    event = str(payload.get("event") or "")
    action_word, _, event_object = event.partition(".")
    object_type = str(meta.get("object") or event_object).strip().lower()
    current = _v1_owner(_record(payload.get("current"), "current"))
    previous = _v1_owner(_record(payload.get("previous"), "previous"))
    action = (
        "deleted" if current is None else action_from_words(str(meta.get("action") or action_word))
    )
    record = current or previous or {}
    object_id = id_text(meta.get("id")) or id_text(record.get("id"))
    if not object_type or not object_id:
        raise DeliveryError("the delivery names no object type and id (meta.object, meta.id)")
    if not is_empty(meta.get("timestamp_micro")):
        dedupe = f"v1:{object_type}:{object_id}:{meta['timestamp_micro']}"
    elif not is_empty(meta.get("timestamp")):
        dedupe = f"v1:{object_type}:{object_id}:{meta['timestamp']}"
    else:
        dedupe = _body_hash(payload)
    return Change(
        object_type=object_type,
        object_id=object_id,
        action=action,
        current=current,
        previous=previous,
        version=_version(meta.get("timestamp"), "meta.timestamp"),
        dedupe_key=dedupe,
    )


def _v2_change(payload: dict[str, Any], meta: dict[str, Any]) -> Change:
    object_type = str(meta.get("entity") or "").strip().lower()
    action = action_from_words(str(meta.get("action") or ""))
    current = _record(payload.get("data"), "data")
    previous = _record(payload.get("previous"), "previous")
    if action == "deleted":
        current = None
    object_id = id_text(meta.get("entity_id")) or id_text((current or {}).get("id"))
    if not object_type or not object_id:
        raise DeliveryError(
            "the delivery names no object type and id (meta.entity, meta.entity_id)"
        )
    update_time = (current or {}).get("update_time")
    if is_empty(update_time):
        version = _version(meta.get("timestamp"), "meta.timestamp")
    else:
        version = _version(update_time, "data.update_time")
    event_id = id_text(meta.get("id"))
    if object_type == "user" or not event_id:
        # User events carry the user's id as meta.id: entity id + timestamp is the key.
        dedupe = f"v2:{object_type}:{object_id}:{meta.get('timestamp')}"
    else:
        dedupe = f"v2:{event_id}"
    return Change(
        object_type=object_type,
        object_id=object_id,
        action=action,
        current=current,
        previous=previous,
        version=version,
        dedupe_key=dedupe,
    )
