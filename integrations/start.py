"""The admin's start page: each integration's state and the first-run checklist (reads only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone

from players.models import Player
from scoring.models import Transaction

from .models import Integration, SyncRun, WebhookEvent


@dataclass
class IntegrationState:
    integration: Integration
    change_url: str
    last_delivery: Any
    last_day: dict[str, int] = field(default_factory=dict)
    failed_url: str = ""
    points_today: Decimal = Decimal(0)


@dataclass
class Task:
    text: str
    done: bool
    url: str


def integration_states() -> list[IntegrationState]:
    since = timezone.now() - timedelta(hours=24)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    integrations = Integration.objects.order_by("name").annotate(
        last_delivery=Max("events__received_at")
    )
    counts: dict[int, dict[str, int]] = {}
    for row in (
        WebhookEvent.objects.filter(received_at__gte=since)
        .values("integration_id", "status")
        .annotate(n=Count("id"))
    ):
        counts.setdefault(row["integration_id"], {})[row["status"]] = row["n"]
    points = dict(
        Transaction.objects.filter(created_at__gte=today, step__isnull=False)
        .values("step__integration_id")
        .annotate(total=Sum("points"))
        .values_list("step__integration_id", "total")
    )
    events = reverse("admin:integrations_webhookevent_changelist")
    return [
        IntegrationState(
            integration=i,
            change_url=reverse("admin:integrations_integration_change", args=[i.pk]),
            last_delivery=i.last_delivery,
            last_day=dict(sorted(counts.get(i.pk, {}).items())),
            failed_url=f"{events}?integration__id__exact={i.pk}&status__exact=failed",
            points_today=points.get(i.pk) or Decimal(0),
        )
        for i in integrations
    ]


def first_run_checklist() -> list[Task]:
    """The newcomer's path, each task ticked from the data."""
    first = Integration.objects.order_by("id").first()
    page = (
        reverse("admin:integrations_integration_change", args=[first.pk])
        if first
        else reverse("admin:integrations_integration_add")
    )
    users_imported = (
        SyncRun.objects.filter(kind=SyncRun.Kind.USERS, status=SyncRun.Status.DONE).exists()
        or Player.objects.exists()
    )
    return [
        Task("Create an integration", first is not None, page),
        Task(
            "Paste its webhook URL into the source system (ticked at its first delivery)",
            WebhookEvent.objects.exists(),
            page,
        ),
        Task(
            "Import users (the integration's “Import users now” action)",
            users_imported,
            reverse("admin:integrations_integration_changelist"),
        ),
        Task(
            "Send a test delivery that books points (win a deal in the source)",
            Transaction.objects.filter(~Q(event=None)).exists(),
            reverse("admin:integrations_webhookevent_changelist"),
        ),
    ]
