"""Upkeep of stored integration data: webhook secrets rotated, old payloads dropped."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Integration, WebhookEvent, webhook_secret_generate


def integration_secret_rotate(*, integration: Integration) -> str:
    """A new webhook secret: the old URL stops working at once."""
    integration.webhook_secret = webhook_secret_generate()
    integration.save(update_fields=["webhook_secret", "updated_at"])
    return integration.webhook_secret


def events_prune(*, days: int | None = None) -> int:
    """Drop raw payloads (body, headers) older than EVENT_PAYLOAD_DAYS; keep the event's status,
    outcome and objects, and the ledger. Pending events keep theirs: they are not done."""
    keep_days = settings.EVENT_PAYLOAD_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    return (
        WebhookEvent.objects.filter(received_at__lt=cutoff, payload_pruned_at__isnull=True)
        .exclude(status=WebhookEvent.Status.PENDING)
        .update(body=b"", headers={}, payload_pruned_at=timezone.now())
    )
