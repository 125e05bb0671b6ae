"""Generic JSON webhooks (DESIGN §5, §8): the integration names the paths of object type, id,
action, time, event id and record; an optional HMAC-SHA256 header signs the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from integrations.sources import Change, DeliveryError, action_from_words
from integrations.values import MISSING, as_text, id_text, is_empty, path_get, time_parse

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.models import Integration

DEFAULT_HMAC_HEADER = "X-Signature"


class Adapter:
    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        secret = str(integration.credentials.get("hmac_secret") or "")
        if not secret:
            return ""
        header = str(integration.credentials.get("hmac_header") or DEFAULT_HMAC_HEADER)
        given = request.headers.get(header, "").strip().lower()
        if given.startswith("sha256="):
            given = given[len("sha256=") :]
        if not given:
            return f"missing signature header {header}"
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return f"signature in {header} does not match the body"
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        paths = dict(integration.credentials.get("paths") or {})
        items = payload if isinstance(payload, list) else [payload]
        changes = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise DeliveryError(f"item [{index}] is {type(item).__name__}, not an object")
            changes.append(_change(item, paths, index))
        return changes


def _get(item: dict[str, Any], paths: dict[str, str], name: str) -> Any:
    path = str(paths.get(name) or "").strip()
    return path_get(item, path) if path else MISSING


def _change(item: dict[str, Any], paths: dict[str, str], index: int) -> Change:
    where = f"item [{index}]"
    object_type = (
        as_text(_get(item, paths, "object_type")).lower()
        or str(paths.get("source_type") or "").strip().lower()
    )
    if not object_type:
        raise DeliveryError(f"{where}: no object type (set paths.object_type or source_type)")
    raw_id = _get(item, paths, "object_id")
    if isinstance(raw_id, list) or (isinstance(raw_id, dict) and "id" not in raw_id):
        raise DeliveryError(f"{where}: object id at path {paths.get('object_id')!r} is not an id")
    object_id = id_text(raw_id)
    if not object_id:
        raise DeliveryError(f"{where}: no object id at path {paths.get('object_id', '')!r}")
    action = action_from_words(as_text(_get(item, paths, "action")))
    raw_time = _get(item, paths, "time")
    try:
        version = time_parse(None if raw_time is MISSING else raw_time)
    except ValueError:
        raise DeliveryError(
            f"{where}: time at path {paths.get('time')!r} holds {raw_time!r}, not a date/time"
        ) from None
    record: Any = item
    if paths.get("record"):
        record = path_get(item, str(paths["record"]))
        if is_empty(record):
            record = None
        elif not isinstance(record, dict):
            raise DeliveryError(f"{where}: record at path {paths['record']!r} is not an object")
    if action == "deleted":
        record = None
    event_id = id_text(_get(item, paths, "event_id"))
    if event_id:
        key = f"wh:{event_id}"
    else:
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":")).encode()
        key = "wh:sha256:" + hashlib.sha256(canonical).hexdigest()
    return Change(object_type, object_id, action, record, None, version, key)
