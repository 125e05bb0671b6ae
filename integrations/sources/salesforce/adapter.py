"""Salesforce Outbound Messages (DESIGN §5, §9): the sending organisation checked, up to 100
notifications split in order, each an sObject whose fields the steps read as sent (text)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.sources import Change, DeliveryError
from integrations.values import id_text, is_empty, time_parse

from .soap import envelope_parse

if TYPE_CHECKING:
    from django.http import HttpRequest

    from integrations.models import Integration

# The newest first: what orders changes of one record.
VERSION_FIELDS = ("LastModifiedDate", "SystemModstamp")


def same_organization(configured: str, given: str) -> bool:
    """Salesforce ids come as 15 characters (case-sensitive) or 18 (the 15 plus a 3-character
    checksum of their case, so the 18-character form may be compared ignoring case). An admin
    may paste either form: compare what both forms share."""
    configured, given = configured.strip(), given.strip()
    if not configured or not given:
        return False
    if len(configured) == len(given) == 18:
        return configured.lower() == given.lower()
    if len(configured) not in (15, 18) or len(given) not in (15, 18):
        return configured == given
    return configured[:15] == given[:15]


def _version(record: dict[str, Any], index: int) -> tuple[Any, str]:
    """The record's version and the text it came from: LastModifiedDate, else SystemModstamp,
    else none (never stale)."""
    for name in VERSION_FIELDS:
        text = record.get(name)
        if not is_empty(text):
            try:
                return time_parse(text), str(text)
            except ValueError:
                raise DeliveryError(
                    f"notification [{index}] {name} holds {text!r}, not a time"
                ) from None
    return None, ""


class Adapter:
    def authenticate(self, integration: Integration, request: HttpRequest, body: bytes) -> str:
        """Outbound messages carry no signature: when the integration has an `organization_id`,
        the message's OrganizationId must be that organisation."""
        expected = str(integration.credentials.get("organization_id") or "")
        if not expected:
            return ""
        message, problem = envelope_parse(body)
        if message is None:
            return f"cannot read the message's OrganizationId: {problem}"
        given = message["organization_id"]
        if not given:
            return "the message carries no OrganizationId"
        if not same_organization(expected, given):
            return f"OrganizationId {given!r} is not this integration's organisation"
        return ""

    def split(self, integration: Integration, payload: Any) -> list[Change]:
        if not isinstance(payload, dict) or not isinstance(payload.get("notifications"), list):
            raise DeliveryError("not a Salesforce outbound message")
        changes: list[Change] = []
        for index, notification in enumerate(payload["notifications"]):
            record = notification.get("record") or {}
            object_type = str(notification.get("object_type") or "").lower()
            object_id = id_text(record.get("Id"))
            version, version_text = _version(record, index)
            notification_id = str(notification.get("id") or "")
            # A retried notification keeps its Id, but Salesforce sends the record as it is
            # then: the same Id with newer data is a new change, not a duplicate.
            key = f"sf:{notification_id}:{version_text}" if notification_id else None
            if not object_type or not object_id:
                changes.append(Change(
                    object_type or "unknown", object_id or "?", "changed", None, None, version,
                    key, ignored=f"notification [{index}] names no sObject type and Id",
                ))  # fmt: skip
                continue
            # Outbound messages report creations and updates alike: a change.
            changes.append(Change(object_type, object_id, "changed", record, None, version, key))
        return changes
