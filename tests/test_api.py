"""The REST API: every endpoint, its filters and permissions, add score, and bad inputs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from players.models import Player
from players.services import player_upsert
from scoring.models import PointType, ScoreSeries, Tag, Transaction
from tests.pipedrive_payloads import deal_v2
from tests.support import fixture_json

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


@pytest.fixture
def deals(db: None) -> ScoreSeries:
    series = ScoreSeries.objects.create(name="Deals")
    PointType.objects.create(series=series, name="Meeting", points=10)
    return series


ENDPOINTS = ["/api/v1/players/", "/api/v1/series/", "/api/v1/tags/", "/api/v1/transactions/",
             "/api/v1/integrations/", "/api/v1/steps/", "/api/v1/filters/"]  # fmt: skip


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_gets_401_and_plain_users_403(url: str, db: None) -> None:
    anonymous = APIClient()
    plain = token_client(User.objects.create_user("plain"))

    assert anonymous.get(url).status_code == 401
    assert plain.get(url).status_code == 403


@pytest.mark.parametrize("url", ENDPOINTS)
def test_read_only_token_reads_but_cannot_write(url: str, reader: APIClient) -> None:
    assert reader.get(url).status_code == 200
    assert reader.post(url, {}, format="json").status_code == 403


def test_scores_and_leaderboards_follow_the_same_permissions(
    reader: APIClient, deals: ScoreSeries
) -> None:
    body = {"player_external_id": "x", "points": 1, "scoreseries_name": "Deals"}

    assert APIClient().post("/api/v1/scores/", body, format="json").status_code == 401
    assert reader.post("/api/v1/scores/", body, format="json").status_code == 403
    assert reader.get(f"/api/v1/leaderboards/{deals.pk}/").status_code == 200
    assert APIClient().get(f"/api/v1/leaderboards/{deals.pk}/").status_code == 401


def test_players_crud_and_search(writer: APIClient) -> None:
    created = writer.post("/api/v1/players/", {"name": "Ann", "email": "ann@example.com",
                                                "external_ids": ["pd:1", "hs:9"]}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    player_id = created.json()["id"]
    assert sorted(created.json()["external_ids"]) == ["hs:9", "pd:1"]
    writer.post("/api/v1/players/", {"name": "Bob", "external_ids": ["pd:2"]}, format="json")

    assert [p["name"] for p in writer.get("/api/v1/players/?search=pd:1").json()["results"]] == [
        "Ann"
    ]
    assert [p["name"] for p in writer.get("/api/v1/players/?search=ANN@").json()["results"]] == [
        "Ann"
    ]

    clash = writer.post(
        "/api/v1/players/", {"name": "Eve", "external_ids": ["pd:1"]}, format="json"
    )
    assert clash.status_code == 400
    assert "pd:1 belongs to player Ann" in clash.json()["external_ids"][0]

    patched = writer.patch(
        f"/api/v1/players/{player_id}/", {"external_ids": ["pd:1"]}, format="json"
    )
    assert patched.json()["external_ids"] == ["pd:1"]
    assert writer.delete(f"/api/v1/players/{player_id}/").status_code == 204


def test_series_with_point_types_and_tags(writer: APIClient, deals: ScoreSeries) -> None:
    created = writer.post("/api/v1/series/", {"name": "Calls", "point_types": [
        {"name": "Call", "points": "1"}, {"name": "Demo", "points": "5.5"}]}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    assert [pt["name"] for pt in created.json()["point_types"]] == ["Call", "Demo"]

    clash = writer.post("/api/v1/series/", {"name": "deals"}, format="json")
    assert clash.status_code == 400 and "exists already" in clash.json()["name"][0]
    tag = writer.post("/api/v1/tags/", {"name": "VIP"}, format="json")
    assert tag.status_code == 201
    assert writer.post("/api/v1/tags/", {"name": "vip"}, format="json").status_code == 400


def test_transactions_filter_by_player_series_tag_kind_and_time(
    reader: APIClient, pipedrive: Any, deliver: Any
) -> None:
    ann = player_upsert(external_id="pd:1001", name="Ann", email="").player
    player_upsert(external_id="pd:1002", name="Bob", email="")
    step = pipedrive.steps.get(name="Won deals")
    step.tags = ["#notes"]
    step.save()
    deliver(pipedrive, deal_v2(1, notes="#vip", won_time="2024-01-10T10:00:00Z",
                               update_time="2024-01-10T10:00:00Z"))  # fmt: skip
    deliver(pipedrive, deal_v2(1, owner_id=1002, notes="#vip", won_time="2024-01-10T10:00:00Z",
                               update_time="2024-01-11T10:00:00Z"))  # fmt: skip
    deliver(pipedrive, deal_v2(2, won_time="2024-02-10T10:00:00Z"))

    def ids(query: str) -> list[str]:
        response = reader.get(f"/api/v1/transactions/?{query}")
        assert response.status_code == 200, response.json()
        return [f"{t['kind']}:{t['player_name']}:{t['points']}" for t in response.json()["results"]]

    series = ScoreSeries.objects.get(name="Deals").pk
    assert ids(f"player={ann.pk}") == ["award:Ann:100.00", "revoke:Ann:-100.00", "award:Ann:100.00"]
    assert ids("tag=VIP") == ["award:Ann:100.00", "revoke:Ann:-100.00", "award:Bob:100.00"]
    assert ids("kind=revoke") == ["revoke:Ann:-100.00"]
    assert ids(f"series={series}&since=2024-02-01T00:00:00Z") == ["award:Ann:100.00"]
    assert ids("until=2024-02-01T00:00:00Z&kind=award") == ["award:Ann:100.00", "award:Bob:100.00"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("kind=bonus", "kind"), ("page=-1", "page"),
     ("since=0001-01-01T00:00:00%2B05:00", "since"),
     ("page=abc", "page"), ("page_size=0", "page_size"), ("player=x", "player")],
)  # fmt: skip
def test_bad_transaction_queries_are_400_naming_the_field(
    reader: APIClient, query: str, field: str
) -> None:
    response = reader.get(f"/api/v1/transactions/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_times_with_any_offset_python_accepts_are_answered(reader: APIClient) -> None:
    # PostgreSQL refuses offsets beyond ±15:59; the API moves times to UTC first.
    response = reader.get("/api/v1/transactions/?until=0091-02-24T04:25:10-22:52")

    assert response.status_code == 200


def test_leaderboard_api(reader: APIClient, deals: ScoreSeries) -> None:
    from django.utils import timezone

    from scoring.services import transaction_book

    now = timezone.now()
    for name, points in (("Ann", 5), ("Bob", 7), ("Cid", 7)):
        player = player_upsert(external_id=f"x:{name}", name=name, email="").player
        transaction_book(player=player, series=deals, points=Decimal(points), point_time=now)

    body = reader.get(f"/api/v1/leaderboards/{deals.pk}/?period=all").json()
    assert [(r["rank"], r["name"], r["points"]) for r in body["results"]] == [
        (1, "Bob", "7.00"), (1, "Cid", "7.00"), (3, "Ann", "5.00")]  # fmt: skip
    assert reader.get(f"/api/v1/leaderboards/{deals.pk}/?period=decade").status_code == 400
    bad_time = reader.get(f"/api/v1/leaderboards/{deals.pk}/?since=soon")
    assert bad_time.status_code == 400 and "since" in bad_time.json()
    assert reader.get("/api/v1/leaderboards/999999/").status_code == 404
    quiet = ScoreSeries.objects.create(name="Quiet")  # a series without points: an empty board
    assert reader.get(f"/api/v1/leaderboards/{quiet.pk}/?period=month").json()["results"] == []
    backwards = reader.get(
        f"/api/v1/leaderboards/{deals.pk}/?since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z"
    )
    assert backwards.status_code == 400 and "until" in backwards.json()


def test_a_month_board_with_a_limit_reads_the_top_of_the_monthly_totals(
    reader: APIClient, deals: ScoreSeries
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from scoring.services import transaction_book

    now = timezone.now()
    players = Player.objects.bulk_create(Player(name=f"P{n:02}") for n in range(60))
    for n, player in enumerate(players):  # every 7th adds up to zero; ties everywhere else
        transaction_book(player=player, series=deals, points=Decimal(n % 7), point_time=now)

    with CaptureQueriesContext(connection) as queries:
        body = reader.get(f"/api/v1/leaderboards/{deals.pk}/?period=month&limit=50").json()

    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 2  # the token, the board (the series is read only for an empty board)
    assert "scoring_monthlytotal" in sql[-1] and sql[-1].endswith("LIMIT 50")
    assert not any("scoring_transaction" in q or "scoring_dailytotal" in q for q in sql)
    points = {p.name: n % 7 for n, p in enumerate(players) if n % 7}
    expected = [(1 + sum(other > mine for other in points.values()), name, mine)
                for name, mine in sorted(points.items(), key=lambda r: (-r[1], r[0]))][:50]  # fmt: skip
    assert [(r["rank"], r["name"], Decimal(r["points"])) for r in body["results"]] == expected
    assert expected[-1][0] == 43 and expected[-2][0] == 43  # the cut falls within a tie


def test_integration_created_through_the_api_gets_defaults_and_masks_secrets(
    writer: APIClient,
) -> None:
    created = writer.post("/api/v1/integrations/", {
        "name": "PD", "type": "pipedrive",
        "credentials": {"basic_auth_user": "pd", "basic_auth_password": "s3cret"}}, format="json")  # fmt: skip

    assert created.status_code == 201, created.json()
    body = created.json()
    assert len(body["steps"]) == 4
    assert body["credentials"] == {"basic_auth_user": "pd", "basic_auth_password": "***"}
    assert body["webhook_path"].startswith("/hooks/")
    kept = writer.patch(f"/api/v1/integrations/{body['id']}/", {"credentials": {
        "basic_auth_user": "pd2", "basic_auth_password": "***"}}, format="json")  # fmt: skip
    assert kept.status_code == 200
    from integrations.models import Integration

    assert Integration.objects.get(pk=body["id"]).credentials["basic_auth_password"] == "s3cret"
    unknown = writer.post("/api/v1/integrations/", {"name": "X", "type": "hubspot",
                                                     "credentials": {"api_token": "t"}}, format="json")  # fmt: skip
    assert unknown.status_code == 400
    assert "unknown credential 'api_token'" in unknown.json()["credentials"]["api_token"][0]


def test_steps_and_filters_are_validated_as_in_the_admin(writer: APIClient, pipedrive: Any) -> None:
    deals = ScoreSeries.objects.get(name="Deals")
    base = {"integration": pipedrive.pk, "kind": "points", "name": "Big deals", "source_type": "deal",
            "series": deals.pk, "player_id": "owner_id", "player_id_prefix": "pd:"}  # fmt: skip

    neither = writer.post("/api/v1/steps/", base, format="json")
    both = writer.post(
        "/api/v1/steps/", {**base, "points": "value", "point_type": "type"}, format="json"
    )
    untyped = writer.post("/api/v1/steps/", {**base, "point_type": "type"}, format="json")
    good = writer.post(
        "/api/v1/steps/", {**base, "points": "value", "revoke": "never"}, format="json"
    )

    assert neither.status_code == 400 and "points" in neither.json()
    assert both.status_code == 400 and "not both" in both.json()["point_type"][0]
    assert untyped.status_code == 400 and "has no point types" in untyped.json()["point_type"][0]
    assert good.status_code == 201, good.json()
    step_id = good.json()["id"]
    no_value = writer.post("/api/v1/filters/", {"step": step_id, "field": "value", "operator": "gt"},
                           format="json")  # fmt: skip
    assert no_value.status_code == 400 and "values" in no_value.json()
    flt = writer.post("/api/v1/filters/", {"step": step_id, "field": "value", "operator": "gt",
                                           "values": ["1000"]}, format="json")  # fmt: skip
    assert flt.status_code == 201
    assert writer.get(f"/api/v1/steps/{step_id}/").json()["filters"][0]["values"] == ["1000"]
    assert (
        writer.patch(
            f"/api/v1/steps/{step_id}/", {"revoke": "sometimes"}, format="json"
        ).status_code
        == 400
    )


# --- add score ---------------------------------------------------------------------------------


def score(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/scores/", body, format="json")


def test_add_score_fixture_needs_a_known_player_or_create_player(writer: APIClient) -> None:
    ScoreSeries.objects.create(name="Points")
    body = fixture_json("api/add-score.json")

    refused = writer.post("/api/v1/scores/", body, format="json")
    created = writer.post("/api/v1/scores/", {**body, "create_player": 1}, format="json")

    assert refused.status_code == 400
    assert "no player with external id '121212'" in refused.json()["player_external_id"][0]
    assert created.status_code == 201, created.json()
    assert created.json()["result"] == "booked"
    assert Player.objects.get(identities__external_id="121212").status == "offline"
    assert Transaction.objects.get().points == 120


def test_source_score_id_cycle(writer: APIClient, deals: ScoreSeries) -> None:
    player_upsert(external_id="crm:7", name="Ann", email="ann@example.com")
    first = {"player_external_id": "crm:7", "scoreseries_id": deals.pk, "points": 50,
             "source_score_id": "order-1", "score_time": "2024-05-01T10:00:00Z",
             "tags": [{"name": "Web"}, "promo"], "comment": "Order 1"}  # fmt: skip

    booked = score(writer, **first)
    again = score(writer, **first)
    changed = score(writer, **{**first, "points": 70})
    same_points_other_tags = score(writer, **{**first, "points": 70, "tags": ["web"]})

    assert (booked.status_code, booked.json()["result"]) == (201, "booked")
    assert (again.status_code, again.json()["result"], again.json()["transactions"]) == (
        200,
        "unchanged",
        [],
    )
    assert changed.json()["result"] == "rebooked"
    assert [t["points"] for t in changed.json()["transactions"]] == ["-50.00", "70.00"]
    assert same_points_other_tags.json()["result"] == "rebooked"
    assert list(Transaction.objects.values_list("points", flat=True)) == [50, -50, 70, -70, 70]
    assert sorted(Transaction.objects.last().tags.values_list("name", flat=True)) == ["Web"]  # type: ignore[union-attr]
    assert set(Tag.objects.values_list("name", flat=True)) == {"Web", "promo"}


def test_point_type_by_name_and_the_old_spelling(writer: APIClient, deals: ScoreSeries) -> None:
    ann = player_upsert(external_id="crm:7", name="Ann", email="ann@example.com").player

    by_type = score(writer, player_id=ann.pk, scoreseries_name="deals", point_type_name="meeting")
    old = score(
        writer, player_email="ANN@example.com", scoreseries_id=deals.pk, pointtype_name="Meeting"
    )

    assert by_type.status_code == old.status_code == 201
    assert [t.points for t in Transaction.objects.all()] == [10, 10]
    assert Transaction.objects.first().point_type.name == "Meeting"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"scoreseries_name": "Nope", "points": 1}, "scoreseries_name", "no score series named 'Nope'"),
        ({"scoreseries_id": 999999, "points": 1}, "scoreseries_id", "no score series #999999"),
        ({"scoreseries_name": "Deals", "points": 1, "point_type_name": "Meeting"}, "points", "not both"),
        ({"scoreseries_name": "Deals"}, "points", "give points or point_type_name"),
        ({"scoreseries_name": "Deals", "point_type_name": "Lunch"}, "point_type_name", "not a point type"),
        ({"scoreseries_name": "Deals", "points": 1, "score_time": "tomorrow"}, "score_time", "format"),
        ({"scoreseries_name": "Deals", "points": "lots"}, "points", "valid number"),
        ({"scoreseries_name": "Deals", "points": 1, "tags": [{"label": "x"}]}, "tags", "not a tag"),
    ],
)  # fmt: skip
def test_bad_add_score_inputs_are_400_naming_the_field(
    writer: APIClient, deals: ScoreSeries, body: dict[str, Any], field: str, words: str
) -> None:
    player_upsert(external_id="crm:7", name="Ann", email="")

    response = score(writer, player_external_id="crm:7", **body)

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert words in str(response.json()[field])
    assert not Transaction.objects.exists()


def test_add_score_needs_exactly_one_player_reference(
    writer: APIClient, deals: ScoreSeries
) -> None:
    none_given = score(writer, scoreseries_id=deals.pk, points=1)
    two_given = score(
        writer, player_id=1, player_email="a@example.com", scoreseries_id=deals.pk, points=1
    )

    assert none_given.status_code == two_given.status_code == 400
    assert "exactly one of" in none_given.json()["player_id"][0]


def test_schema_and_docs_are_served(reader: APIClient, client: Any) -> None:
    schema = reader.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/scores/" in schema.json()["paths"]
    docs = reader.get("/api/v1/docs/")
    text = docs.content.decode()
    assert docs.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in text
    assert "cdn" not in text.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
