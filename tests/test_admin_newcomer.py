"""What an admin meets first (issue 14): URLs to copy, the player's points, the start page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from players.services import player_upsert
from tests.pipedrive_payloads import activity_v2, deal_v2

pytestmark = pytest.mark.django_db


def test_the_integration_list_copies_the_full_webhook_url(
    admin_client: Client, pipedrive: Any
) -> None:
    page = admin_client.get(reverse("admin:integrations_integration_changelist"))

    assert f'value="http://testserver{pipedrive.webhook_path}"' in page.content.decode()


def test_the_player_page_separates_series_with_a_line_break_not_a_literal_br(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    player = player_upsert(external_id="pd:1001", name="Ann", email="").player
    deliver(pipedrive, deal_v2(1))
    deliver(pipedrive, activity_v2(2, done=True, type="call"))

    page = admin_client.get(reverse("admin:players_player_change", args=[player.pk]))

    text = page.content.decode()
    assert "Activities: 1" in text and "Deals: 100" in text
    assert "&lt;br&gt;" not in text
    assert f'href="/players/{player.pk}/"' in text  # the player's profile page


def test_rotating_the_webhook_secret_asks_first(admin_client: Client, pipedrive: Any) -> None:
    url = reverse("admin:integrations_integration_changelist")
    chosen = {"action": "rotate_secret", "_selected_action": [pipedrive.pk]}
    old_path = pipedrive.webhook_path

    asked = admin_client.post(url, chosen)
    pipedrive.refresh_from_db()

    assert "stops working at once" in asked.content.decode()
    assert pipedrive.webhook_path == old_path

    admin_client.post(url, {**chosen, "confirm": "yes"})
    pipedrive.refresh_from_db()

    assert pipedrive.webhook_path != old_path


def test_events_show_status_and_outcome_first_and_internals_folded_last(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    event = deliver(pipedrive, deal_v2(1))

    page = admin_client.get(reverse("admin:integrations_webhookevent_change", args=[event.pk]))
    listed = admin_client.get(reverse("admin:integrations_webhookevent_changelist"))
    integration = admin_client.get(
        reverse("admin:integrations_integration_change", args=[pipedrive.pk])
    )

    text = page.content.decode().lower()
    assert text.index("outcome per step") < text.index("claimed until")
    assert text.index("transactions booked") < text.index("spool id")
    assert listed.status_code == 200
    recent = integration.content.decode()
    assert "<th>error</th>" in recent
    assert "+00:00" not in recent.split("recent-events", 1)[1]


def test_the_start_page_names_the_site_shows_each_integration_and_the_checklist(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    deliver(pipedrive, deal_v2(1))
    deliver(pipedrive, deal_v2(2, value="not a number"))

    text = admin_client.get(reverse("admin:index")).content.decode()

    assert "Pointagram integrations" in text and "Django administration" not in text
    assert pipedrive.name in text
    failed = f"?integration__id__exact={pipedrive.pk}&amp;status__exact=failed"
    assert f'{failed}"><strong>1 failed</strong>' in text
    assert "1 processed" in text
    assert text.count("☑") == 4  # integration, URL pasted, users, a delivery that booked


def test_internal_tables_leave_the_index_and_are_read_only_diagnostics_for_superusers(
    admin_client: Client, client: Client, django_user_model: Any
) -> None:
    from django.apps import apps
    from django.contrib.auth.models import Group

    from players.roles import SCORING_ADMIN, role_apply

    role_apply(apps, SCORING_ADMIN)  # a transactional test before may have flushed it
    staff = django_user_model.objects.create_user("sam", password="x-Staff-pass-1", is_staff=True)
    staff.groups.add(Group.objects.get(name=SCORING_ADMIN.group))
    client.force_login(staff)
    internal = ("Seen changes", "Award states", "Daily totals", "Monthly totals",
                "Player identities", "Step filters")  # fmt: skip

    staff_index = client.get(reverse("admin:index")).content.decode()
    root_index = admin_client.get(reverse("admin:index")).content.decode()

    assert "Integration steps" in staff_index
    assert [name for name in internal if name in staff_index] == []
    assert "Seen changes" in root_index  # diagnostics, read-only:
    assert admin_client.get(reverse("admin:integrations_seenchange_add")).status_code == 403
    assert admin_client.get(reverse("admin:scoring_dailytotal_add")).status_code == 403


def test_deleting_a_step_with_points_offers_to_disable_it(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    deliver(pipedrive, deal_v2(1))
    step = pipedrive.steps.get(name="Won deals")

    page = admin_client.get(reverse("admin:integrations_integrationstep_delete", args=[step.pk]))

    text = page.content.decode()
    assert "has booked 1 ledger row" in text and "permission" not in text
    admin_client.post(reverse("admin:integrations_integrationstep_disable", args=[step.pk]))
    step.refresh_from_db()
    assert step.enabled is False


def test_the_favicon_is_served() -> None:
    from django.test import Client as PlainClient

    response = PlainClient().get("/favicon.ico", follow=True)

    assert response.status_code == 200


def test_the_console_lists_this_steps_events_by_object_refuses_two_samples_and_says_would(
    admin_client: Client, pipedrive: Any, deliver
) -> None:
    player_upsert(external_id="pd:1001", name="Ann", email="")
    event = deliver(pipedrive, deal_v2(7, value=2500))
    deliver(pipedrive, activity_v2(3, done=True, type="call"))
    step = pipedrive.steps.get(name="Won deals")
    url = reverse("admin:integrations_integrationstep_test", args=[step.pk])

    page = admin_client.get(url).content.decode()
    both = admin_client.post(url, {"sample": json.dumps(deal_v2(8)), "event": event.pk,
                                    "sample_kind": "delivery", "action": "changed"})  # fmt: skip
    tried = admin_client.post(url, {"sample": json.dumps(deal_v2(9, value=2500)),
                                    "sample_kind": "delivery", "action": "changed"})  # fmt: skip

    assert "deal:7 — received" in page and "activity:3" not in page
    assert "test one at a time" in both.content.decode()
    result = tried.content.decode()
    assert "would book +2500" in result and ">booked" not in result
