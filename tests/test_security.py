"""Nobody in where they don't belong, no secret where it could leak."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.config_file import integration_export
from integrations.models import Integration, WebhookEvent
from integrations.services.apply import event_process
from integrations.services.maintenance import events_prune
from players.services import player_upsert
from scoring.models import ScoreSeries, Transaction
from tests.pipedrive_payloads import deal_v2
from tests.plugin import ROOT

pytestmark = pytest.mark.django_db


def test_generated_secrets_are_long_random_and_url_safe() -> None:
    secrets = {Integration.objects.create(name=f"i{n}").webhook_secret for n in range(50)}

    assert len(secrets) == 50
    assert all(len(s) >= 43 and s.replace("-", "").replace("_", "").isalnum() for s in secrets)


def test_no_secret_in_logs_event_storage_or_exports(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    integration = Integration.objects.create(
        name="Guarded", type="pipedrive",
        credentials={"basic_auth_user": "pd", "basic_auth_password": "s3cret-pw", "api_token": "tok-9"},
    )  # fmt: skip
    secret = integration.webhook_secret
    from io import StringIO

    from django.core.management import call_command

    with caplog.at_level(logging.INFO):
        client.post(integration.webhook_path, data=b"{broken", content_type="application/json",
                    headers={"Authorization": "Basic cGQ6czNjcmV0LXB3"})  # fmt: skip
        client.get(integration.webhook_path)  # 405, logged with its path
    logged = "\n".join(
        h.format(r) for r in caplog.records for h in logging.getLogger().handlers[:1]
    )
    exported = str(integration_export(integration=integration))
    out = StringIO()
    call_command("ledger_export", stdout=out)

    assert "/hooks/***" in logged
    assert secret not in logged
    for text in (exported, out.getvalue(), str(list(WebhookEvent.objects.values()))):
        for value in (secret, "s3cret-pw", "tok-9", "cGQ6czNjcmV0LXB3"):
            assert value not in text


def test_check_deploy_passes_with_production_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(DJANGO_SETTINGS_MODULE="pointagram_site.settings",
               SECRET_KEY="x7-" + "production-grade-secret-key-" * 3, ALLOWED_HOSTS="points.example.com")  # fmt: skip

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_raw_payloads_are_pruned_after_the_configured_days_and_the_ledger_stays(
    pipedrive: Any, deliver: Any, settings: Any
) -> None:
    settings.EVENT_PAYLOAD_DAYS = 7
    player_upsert(external_id="pd:1001", name="Ann", email="")
    old = deliver(pipedrive, deal_v2(1))
    fresh = deliver(pipedrive, deal_v2(2))
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=8))

    assert events_prune() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert bytes(old.body) == b"" and old.headers == {} and old.payload_pruned_at
    assert old.outcome and old.status == "processed"  # what happened is kept
    assert bytes(fresh.body) != b""
    assert Transaction.objects.filter(event=old).exists()


def test_an_event_that_keeps_failing_stops_after_n_attempts(pipedrive: Any, settings: Any) -> None:
    settings.EVENT_MAX_ATTEMPTS = 3
    from integrations.services import ingest

    event = ingest.webhook_receive(integration=pipedrive, body=b"{}", headers={}).event
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=3, error="will retry: HubSpot down")

    result = event_process(event_id=event.pk)

    assert result is not None and result.status == "failed"
    assert result.error == "gave up after 3 attempts; last error: will retry: HubSpot down"


# --- every URL, three kinds of visitor ----------------------------------------------------------


@pytest.fixture
def world(pipedrive: Any, deliver: Any) -> dict[str, Any]:
    ann = player_upsert(external_id="pd:1001", name="Ann", email="ann@example.com").player
    event = deliver(pipedrive, deal_v2(1))
    return {"player": ann, "event": event, "series": ScoreSeries.objects.get(name="Deals")}


def admin_urls(world: dict[str, Any]) -> list[tuple[str, str]]:
    """(url, kind): kind "config" = the scoring admin may use it; "ledger" = may only read it."""
    urls = []
    for model in admin.site._registry:
        label = (model._meta.app_label, model._meta.model_name)
        if model._meta.app_label not in {"integrations", "scoring", "players"}:
            continue
        urls.append((reverse("admin:{}_{}_changelist".format(*label)), "read"))
        obj = model._default_manager.first()
        if obj is not None:
            urls.append((reverse("admin:{}_{}_change".format(*label), args=[obj.pk]), "read"))
    step = world["event"].integration.steps.get(name="Won deals")
    urls.append((reverse("admin:integrations_integrationstep_test", args=[step.pk]), "read"))
    urls.append((reverse("admin:scoring_transaction_export"), "read"))
    urls.append((reverse("admin:integrations_integration_add"), "config"))
    urls.append((reverse("admin:players_player_add"), "config"))
    return urls


def staff_urls(world: dict[str, Any]) -> list[str]:
    return [reverse("players:profile", args=[world["player"].pk]), reverse("scoring:leaderboards"),
            reverse("scoring:leaderboard", args=[world["series"].pk]),
            reverse("api-docs"), reverse("api-schema")]  # fmt: skip


def test_anonymous_is_sent_to_login_everywhere(client: Client, world: dict[str, Any]) -> None:
    for url, _kind in admin_urls(world):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    for url in staff_urls(world):
        if url == reverse("api-schema"):  # an API answer, not a page
            assert client.get(url).status_code == 401
            continue
        assert "/admin/login/" in client.get(url)["Location"], url
    assert client.get("/api/v1/players/").status_code == 401


def test_staff_without_permission_reads_staff_pages_but_no_admin(
    client: Client, world: dict[str, Any]
) -> None:
    client.force_login(User.objects.create_user("visitor", is_staff=True))

    for url, _kind in admin_urls(world):
        assert client.get(url).status_code == 403, url
    for url in staff_urls(world):
        assert client.get(url).status_code == 200, url


def test_scoring_admin_reaches_every_admin_page(client: Client, world: dict[str, Any]) -> None:
    user = User.objects.create_user("sam", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client.force_login(user)

    for url, _kind in admin_urls(world):
        assert client.get(url).status_code == 200, url
    for url in staff_urls(world):
        assert client.get(url).status_code == 200, url


def test_forms_carry_csrf_tokens_and_posts_without_them_are_refused(world: dict[str, Any]) -> None:
    user = User.objects.create_superuser("root", "r@example.com", "pw-for-tests")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    step = world["event"].integration.steps.get(name="Won deals")
    page = strict.get(reverse("admin:integrations_integrationstep_test", args=[step.pk]))

    refused = strict.post(reverse("admin:integrations_integrationstep_test", args=[step.pk]),
                          {"sample": "{}", "sample_kind": "record", "action": "changed"})  # fmt: skip

    assert "csrfmiddlewaretoken" in page.content.decode()
    assert refused.status_code == 403


def test_sign_in_records_and_locks_are_for_superusers_only(client: Client) -> None:
    """django-axes' admin pages (failed sign-ins with addresses; deleting one unlocks it)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    attempt = AccessAttempt.objects.create(username="root", ip_address="203.0.113.9",
                                           user_agent="probe", failures_since_start=5)  # fmt: skip
    urls = [reverse(f"admin:axes_{m._meta.model_name}_changelist")
            for m in (AccessAttempt, AccessLog, AccessFailureLog)]  # fmt: skip
    urls.append(reverse("admin:axes_accessattempt_change", args=[attempt.pk]))
    visitor = User.objects.create_user("visitor", is_staff=True)
    sam = User.objects.create_user("sam", is_staff=True)
    sam.groups.add(Group.objects.get(name="scoring admin"))

    for url in urls:
        assert "/admin/login/" in client.get(url)["Location"], url
    for user in (visitor, sam):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user, url)
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw-for-tests"))
    for url in urls:
        assert client.get(url).status_code == 200, url
