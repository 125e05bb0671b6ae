"""Events, ledger and players in the admin: filters, search, links, CSV export, invitations,
permissions and query counts."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django.urls import reverse

from integrations.models import WebhookEvent
from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import activity_v2, deal_v2
from tests.support import step_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(db: None) -> Player:
    return player_upsert(external_id="pd:1001", name="Ann", email="ann@example.com").player


@pytest.fixture
def booked(pipedrive: Any, deliver: Any, ann: Player) -> list[WebhookEvent]:
    player_upsert(external_id="pd:1002", name="Bob", email="bob@example.com")
    step_update(pipedrive, "Won deals", tags=["#notes"])
    return [
        deliver(pipedrive, deal_v2(123, notes="#vip", update_time="2024-01-01T10:00:00Z")),
        deliver(
            pipedrive, deal_v2(123, owner_id=1002, notes="#vip", update_time="2024-01-01T11:00:00Z")
        ),
        deliver(pipedrive, activity_v2(9, type="call")),
    ]


def test_events_filter_by_source_type_and_search_by_object_id(
    admin_client: Client, booked: list[WebhookEvent]
) -> None:
    url = reverse("admin:integrations_webhookevent_changelist")

    deals = admin_client.get(url, {"source_type": "deal"}).content.decode()
    found = admin_client.get(url, {"q": "deal:123"}).content.decode()
    missing = admin_client.get(url, {"q": "deal:999"}).content.decode()

    assert "activity:9" not in deals and "deal:123" in deals
    assert found.count("deal:123</td>") == 2
    assert "deal:123</td>" not in missing


def test_event_page_shows_outcome_and_links_to_its_transactions(
    admin_client: Client, booked: list[WebhookEvent], django_assert_max_num_queries: Any
) -> None:
    event = booked[1]
    url = reverse("admin:integrations_webhookevent_change", args=[event.pk])

    with django_assert_max_num_queries(29):
        text = admin_client.get(url).content.decode()

    assert "Won deals: revoked #" in text
    for row in Transaction.objects.filter(event=event):
        assert reverse("admin:scoring_transaction_change", args=[row.pk]) in text
    assert "&quot;owner_id&quot;: 1002" in text or '"owner_id": 1002' in text


def test_step_page_renders_in_under_30_queries(
    admin_client: Client, pipedrive: Any, django_assert_max_num_queries: Any
) -> None:
    step = pipedrive.steps.get(name="Won deals")

    with django_assert_max_num_queries(29):
        response = admin_client.get(
            reverse("admin:integrations_integrationstep_change", args=[step.pk])
        )

    assert response.status_code == 200


def test_ledger_filters_and_links(
    admin_client: Client, booked: list[WebhookEvent], ann: Player
) -> None:
    url = reverse("admin:scoring_transaction_changelist")

    revokes = admin_client.get(url, {"kind__exact": "revoke"}).content.decode()
    tagged = admin_client.get(url, {"tag": "VIP"}).content.decode()
    anns = admin_client.get(url, {"player": ann.pk}).content.decode()

    assert revokes.count('field-kind">Revoke') == 1
    assert 'field-kind">Award' not in revokes
    assert tagged.count('class="field-kind"') == 3  # award, revoke, award of deal 123
    assert anns.count('class="field-kind"') == 3  # Ann's deal award, its revoke, her call
    award = Transaction.objects.filter(kind="award").first()
    assert award is not None
    detail = admin_client.get(reverse("admin:scoring_transaction_change", args=[award.pk]))
    text = detail.content.decode()
    assert reverse("admin:players_player_change", args=[award.player_id]) in text
    assert reverse("admin:integrations_integrationstep_change", args=[award.step_id]) in text
    assert reverse("admin:integrations_webhookevent_change", args=[award.event_id]) in text
    revoke = Transaction.objects.get(revokes=award)
    assert "Revoked by" in text
    assert reverse("admin:scoring_transaction_change", args=[revoke.pk]) in text


def test_ledger_export_csv_follows_the_lists_filters(
    admin_client: Client, booked: list[WebhookEvent]
) -> None:
    listing = admin_client.get(
        reverse("admin:scoring_transaction_changelist"), {"series__id__exact": "1"}
    )
    assert "Export CSV" in listing.content.decode()

    response = admin_client.get(
        reverse("admin:scoring_transaction_export"), {"kind__exact": "award"}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["id", "point_time", "created_at"]
    assert [r[10] for r in rows[1:]] == ["award", "award", "award"]
    assert response["Content-Type"].startswith("text/csv")


def test_nobody_edits_or_deletes_ledger_rows(
    admin_client: Client, booked: list[WebhookEvent]
) -> None:
    row = Transaction.objects.first()
    assert row is not None

    page = admin_client.get(reverse("admin:scoring_transaction_change", args=[row.pk]))
    delete = admin_client.post(
        reverse("admin:scoring_transaction_delete", args=[row.pk]), {"post": "yes"}
    )

    assert 'name="_save"' not in page.content.decode()
    assert delete.status_code == 403
    assert Transaction.objects.filter(pk=row.pk).exists()


def test_player_page_shows_totals_per_series(
    admin_client: Client, booked: list[WebhookEvent], ann: Player
) -> None:
    text = admin_client.get(reverse("admin:players_player_change", args=[ann.pk])).content.decode()

    assert "Deals: 0.00" in text  # +100 then -100
    assert "Activities: 1.00" in text
    assert "pd:1001" in text


def test_invite_sends_a_one_time_link_that_sets_a_password(
    admin_client: Client, ann: Player
) -> None:
    client = Client()
    response = admin_client.post(
        reverse("admin:players_player_changelist"),
        {"action": "invite", "_selected_action": [ann.pk]},
        follow=True,
    )

    assert "Invited Ann (ann@example.com)" in response.content.decode()
    ann.refresh_from_db()
    assert ann.status == "invited"
    [email] = mail.outbox
    assert email.to == ["ann@example.com"]
    link = re.search(r"http://testserver(/players/invite/\S+/)", str(email.body))
    assert link, email.body
    assert client.get(link.group(1)).status_code == 200
    done = client.post(link.group(1), {"new_password1": "Corr3ct-horse-battery",
                                       "new_password2": "Corr3ct-horse-battery"})  # fmt: skip
    assert "you are an active player now" in done.content.decode()
    ann.refresh_from_db()
    assert ann.status == "active"
    assert client.login(username="ann@example.com", password="Corr3ct-horse-battery")
    again = client.post(link.group(1), {"new_password1": "An0ther-pass-word",
                                        "new_password2": "An0ther-pass-word"})  # fmt: skip
    assert again.status_code == 400  # the link works once


def test_invite_without_email_says_why(admin_client: Client) -> None:
    nobody = player_upsert(external_id="pd:5", name="No Mail", email="").player

    response = admin_client.post(
        reverse("admin:players_player_changelist"),
        {"action": "invite", "_selected_action": [nobody.pk]},
        follow=True,
    )

    assert "Not invited: No Mail has no email: add one to invite them." in response.content.decode()
    assert mail.outbox == []


def test_archive_keeps_history_and_stops_new_points(
    admin_client: Client, pipedrive: Any, deliver: Any, ann: Player
) -> None:
    deliver(pipedrive, deal_v2(1))
    admin_client.post(reverse("admin:players_player_changelist"),
                      {"action": "archive", "_selected_action": [ann.pk]})  # fmt: skip

    deliver(pipedrive, deal_v2(2))

    ann.refresh_from_db()
    assert ann.status == "archived"
    assert Transaction.objects.count() == 1


@pytest.fixture
def scoring_admin(db: None) -> Client:
    user = User.objects.create_user("sam", password="pw-for-tests", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = Client()
    client.force_login(user)
    return client


def test_scoring_admin_configures_integrations_and_players_but_not_the_ledger(
    scoring_admin: Client, booked: list[WebhookEvent], pipedrive: Any
) -> None:
    row = Transaction.objects.first()
    assert row is not None
    step = pipedrive.steps.get(name="Won deals")

    assert scoring_admin.get(reverse("admin:integrations_integration_add")).status_code == 200
    assert (
        scoring_admin.get(
            reverse("admin:integrations_integrationstep_change", args=[step.pk])
        ).status_code
        == 200
    )
    assert scoring_admin.get(reverse("admin:players_player_add")).status_code == 200
    assert scoring_admin.get(reverse("admin:scoring_transaction_changelist")).status_code == 200
    page = scoring_admin.get(reverse("admin:scoring_transaction_change", args=[row.pk]))
    assert 'name="_save"' not in page.content.decode()
    assert (
        scoring_admin.post(
            reverse("admin:scoring_transaction_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_staff_without_the_group_cannot_configure(db: None, pipedrive: Any) -> None:
    user = User.objects.create_user("visitor", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)

    assert client.get(reverse("admin:integrations_integration_add")).status_code == 403
    assert client.get(reverse("admin:scoring_transaction_changelist")).status_code == 403


def test_anonymous_is_sent_to_the_login(client: Client) -> None:
    response = client.get(reverse("admin:integrations_webhookevent_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
