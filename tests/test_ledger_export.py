"""The ledger as CSV (DESIGN §8, §9 "Files"): `manage.py ledger_export`."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone as django_timezone

from integrations.config_file import integration_import
from players.models import Player, PlayerIdentity
from players.services import player_upsert
from scoring.models import ScoreSeries, Transaction
from scoring.services import tags_get_or_create, transaction_book
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db

HEADER = (
    "id,point_time,created_at,player,player_external_ids,series,points,point_type,tags,comment,"
    "kind,revokes,step,source_object,event"
)


def ledger_export(*args: str) -> str:
    out = StringIO()
    call_command("ledger_export", *args, stdout=out)
    return out.getvalue()


def ledger_rows(*args: str) -> list[dict[str, str]]:
    text = ledger_export(*args)
    reader = csv.reader(StringIO(text))
    header = next(reader)
    assert ",".join(header) == HEADER
    return [dict(zip(header, row, strict=True)) for row in reader]


def utc(text: str) -> datetime:
    """A CSV time: ISO 8601 with a UTC designator."""
    assert text.endswith(("Z", "+00:00")), f"{text!r} is not marked as UTC"
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0)
    return moment


@pytest.fixture
def ann(db: None) -> Player:
    return player_upsert(external_id="pd:1001", name="Ann", email="").player


@pytest.fixture
def bob(db: None) -> Player:
    return player_upsert(external_id="pd:1002", name="Bob", email="").player


def manual(
    player: Player,
    points: str,
    point_time: str,
    *,
    series: str = "Deals",
    tags: tuple[str, ...] = (),
    comment: str = "",
) -> Transaction:
    """Points an admin enters by hand."""
    return transaction_book(
        player=player,
        series=ScoreSeries.objects.get_or_create(name=series)[0],
        points=Decimal(points),
        point_time=datetime.fromisoformat(point_time),
        kind=Transaction.Kind.MANUAL,
        tags=tags_get_or_create(tags),
        comment=comment,
    )


def test_header_is_exactly_the_design_header_even_for_an_empty_ledger() -> None:
    assert ledger_export() == HEADER + "\n"


def test_seed_example_gives_exactly_three_rows(pipedrive, deliver, ann, bob) -> None:
    won = deliver(pipedrive, deal_v2(123, status="won", value=100, owner_id=1001))
    moved_payload = deal_v2(123, owner_id=1002, update_time="2024-01-01T13:00:00Z")
    moved = deliver(pipedrive, moved_payload)
    deliver(pipedrive, moved_payload)  # the same delivery again

    rows = ledger_rows()

    first, revoke, second = Transaction.objects.order_by("id")
    common = {
        "point_time": "2024-01-01T12:00:00Z",
        "series": "Deals",
        "point_type": "",
        "tags": "",
        "comment": "Sample Org deal",
        "step": "Won deals",
        "source_object": "deal:123",
    }
    assert [{k: v for k, v in row.items() if k != "created_at"} for row in rows] == [
        {
            **common,
            "id": str(first.pk),
            "player": "Ann",
            "player_external_ids": "pd:1001",
            "points": "100.00",
            "kind": "award",
            "revokes": "",
            "event": str(won.pk),
        },
        {
            **common,
            "id": str(revoke.pk),
            "player": "Ann",
            "player_external_ids": "pd:1001",
            "points": "-100.00",
            "kind": "revoke",
            "revokes": str(first.pk),
            "event": str(moved.pk),
        },
        {
            **common,
            "id": str(second.pk),
            "player": "Bob",
            "player_external_ids": "pd:1002",
            "points": "100.00",
            "kind": "award",
            "revokes": "",
            "event": str(moved.pk),
        },
    ]
    for row, transaction in zip(rows, (first, revoke, second), strict=True):
        assert utc(row["created_at"]) == transaction.created_at


def test_rows_are_ordered_by_id_not_by_point_time(ann) -> None:
    late = manual(ann, "3", "2024-03-01T00:00:00+00:00")
    early = manual(ann, "1", "2024-01-01T00:00:00+00:00")
    middle = manual(ann, "2", "2024-02-01T00:00:00+00:00")

    rows = ledger_rows()

    assert [row["id"] for row in rows] == [str(late.pk), str(early.pk), str(middle.pk)]


def test_a_revoke_precedes_the_award_that_replaces_it(pipedrive, deliver, ann) -> None:
    deliver(pipedrive, deal_v2(7, value=100, owner_id=1001))
    deliver(pipedrive, deal_v2(7, value=150, owner_id=1001, update_time="2024-01-02T12:00:00Z"))

    rows = ledger_rows()

    assert [(row["kind"], row["points"]) for row in rows] == [
        ("award", "100.00"),
        ("revoke", "-100.00"),
        ("award", "150.00"),
    ]
    assert rows[1]["revokes"] == rows[0]["id"]


def test_points_have_two_decimals_a_point_and_no_thousands_separator(
    pipedrive, deliver, ann, bob
) -> None:
    deliver(pipedrive, deal_v2(1, value=2786.08, owner_id=1001))
    deliver(pipedrive, deal_v2(1, value=2786.08, owner_id=1002, update_time="2024-01-02T00:00:00Z"))
    manual(ann, "1234567.5", "2024-01-03T00:00:00+00:00")
    manual(ann, "-0.5", "2024-01-03T00:00:00+00:00")

    rows = ledger_rows()

    assert [row["points"] for row in rows] == [
        "2786.08",
        "-2786.08",
        "2786.08",
        "1234567.50",
        "-0.50",
    ]


def test_times_are_iso_8601_in_utc(ann) -> None:
    before = django_timezone.now()
    manual(ann, "5", "2024-03-10T09:30:00+02:00")
    after = django_timezone.now()

    (row,) = ledger_rows()

    assert utc(row["point_time"]) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)
    assert before <= utc(row["created_at"]) <= after


def test_tags_are_sorted_case_insensitively_without_hash(deliver, ann) -> None:
    """The DESIGN §8 example step books `status` and the `#words` of `notes` as tags."""
    sales, _ = integration_import(
        data={
            "name": "Pipedrive (sales)",
            "type": "pipedrive",
            "steps": [
                {
                    "kind": "points",
                    "name": "Won deals",
                    "source_type": "deal",
                    "series": "Deals",
                    "points": "value",
                    "score_id": "id",
                    "player_id": "owner_id",
                    "player_id_prefix": "pd:",
                    "comment": "title",
                    "tags": ["status", "#notes"],
                    "point_time": "won_time",
                    "filters": [{"field": "status", "operator": "in", "values": ["won"]}],
                },
            ],
        }
    )
    deliver(sales, deal_v2(5, owner_id=1001, notes="Big one #Zeta, see #alpha"))
    manual(ann, "1", "2024-01-05T00:00:00+00:00", tags=("gamma", "#beta", "Alpha2"))

    rows = ledger_rows()

    assert [row["tags"] for row in rows] == ["alpha;won;Zeta", "Alpha2;beta;gamma"]


def test_player_external_ids_are_semicolon_joined(ann) -> None:
    PlayerIdentity.objects.create(player=ann, external_id="hs:77")
    manual(ann, "1", "2024-01-01T00:00:00+00:00")

    (row,) = ledger_rows()

    assert row["player"] == "Ann"
    assert sorted(row["player_external_ids"].split(";")) == ["hs:77", "pd:1001"]


def test_manual_rows_have_no_step_event_source_object_or_revokes(ann) -> None:
    entered = manual(ann, "25", "2024-01-01T00:00:00+00:00", comment="Helped, thanks")

    (row,) = ledger_rows()

    assert row["id"] == str(entered.pk)
    assert row["kind"] == "manual"
    assert row["comment"] == "Helped, thanks"
    assert (row["step"], row["event"], row["source_object"], row["revokes"]) == ("", "", "", "")


def test_comment_with_commas_quotes_and_newlines_stays_one_field(ann) -> None:
    manual(ann, "1", "2024-01-01T00:00:00+00:00", comment='Deal "A", phase 2\nsecond line')

    (row,) = ledger_rows()

    assert row["comment"] == 'Deal "A", phase 2\nsecond line'


def test_series_filter_keeps_only_that_series(ann) -> None:
    manual(ann, "1", "2024-01-01T00:00:00+00:00", series="Deals")
    calls = manual(ann, "2", "2024-01-02T00:00:00+00:00", series="Activities")

    rows = ledger_rows("--series", "Activities")

    assert [(row["id"], row["series"]) for row in rows] == [(str(calls.pk), "Activities")]


def test_player_filter_matches_any_external_id_of_the_player(ann, bob) -> None:
    PlayerIdentity.objects.create(player=ann, external_id="hs:77")
    first = manual(ann, "1", "2024-01-01T00:00:00+00:00")
    manual(bob, "2", "2024-01-02T00:00:00+00:00")
    second = manual(ann, "3", "2024-01-03T00:00:00+00:00")

    by_pipedrive_id = ledger_rows("--player", "pd:1001")
    by_hubspot_id = ledger_rows("--player", "hs:77")

    assert [row["id"] for row in by_pipedrive_id] == [str(first.pk), str(second.pk)]
    assert by_hubspot_id == by_pipedrive_id


def test_since_and_until_select_by_point_time(ann) -> None:
    manual(ann, "1", "2024-01-01T00:00:00+00:00")
    inside = manual(ann, "2", "2024-02-01T00:00:00+00:00")
    manual(ann, "3", "2024-03-01T00:00:00+00:00")

    rows = ledger_rows("--since", "2024-01-15T00:00:00Z", "--until", "2024-02-15")
    since_only = ledger_rows("--since", "2024-01-15T00:00:00+00:00")
    until_only = ledger_rows("--until", "2024-01-15T00:00:00Z")

    assert [row["id"] for row in rows] == [str(inside.pk)]
    assert [row["points"] for row in since_only] == ["2.00", "3.00"]
    assert [row["points"] for row in until_only] == ["1.00"]


def test_since_is_read_with_its_offset(ann) -> None:
    point = manual(ann, "1", "2024-01-01T10:00:00+00:00")

    # 11:30 at +02:00 is 09:30 UTC: the row is after it.
    rows = ledger_rows("--since", "2024-01-01T11:30:00+02:00")

    assert [row["id"] for row in rows] == [str(point.pk)]


def test_filters_combine(ann, bob) -> None:
    manual(ann, "1", "2024-01-01T00:00:00+00:00", series="Deals")
    wanted = manual(ann, "2", "2024-02-01T00:00:00+00:00", series="Activities")
    manual(bob, "3", "2024-02-01T00:00:00+00:00", series="Activities")
    manual(ann, "4", "2024-03-01T00:00:00+00:00", series="Activities")

    rows = ledger_rows(
        "--series", "Activities", "--player", "pd:1001", "--since", "2024-01-15", "--until",
        "2024-02-15",
    )  # fmt: skip

    assert [row["id"] for row in rows] == [str(wanted.pk)]


def test_a_since_that_is_not_a_time_is_refused_naming_it() -> None:
    with pytest.raises(CommandError, match=r"--since 'last tuesday' is not an ISO 8601"):
        ledger_export("--since", "last tuesday")
