from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q


def webhook_secret_generate() -> str:
    # 32 random bytes, URL-safe: unguessable, and fits in the URL as it is.
    return secrets.token_urlsafe(32)


class Integration(models.Model):
    class Type(models.TextChoices):
        PIPEDRIVE = "pipedrive", "Pipedrive"
        HUBSPOT = "hubspot", "HubSpot"
        WEBHOOK = "webhook", "Generic JSON webhook"
        CUSTOM = "custom", "Custom (API only)"

    name = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.PIPEDRIVE)
    enabled = models.BooleanField(default=True)
    webhook_secret = models.CharField(
        max_length=128,
        unique=True,  # the webhook view finds the integration by its secret
        default=webhook_secret_generate,
        help_text="The secret part of the webhook URL /hooks/<secret>/. "
        "Anyone who knows it can post.",
    )
    credentials = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per-type credentials: basic auth for Pipedrive, app secret for HubSpot, "
        "HMAC secret for generic webhooks, API base URL and token for pulling data.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_path(self) -> str:
        return f"/hooks/{self.webhook_secret}/"


class WebhookEvent(models.Model):
    """One stored delivery. The events table is the outbox: stored first, processed later."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="events")
    received_at = models.DateTimeField(db_index=True)
    headers = models.JSONField(default=dict, blank=True)
    # Raw bytes as delivered: a body that is not UTF-8 JSON is still kept for the admin to see.
    body = models.BinaryField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    outcome = models.JSONField(default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [
            # The sweeper's query: pending events, oldest first.
            models.Index(
                fields=["received_at"], name="event_pending_idx", condition=Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"event #{self.pk} ({self.status})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")
