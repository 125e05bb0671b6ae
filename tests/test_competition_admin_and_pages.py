"""Teams, master links and competitions in the admin (a competition in a few clicks, its
standings on its page, points to a team, manual rows revoked) and the staff pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from scoring.competitions import competitions_advance
from scoring.models import Competition, ScoreSeries, Team, Transaction
from tests.competition_support import END, START, at, players, round_make, score

pytestmark = pytest.mark.django_db


def inline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    data = {"participants-TOTAL_FORMS": str(len(rows)), "participants-INITIAL_FORMS": "0",
            "participants-MIN_NUM_FORMS": "0", "participants-MAX_NUM_FORMS": "1000"}  # fmt: skip
    for n, row in enumerate(rows):
        data.update({f"participants-{n}-{k}": v for k, v in row.items()})
    return data


def competition_form(**fields: Any) -> dict[str, Any]:
    return {"name": "Spring push", "kind": "head_to_head", "mode": "players",
            "start_0": START.strftime("%Y-%m-%d"), "start_1": START.strftime("%H:%M:%S"),
            "end_0": END.strftime("%Y-%m-%d"), "end_1": END.strftime("%H:%M:%S"),
            "end_type": "time", "recurrence": "once", "target": "", "tag": "", **fields}  # fmt: skip


def test_a_competition_is_made_in_the_admin_and_shows_its_standings(admin_client: Client) -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    score(ann, calls, 12, at(1))
    add = reverse("admin:scoring_competition_add")

    one = admin_client.post(add, {**competition_form(series=[calls.pk]),
                                  **inline([{"player": ann.pk, "target": ""}])})  # fmt: skip
    made = admin_client.post(add, {**competition_form(series=[calls.pk]),
                                   **inline([{"player": ann.pk}, {"player": bob.pk}])})  # fmt: skip

    assert one.status_code == 200
    assert "head to head needs exactly two players, not 1" in one.content.decode()
    assert made.status_code == 302, made.content.decode()[:3000]
    duel = Competition.objects.get()
    assert duel.status == "running"
    page = admin_client.get(
        reverse("admin:scoring_competition_change", args=[duel.pk])
    ).content.decode()
    assert "<td>1</td><td>Ann</td><td>12.00</td>" in page
    staff = admin_client.get(reverse("competitions:competition", args=[duel.pk])).content.decode()
    assert "Ann" in staff and "12.00" in staff and "running" in staff

    competitions_advance(now=END)
    ended = admin_client.get(reverse("competitions:competition", args=[duel.pk])).content.decode()
    assert "winner" in ended and "frozen" in ended
    listing = admin_client.get(reverse("competitions:index")).content.decode()
    assert "Spring push" in listing


def test_the_admin_refuses_a_competition_that_ends_before_it_starts(admin_client: Client) -> None:
    calls = ScoreSeries.objects.create(name="Calls")
    form = competition_form(series=[calls.pk], kind="leaderboard", end_0=START.strftime("%Y-%m-%d"),
                            end_1=START.strftime("%H:%M:%S"))  # fmt: skip

    answer = admin_client.post(reverse("admin:scoring_competition_add"), {**form, **inline([])})

    assert answer.status_code == 200 and "is not after start" in answer.content.decode()
    assert not Competition.objects.exists()


def test_points_to_a_team_from_its_admin_page_and_a_revoke_from_the_ledger(
    admin_client: Client,
) -> None:
    ann, bob = players("Ann", "Bob")
    deals = ScoreSeries.objects.create(name="Deals")
    north = Team.objects.create(name="North")
    north.members.set([ann, bob])

    page = admin_client.get(reverse("admin:scoring_team_change", args=[north.pk])).content.decode()
    added = admin_client.post(reverse("admin:scoring_team_points", args=[north.pk]),
                              {"series": deals.pk, "points": "5", "tags": "bonus, q2"})  # fmt: skip
    rows = list(Transaction.objects.filter(series=deals))
    revoked = admin_client.post(reverse("admin:scoring_transaction_changelist"),
                                {"action": "revoke_manual_rows", "_selected_action": [rows[0].pk]})  # fmt: skip

    assert "Add points to this team" in page
    assert added.status_code == 302
    assert sorted(r.player_id for r in rows) == sorted([ann.pk, bob.pk])
    assert revoked.status_code == 302
    assert Transaction.objects.get(revokes=rows[0]).points == Decimal(-5)


def test_the_admin_refuses_a_chain_of_master_series(admin_client: Client) -> None:
    master = ScoreSeries.objects.create(name="Master")
    calls = ScoreSeries.objects.create(name="Calls", master=master, master_factor=10)
    deals = ScoreSeries.objects.create(name="Deals")
    url = reverse("admin:scoring_scoreseries_change", args=[deals.pk])
    formset = {"point_types-TOTAL_FORMS": "0", "point_types-INITIAL_FORMS": "0",
               "point_types-MIN_NUM_FORMS": "0", "point_types-MAX_NUM_FORMS": "1000"}  # fmt: skip

    chain = admin_client.post(
        url, {"name": "Deals", "master": calls.pk, "master_factor": "1", **formset}
    )
    link = admin_client.post(
        url, {"name": "Deals", "master": master.pk, "master_factor": "0.01", **formset}
    )

    assert chain.status_code == 200
    assert "is linked to master" in chain.content.decode()
    assert link.status_code == 302
    deals.refresh_from_db()
    assert (deals.master_id, deals.master_factor) == (master.pk, Decimal("0.01"))


def test_competition_pages_are_for_staff(client: Client) -> None:
    calls = ScoreSeries.objects.create(name="Calls")
    race = round_make(series=[calls])
    client.force_login(User.objects.create_user("plain"))

    assert client.get(reverse("competitions:competition", args=[race.pk])).status_code == 302
