"""A master score series always holds the factor-weighted sum of its links (DESIGN §11): every
row booked in a linked series books points x factor (rounded half-up per row) in the master in
the same transaction, revokes cancel exactly what they derived, a new factor applies to new
points only, and master_rebuild applies the factors as they are now to the past.

Driven through the real services: reconcile through the immediate and the batched unit of work,
and add score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from integrations.config_file import integration_import
from integrations.models import IntegrationStep
from players.models import Player
from players.services import player_upsert
from scoring.booking import BatchBooking, Booking
from scoring.masters import master_rebuild, series_master_set
from scoring.models import DailyTotal, MonthlyTotal, RevokePolicy, ScoreSeries, Transaction
from scoring.services import DesiredAward, NoAward, award_reconcile, score_add, transaction_book

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 1, 8, tzinfo=UTC)
CENT = Decimal("0.01")
FACTORS = [Decimal(f) for f in ("10", "0.01", "0.333", "2.5", "-1.5", "0.005")]

# One step of work: reconcile an object (points 0 = no award now: its award is revoked), add a
# score by source_score_id, or change a link's factor.
reconcile_op = st.tuples(
    st.just("reconcile"),
    st.integers(0, 4),  # object
    st.integers(0, 2),  # player
    st.integers(0, 2),  # series: Calls (x factor), Deals (x factor), Other (no master)
    st.one_of(st.just(Decimal(0)), st.decimals(min_value=-500, max_value=5000, places=2)),
    st.integers(0, 24 * 40),  # hours after START
)
score_op = st.tuples(
    st.just("score"),
    st.integers(0, 2),  # source_score_id
    st.integers(0, 2),
    st.integers(0, 2),
    st.decimals(min_value=-100, max_value=900, places=3),
)
factor_op = st.tuples(st.just("factor"), st.integers(0, 1), st.sampled_from(FACTORS))
# Work goes in rounds; a round goes through one BatchBooking, or one Booking per operation.
rounds = st.lists(
    st.tuples(st.booleans(), st.lists(st.one_of(reconcile_op, score_op, factor_op), max_size=8)),
    min_size=1,
    max_size=6,
)


def half_up(points: Decimal) -> Decimal:
    return points.quantize(CENT, rounding=ROUND_HALF_UP)


def master_by_player(master: ScoreSeries) -> dict[int, Decimal]:
    rows = Transaction.objects.filter(series=master).values("player_id").annotate(t=Sum("points"))
    return {r["player_id"]: r["t"] for r in rows if r["t"]}


def totals_by_player(master: ScoreSeries) -> dict[int, Decimal]:
    """The master's maintained daily totals per player, checked against its monthly ones."""
    sums = []
    for model in (DailyTotal, MonthlyTotal):
        rows = model.objects.filter(series=master).values("player_id").annotate(t=Sum("points"))
        sums.append({r["player_id"]: r["t"] for r in rows if r["t"]})
    assert sums[0] == sums[1]
    return sums[0]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(work=rounds)
def test_a_master_always_equals_the_factor_weighted_sum_of_its_links(work: list[Any]) -> None:
    with transaction.atomic():
        integration_import(data={"name": "Pipedrive", "type": "pipedrive"})
        step_id = IntegrationStep.objects.filter(kind="points").values_list("pk", flat=True)[0]
        players = [
            player_upsert(external_id=f"p:{n}", name=f"P{n}", email="").player for n in range(3)
        ]
        master = ScoreSeries.objects.create(name="All")
        calls, deals, other = (ScoreSeries.objects.create(name=n) for n in ("C", "D", "O"))
        series_master_set(series=calls, master=master, factor=Decimal(10))
        series_master_set(series=deals, master=master, factor=Decimal("0.01"))
        links = [calls, deals]
        series = [calls, deals, other]
        # The factor each row of a link was booked under: (first ledger id, factor), in order.
        factor_from = {s.pk: [(0, s.master_factor)] for s in links}

        def next_id() -> int:
            return (
                Transaction.objects.order_by("-id").values_list("id", flat=True).first() or 0
            ) + 1

        for batched, ops in work:
            booking: Booking = BatchBooking() if batched else Booking()
            with transaction.atomic():
                for op in ops:
                    if op[0] == "factor":
                        link = links[op[1]]
                        booking.flush()  # the batch so far was booked under the old factor
                        if batched:
                            booking = BatchBooking()
                        series_master_set(series=link, master=master, factor=op[2])
                        factor_from[link.pk].append((next_id(), op[2]))
                        for s in series:
                            s.refresh_from_db()
                        continue
                    if op[0] == "score":
                        _, key, p, s, points = op
                        score_add(player=players[p], series=series[s], points=half_up(points),
                                  point_time=START, source_score_id=f"s{key}")  # fmt: skip
                        continue
                    _, obj, p, s, points, hours = op
                    desired: DesiredAward | NoAward = (
                        NoAward("gone")
                        if not points
                        else DesiredAward(player=players[p], external_id=f"p:{p}", points=points,
                                          point_type=None, tag_names=(), comment="",
                                          point_time=START + timedelta(hours=hours))
                    )  # fmt: skip
                    award_reconcile(
                        booking=booking, step_id=step_id, series=series[s],
                        revoke=RevokePolicy.ON_CHANGE, object_id=f"deal:{obj}",
                        source_object=f"deal:{obj}", desired=desired, version=None,
                        default_time=START, event_id=None,
                    )  # fmt: skip
                booking.flush()

        # Expected, from the ledger's rows of the links and the factor each was booked under.
        def factor_of(row: Transaction) -> Decimal:
            return [f for first, f in factor_from[row.series_id] if row.pk >= first][-1]

        expected: dict[int, Decimal] = {}
        for row in Transaction.objects.filter(series__in=links).select_related("revokes"):
            source = row.revokes if row.kind == Transaction.Kind.REVOKE else row
            assert source is not None
            points = half_up(source.points * factor_of(source))
            points = -points if row.kind == Transaction.Kind.REVOKE else points
            expected[row.player_id] = expected.get(row.player_id, Decimal(0)) + points
        expected = {p: v for p, v in expected.items() if v}
        note(f"expected {expected}")
        assert master_by_player(master) == expected
        assert totals_by_player(master) == expected
        # Every master row stands for one row of a link, with its provenance.
        derived = Transaction.objects.filter(series=master).select_related("derived_from")
        assert all(r.derived_from and r.derived_from.series_id in factor_from for r in derived)
        assert not Transaction.objects.filter(series=other, derived__isnull=False).exists()

        # The rebuild applies the factors as they are now, per row still standing.
        master_rebuild(master=master)
        now: dict[int, Decimal] = {}
        for link in links:
            link.refresh_from_db()
            for row in Transaction.objects.filter(series=link, revoked_by__isnull=True).exclude(
                kind=Transaction.Kind.REVOKE
            ):
                points = half_up(row.points * link.master_factor)
                now[row.player_id] = now.get(row.player_id, Decimal(0)) + points
        now = {p: v for p, v in now.items() if v}
        assert master_by_player(master) == now
        assert totals_by_player(master) == now
        rows = Transaction.objects.count()
        again = master_rebuild(master=master)
        assert (again.booked, again.revoked, Transaction.objects.count()) == (0, 0, rows)
        transaction.set_rollback(True)


