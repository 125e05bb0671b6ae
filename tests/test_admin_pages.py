"""Every model is in the admin and its pages open; the reprocess action works from the list."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from integrations.models import WebhookEvent
from players.services import player_upsert
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db

OUR_APPS = {"integrations", "scoring", "players"}


def test_every_model_of_ours_is_registered() -> None:
    from django.apps import apps

    ours = {m for m in apps.get_models() if m._meta.app_label in OUR_APPS}
    assert ours - set(admin.site._registry) == set()


def test_every_list_and_change_page_opens(admin_client: Client, pipedrive: Any, deliver) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    deliver(pipedrive, deal_v2(1))

    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{prefix}_changelist")).status_code == 200, prefix
        obj = model._default_manager.first()
        if obj is not None:
            url = reverse(f"{prefix}_change", args=[obj.pk])
            assert admin_client.get(url).status_code == 200, prefix


def test_event_page_shows_payload_and_outcome(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    event = deliver(pipedrive, deal_v2(1, title="ACME renewal"))

    page = admin_client.get(reverse("admin:integrations_webhookevent_change", args=[event.pk]))

    text = page.content.decode()
    assert "ACME renewal" in text
    assert "booked +100 to Ann (pd:1001)" in text


def test_reprocess_action_queues_selected_events(
    admin_client: Client, pipedrive: Any, deliver, django_capture_on_commit_callbacks
) -> None:
    event = deliver(pipedrive, deal_v2(1, owner_id=42))

    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(
            reverse("admin:integrations_webhookevent_changelist"),
            {"action": "reprocess", "_selected_action": [event.pk]},
            follow=True,
        )

    assert "1 event(s) queued for processing" in response.content.decode()
    assert WebhookEvent.objects.get(pk=event.pk).status == "pending"
    assert len(queued) == 1


def test_ledger_rows_cannot_be_edited_or_deleted_in_the_admin(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    from scoring.models import Transaction

    player_upsert(external_id="pd:1001", name="Ann", email="")
    deliver(pipedrive, deal_v2(1))
    row = Transaction.objects.get()

    delete = admin_client.post(reverse("admin:scoring_transaction_delete", args=[row.pk]))
    change = admin_client.post(
        reverse("admin:scoring_transaction_change", args=[row.pk]), {"points": "5"}
    )

    assert delete.status_code == 403
    assert change.status_code == 403
    assert Transaction.objects.get().points == 100
