"""Which fields recent deliveries had: a filter on a field that none of them had is saved with
a warning (a typo, or a field the source sends under another name)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db.models.functions import Length

from integrations.models import IntegrationStep, WebhookEvent
from integrations.services.ingest import body_parse

RECENT_DELIVERIES = 200
LARGEST_BODY = 256 * 1024  # larger deliveries are not read for this (cost)
LISTED = 40


def fields_seen(*, step: IntegrationStep) -> tuple[set[str], int] | None:
    """The top-level fields of the records of the step's source type in the integration's
    last RECENT_DELIVERIES stored deliveries of that type, and how many records that was;
    None when there were none, or the deliveries hold no records (HubSpot sends ids)."""
    integration = step.integration
    source = integration.source
    object_type = step.source_type.strip().lower()
    if source is None or not source.records_in_deliveries or not object_type:
        return None
    bodies = (
        WebhookEvent.objects.filter(
            integration=integration, source_type=object_type, payload_pruned_at__isnull=True
        )
        .annotate(size=Length("body"))
        .filter(size__lte=LARGEST_BODY)
        .order_by("-id")
        .values_list("body", flat=True)[:RECENT_DELIVERIES]
    )
    seen: set[str] = set()
    records = 0
    for body in bodies:
        payload, problem = body_parse(source, bytes(body))  # JSON, or the source's (SOAP)
        if problem:
            continue
        try:
            changes = source.adapter.split(integration, payload)
        except Exception:  # noqa: S112  (a delivery no one can read shows no fields)
            continue
        for change in changes:
            if change.object_type == object_type and isinstance(change.current, Mapping):
                seen.update(str(key) for key in change.current)
                records += 1
    return (seen, records) if records else None


def filters_unseen(*, step: IntegrationStep, fields: Iterable[str]) -> dict[str, str]:
    """A warning per field path whose first segment no recent record of the step's type had
    (`custom_fields.abc.value` looks for `custom_fields`). Nothing when nothing was seen."""
    fields = [f for f in fields if f.strip()]
    if not fields:
        return {}
    found = fields_seen(step=step)
    if found is None:
        return {}
    seen, records = found
    listed = ", ".join(sorted(seen)[:LISTED]) + (", …" if len(seen) > LISTED else "")
    warnings = {}
    for field in fields:
        head = field.strip().split(".", 1)[0]
        if head not in seen:
            warnings[field] = (
                f"Field {field!r}: none of the last {records} {step.source_type} records "
                f"delivered had {head!r}; fields seen: {listed}."
            )
    return warnings