@pytest.fixture
def linked() -> tuple[Player, ScoreSeries, ScoreSeries]:
    ann = player_upsert(external_id="p:ann", name="Ann", email="").player
    master = ScoreSeries.objects.create(name="Master")
    calls = ScoreSeries.objects.create(name="Calls")
    series_master_set(series=calls, master=master, factor=Decimal(10))
    return ann, master, calls


def test_a_revoke_cancels_the_derived_row_booked_under_the_old_factor(linked: Any) -> None:
    ann, master, calls = linked
    first = score_add(player=ann, series=calls, points=Decimal(3), point_time=START,
                      source_score_id="x").active  # fmt: skip
    series_master_set(series=calls, master=master, factor=Decimal(2))
    calls.refresh_from_db()
    second = score_add(player=ann, series=calls, points=Decimal(4), point_time=START,
                       source_score_id="x")  # fmt: skip

    derived = list(Transaction.objects.filter(series=master).order_by("id"))
    assert [(r.points, r.kind) for r in derived] == [
        (Decimal(30), "award"),  # 3 x 10
        (Decimal(-30), "revoke"),  # cancels what 3 derived, though the factor is now 2
        (Decimal(8), "award"),  # 4 x 2
    ]
    assert derived[0].derived_from == first
    assert derived[1].revokes == derived[0]
    assert derived[1].derived_from == second.booked[0]  # the revoke it comes from
    assert master_by_player(master) == {ann.pk: Decimal(8)}


def test_a_master_is_refused_as_a_link_and_a_link_as_a_master(linked: Any) -> None:
    _, master, calls = linked
    deals = ScoreSeries.objects.create(name="Deals")

    with pytest.raises(ValidationError) as linked_master:
        series_master_set(series=master, master=deals, factor=Decimal(1))
    with pytest.raises(ValidationError) as link_as_master:
        series_master_set(series=deals, master=calls, factor=Decimal(1))
    with pytest.raises(ValidationError) as itself:
        series_master_set(series=deals, master=deals, factor=Decimal(1))
    with pytest.raises(ValidationError) as zero:
        series_master_set(series=deals, master=master, factor=Decimal(0))

    assert "'Master' is the master of Calls" in str(linked_master.value)
    assert "'Calls' is linked to master 'Master' itself" in str(link_as_master.value)
    assert "cannot be its own master" in str(itself.value)
    assert "factor must be a number other than 0, not 0" in str(zero.value)


def test_master_rebuild_derives_points_booked_before_the_link(db: None) -> None:
    ann = player_upsert(external_id="p:ann", name="Ann", email="").player
    master = ScoreSeries.objects.create(name="Master")
    deals = ScoreSeries.objects.create(name="Deals")
    transaction_book(player=ann, series=deals, points=Decimal("2786.08"), point_time=START)
    series_master_set(series=deals, master=master, factor=Decimal("0.01"))

    assert master_by_player(master) == {}  # a link applies to new points only
    call_command("master_rebuild", "master")

    assert master_by_player(master) == {ann.pk: Decimal("27.86")}
    assert totals_by_player(master) == {ann.pk: Decimal("27.86")}
