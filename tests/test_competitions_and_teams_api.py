"""/api/v1/teams/ and /api/v1/competitions/ with DESIGN §11's field names: staff read, the
scoring admin writes; bad input is a 400 naming the field and the value; a competition answers
with its status, winners and standings (ties share a rank)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scoring.competitions import competitions_advance
from scoring.models import ScoreSeries, Team, Transaction
from tests.competition_support import END, START, at, players, score

pytestmark = pytest.mark.django_db


def token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def reader(db: None) -> APIClient:
    return token_client(User.objects.create_user("reader", is_staff=True))


@pytest.fixture
def writer(db: None) -> APIClient:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    return token_client(user)


@pytest.mark.parametrize("url", ["/api/v1/teams/", "/api/v1/competitions/"])
def test_staff_read_and_only_the_scoring_admin_writes(url: str, reader: APIClient) -> None:
    assert APIClient().get(url).status_code == 401
    assert reader.get(url).status_code == 200
    assert reader.post(url, {"name": "x"}, format="json").status_code == 403


def test_a_team_is_made_with_members_and_given_points(writer: APIClient) -> None:
    ann, bob = players("Ann", "Bob")
    deals = ScoreSeries.objects.create(name="Deals")

    made = writer.post("/api/v1/teams/", {"name": "North", "icon": "🏔", "members": [ann.pk, bob.pk]},
                       format="json")  # fmt: skip
    clash = writer.post("/api/v1/teams/", {"name": "north"}, format="json")
    unknown = writer.post("/api/v1/teams/", {"name": "South", "members": [999999]}, format="json")
    team_id = made.json()["id"]
    points = writer.post(f"/api/v1/teams/{team_id}/points/",
                         {"series": deals.pk, "points": "12.50", "tags": ["bonus"]}, format="json")  # fmt: skip
    revoke = writer.post(f"/api/v1/transactions/{points.json()[0]['id']}/revoke/")
    again = writer.post(f"/api/v1/transactions/{points.json()[0]['id']}/revoke/")

    assert made.status_code == 201
    assert made.json() == {"id": team_id, "name": "North", "icon": "🏔", "members": [ann.pk, bob.pk]}
    assert clash.status_code == 400 and "a team named 'north' exists already" in str(clash.json())
    assert unknown.status_code == 400 and "999999" in str(unknown.json()["members"])
    assert points.status_code == 201
    assert sorted(r["player"] for r in points.json()) == [ann.pk, bob.pk]
    assert revoke.status_code == 201 and revoke.json()["points"] == "-12.50"
    assert again.status_code == 400 and "revoked already" in str(again.json())
    assert Transaction.objects.filter(series=deals).count() == 3


def competition_body(**fields: Any) -> dict[str, Any]:
    return {"name": "Spring push", "kind": "leaderboard", "start": START.isoformat(),
            "end": END.isoformat(), **fields}  # fmt: skip


def test_a_competition_answers_with_status_winners_and_standings(writer: APIClient) -> None:
    ann, bob, cid = players("Ann", "Bob", "Cid")
    calls = ScoreSeries.objects.create(name="Calls")
    score(ann, calls, 7, at(1))
    score(bob, calls, 7, at(2))
    score(cid, calls, 3, at(2))

    made = writer.post("/api/v1/competitions/", competition_body(series=[calls.pk]), format="json")
    body = made.json()

    assert made.status_code == 201, body
    assert body["status"] == "running" and body["winners"] == []
    assert body["standings"] == [
        {"player": ann.pk, "name": "Ann", "points": "7.00", "rank": 1, "target": None},
        {"player": bob.pk, "name": "Bob", "points": "7.00", "rank": 1, "target": None},
        {"player": cid.pk, "name": "Cid", "points": "3.00", "rank": 3, "target": None},
    ]
    assert {k: body[k] for k in ("kind", "mode", "participants", "series", "tag", "end_type",
                                 "target", "recurrence")} == {
        "kind": "leaderboard", "mode": "players", "participants": [], "series": [calls.pk],
        "tag": None, "end_type": "time", "target": None, "recurrence": "once",
    }  # fmt: skip

    competitions_advance(now=END)
    ended = writer.get(f"/api/v1/competitions/{body['id']}/").json()
    change = writer.patch(f"/api/v1/competitions/{body['id']}/", {"name": "x"}, format="json")

    assert ended["status"] == "ended"
    assert ended["winners"] == [ann.pk, bob.pk]
    assert change.status_code == 400 and "has ended" in str(change.json()["status"])


def test_a_team_competition_with_own_targets(writer: APIClient) -> None:
    ann, bob = players("Ann", "Bob")
    calls = ScoreSeries.objects.create(name="Calls")
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    north.members.set([ann])
    south.members.set([bob])

    made = writer.post("/api/v1/competitions/", competition_body(
        kind="head_to_head", mode="teams", participants=[north.pk, south.pk], series=[calls.pk],
        end_type="target", target="100", targets={str(south.pk): "10"}), format="json")  # fmt: skip
    score(bob, calls, 10, at(1))
    body = writer.get(f"/api/v1/competitions/{made.json()['id']}/").json()

    assert made.status_code == 201, made.json()
    assert made.json()["targets"] == {str(south.pk): "10.00"}
    assert body["status"] == "ended" and body["winners"] == [south.pk]
    assert body["standings"][0] == {"team": south.pk, "name": "South", "points": "10.00",
                                    "rank": 1, "target": "10.00"}  # fmt: skip


BAD: dict[str, tuple[dict[str, Any], str, str]] = {
    "kind": ({"kind": "sprint"}, "kind", "sprint"),
    "end before start": ({"end": START.isoformat()}, "end", "is not after start"),
    "unknown series": ({"series": [999999]}, "series", "no score series #999999"),
    "no series": ({"series": []}, "series", ""),
    "unknown tag": ({"tag": "nope"}, "tag", "no tag named 'nope'"),
    "unknown player": ({"participants": [999999]}, "participants", "no player #999999"),
    "head to head of one": (
        {"kind": "head_to_head", "participants": ["ME"]},
        "participants",
        "exactly two players, not 1",
    ),
    "a to b without target": ({"kind": "a_to_b"}, "target", "needs a target"),
    "negative target": ({"target": "-5"}, "target", "not -5"),
    "recurrence": ({"recurrence": "daily"}, "recurrence", "daily"),
    "mode": ({"mode": "pairs"}, "mode", "pairs"),
    "targets of strangers": (
        {"targets": {"12345": "5"}},
        "targets",
        "'12345' is not a participant",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_a_400_naming_the_field_and_value(case: str, writer: APIClient) -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    fields, field, words = BAD[case]
    fields = {k: ([ann.pk] if v == ["ME"] else v) for k, v in fields.items()}

    answer = writer.post("/api/v1/competitions/", competition_body(**{"series": [calls.pk], **fields}),
                         format="json")  # fmt: skip

    assert answer.status_code == 400
    assert field in answer.json(), answer.json()
    assert words in str(answer.json()[field])


def test_points_are_given_as_decimals(writer: APIClient) -> None:
    (ann,) = players("Ann")
    calls = ScoreSeries.objects.create(name="Calls")
    score(ann, calls, "2.505", at(1))

    body = writer.post(
        "/api/v1/competitions/", competition_body(series=[calls.pk]), format="json"
    ).json()

    assert body["standings"][0]["points"] == f"{Decimal('2.51'):.2f}"
