"""Draining pending events in batches books exactly what processing them one at a time does.

The drain reads what events share once and writes the ledger with a statement per kind; these
tests hold it to the same rules as `event_process`: the reconcile property of
test_reconcile_property.py with deliveries drained in batches of random sizes, and a side-by-side
comparison with one-at-a-time processing over an integration with many steps, filters, tags,
point types, a users step and step errors.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from integrations.config_file import integration_import
from integrations.models import Integration, WebhookEvent
from integrations.services import apply, drain, ingest, wake
from players.models import Player
from players.services import player_upsert
from scoring.models import DailyTotal, MonthlyTotal, Transaction
from tests.pipedrive_payloads import body, deal_v2
from tests.test_reconcile_property import (
    DealVersion,
    deliveries,
    expected_awards,
    ledger_matches,
    ledger_rolled_back,
    pipedrive_create,
)

# Batches are PostgreSQL's (elsewhere every event goes the careful path): service tests.
pytestmark = [pytest.mark.django_db, pytest.mark.services]


@contextmanager
def fallbacks() -> Iterator[list[str]]:
    """The batches that went one event at a time, as logged."""
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "goes one at a time" in record.getMessage():
                seen.append(record.getMessage())

    handler = Catch()
    log = logging.getLogger("integrations.services.drain")
    log.addHandler(handler)
    try:
        yield seen
    finally:
        log.removeHandler(handler)


def store(integration: Integration, payload: dict[str, Any]) -> WebhookEvent:
    """Store a delivery as the webhook view does, without processing it."""
    return ingest.webhook_receive(integration=integration, body=body(payload), headers={}).event


def drain_all(sizes: Callable[[], int]) -> int:
    """Drain until nothing is pending; returns how many drains claimed something."""
    drains = 0
    while drain.events_drain(limit=sizes()):
        drains += 1
    assert not WebhookEvent.objects.filter(status="pending").exists()
    return drains


def totals_match_ledger() -> None:
    ledger: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for series_id, player_id, points in Transaction.objects.values_list(
        "series_id", "player_id", "points"
    ):
        ledger[(series_id, player_id)] += points
    for model in (DailyTotal, MonthlyTotal):
        kept: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
        for series_id, player_id, points in model.objects.values_list(
            "series_id", "player_id", "points"
        ):
            kept[(series_id, player_id)] += points
        assert {k: v for k, v in kept.items() if v} == {k: v for k, v in ledger.items() if v}


@pytest.mark.parametrize("revoke", ["on_change", "on_change_or_time"])
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=deliveries(), sizes=st.lists(st.integers(1, 8), min_size=1, max_size=5))
def test_batches_end_at_what_the_newest_applicable_version_deserves(
    revoke: str,
    scenario: tuple[dict[int, list[DealVersion]], list[DealVersion]],
    sizes: list[int],
) -> None:
    history, order = scenario
    expected = expected_awards(history, order)
    note(f"delivery order: {[(v.event_id, v.status, v.value, v.owner) for v in order]}")
    with ledger_rolled_back():
        integration, step = pipedrive_create(revoke=revoke)
        events = [store(integration, version.payload()) for version in order]
        turn = iter(range(10_000))
        with fallbacks() as fell_back:
            drain_all(lambda: sizes[next(turn) % len(sizes)])
        assert not fell_back  # the batch path itself, not the careful one, booked this

        first_seen: set[str] = set()
        for version, stored in zip(order, events, strict=True):
            stored.refresh_from_db()
            duplicate = any(o.get("result") == "duplicate" for o in stored.outcome)
            assert duplicate == (version.event_id in first_seen), stored.outcome
            first_seen.add(version.event_id)
            assert stored.status in ("processed", "ignored"), (stored.status, stored.outcome)
            assert stored.attempts == 1
        ledger_matches(step, expected)
        totals_match_ledger()


# --- side by side with one at a time ------------------------------------------------------------


def busy_integration() -> Integration:
    """Five points steps with two filters each, tags from a column and from #hashtags, a point
    type step, a step that fails on some records, and a users step for persons."""
    steps: list[dict[str, Any]] = [
        {"kind": "users", "name": "Persons", "source_type": "person", "player_id": "id",
         "player_id_prefix": "pd:", "player_name": "name"},
    ]  # fmt: skip
    for n, (points, point_type, flt, revoke) in enumerate([
        ("value", "", {"field": "value", "operator": "gt", "values": ["0"]}, "on_change"),
        ("10", "", {"field": "value", "operator": "gt", "values": ["100"]}, "never"),
        ("", "stage", {"field": "stage", "operator": "not_empty", "values": []}, "on_change"),
        ("value", "", {"field": "currency", "operator": "in", "values": ["EUR"]},
         "on_change_or_time"),
        ("probability", "", {"field": "title", "operator": "contains", "values": ["deal"]},
         "on_change"),
    ]):  # fmt: skip
        steps.append({
            "kind": "points", "name": f"Step {n}", "source_type": "deal",
            "series": "Stages" if point_type else f"Series {n}", "points": points,
            "point_type": point_type, "player_id": "owner_id", "player_id_prefix": "pd:",
            "point_time": "won_time", "tags": ["status", "#title"], "comment": "title",
            "revoke": revoke, "filters": [{"field": "status", "values": ["won", "open"]}, flt],
        })  # fmt: skip
    steps.append({
        "kind": "points", "name": "Newcomers", "source_type": "deal", "series": "Newcomers",
        "points": "1", "player_id": "creator_id", "player_id_prefix": "pd:",
        "player_name": "creator_name", "tags": ["labels"], "comment": "title",
        "filters": [{"field": "status", "values": ["won"]}],
    })  # fmt: skip
    integration, _ = integration_import(data={
        "name": "Busy", "type": "pipedrive", "steps": steps,
        "series": [{"name": "Stages", "point_types": [{"name": "Demo", "points": 5},
                                                        {"name": "Closing", "points": 20}]}],
    })  # fmt: skip
    for owner in (1001, 1002, 1003):
        player_upsert(external_id=f"pd:{owner}", name=f"Seller {owner}", email="")
    Player.objects.filter(name="Seller 1003").update(status=Player.Status.ARCHIVED)
    return integration


def person_v2(person_id: int, name: str) -> dict[str, Any]:
    return {
        "data": {"id": person_id, "name": name, "update_time": "2024-01-01T12:00:00Z"},
        "previous": None,
        "meta": {"action": "create", "entity": "person", "entity_id": str(person_id),
                 "id": f"person-{person_id}-{name}", "timestamp": "2024-01-01T12:00:00Z",
                 "version": "2.0"},
    }  # fmt: skip


@st.composite
def busy_deliveries(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Deals edited, reassigned, lost and deleted; repeats; persons (players made on the way);
    stages that are no point type and probabilities that are no number (step errors)."""
    sent: list[dict[str, Any]] = []
    for n in range(draw(st.integers(6, 24))):
        kind = draw(st.sampled_from(["deal"] * 6 + ["person", "repeat", "delete"]))
        if kind == "person":  # new players, and renames of players with awards
            sent.append(person_v2(draw(st.sampled_from([1001, 1002, 1004, 1005])), f"Person {n}"))
            continue
        if kind == "repeat" and sent:
            sent.append(draw(st.sampled_from(sent)))
            continue
        deal_id = draw(st.integers(1, 5))
        minute = f"2024-02-01T10:{n:02d}:00Z"
        if kind == "delete":
            sent.append(deal_v2(deal_id, action="deleted", update_time=minute))
            continue
        sent.append(deal_v2(
            deal_id,
            status=draw(st.sampled_from(["won", "won", "open", "lost"])),
            value=draw(st.sampled_from([0, 50, 120, 999.995, "250"])),
            owner_id=draw(st.sampled_from([1001, 1002, 1003, 1004, 1005, 4242])),
            update_time=minute,
            stage=draw(st.sampled_from(["Demo", "Closing", "Nowhere", ""])),
            currency=draw(st.sampled_from(["EUR", "USD"])),
            title=draw(st.sampled_from(["Big deal #q1 #north", "small deal #q2", "Renewal"])),
            probability=draw(st.sampled_from([10, 0, "n/a", None])),
            won_time=draw(st.sampled_from([None, "2024-02-03T09:00:00Z", "2024-03-01T00:30:00Z"])),
            creator_id=draw(st.sampled_from([1001, 2001, 2002])),
            creator_name=f"Creator {n}",
            labels=draw(st.sampled_from([None, "vip", ["vip", "q1"], [["not", "tags"]]])),
        ))  # fmt: skip
    return sent


def ledger_picture() -> dict[str, Any]:
    """The whole outcome with ledger ids replaced by their order of booking."""
    rows = list(
        Transaction.objects.select_related("player", "series", "point_type", "step")
        .prefetch_related("tags")
        .order_by("id")
    )
    number = {row.pk: n for n, row in enumerate(rows)}

    def ids(text: str) -> str:
        return re.sub(r"#(\d+)", lambda m: f"#{number.get(int(m.group(1)), '?')}", text)

    ledger = [
        (row.kind, row.player.name, row.series.name, row.points,
         row.point_type.name if row.point_type else "", row.comment, row.point_time,
         row.step.name if row.step else "", row.source_object,
         sorted(t.name for t in row.tags.all()), number.get(row.revokes_id or 0))
        for row in rows
    ]  # fmt: skip
    events = [
        (event.status, ids(event.error), event.source_type, event.object_refs,
         [{**o, "message": ids(o.get("message", "")), "step_id": None,
           "transactions": [number[t] for t in o.get("transactions", [])]}
          for o in event.outcome])
        for event in WebhookEvent.objects.order_by("id")
    ]  # fmt: skip
    players = sorted(Player.objects.values_list("name", "status"))
    return {"ledger": ledger, "events": events, "players": players}


def run(
    sent: list[dict[str, Any]], process: Callable[[list[WebhookEvent]], object]
) -> dict[str, Any]:
    with transaction.atomic():
        integration = busy_integration()
        events = [store(integration, payload) for payload in sent]
        process(events)
        totals_match_ledger()
        picture = ledger_picture()
        transaction.set_rollback(True)
    return picture


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=busy_deliveries(), size=st.integers(1, 30))
def test_a_batch_books_what_one_event_at_a_time_books(
    sent: list[dict[str, Any]], size: int
) -> None:
    def one_at_a_time(events: list[WebhookEvent]) -> None:
        for event in events:
            apply.event_process(event_id=event.pk)

    fell_back: list[str] = []

    def batches(events: list[WebhookEvent]) -> None:
        with fallbacks() as seen:
            drain_all(lambda: size)
        fell_back.extend(seen)

    expected = run(sent, one_at_a_time)
    got = run(sent, batches)
    # The batch path itself booked all of it: step errors (a tag column that holds no tags,
    # even on a change whose new player the step would create) are found before anything is
    # written, so no batch has to go one event at a time.
    assert not fell_back, fell_back
    assert got["events"] == expected["events"]
    assert got["ledger"] == expected["ledger"]
    assert got["players"] == expected["players"]


def test_a_step_error_in_a_batch_is_that_steps_outcome_and_the_rest_is_booked() -> None:
    integration = busy_integration()
    good = store(integration, deal_v2(1, value=120, stage="Demo", probability=10))
    bad = store(integration, deal_v2(2, value=120, stage="Nowhere", probability="n/a"))

    assert drain.events_drain(limit=10) == 2

    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "processed" and not good.error
    assert bad.status == "failed"
    assert "point type column 'stage' holds 'Nowhere'" in bad.error
    assert "points column 'probability' holds 'n/a', not a number" in bad.error
    # Deal 2's other steps booked in the same batch; nothing of the failed steps did.
    assert Transaction.objects.filter(source_object="deal:2").count() == 3
    assert Transaction.objects.filter(source_object="deal:1").count() == 5


def test_a_score_id_that_names_no_award_state_is_that_steps_error_in_the_batch() -> None:
    """A score id column holding a list cannot name an award state to lock up front: the batch
    locks none for that step, which records the error when it runs; the rest is booked."""
    integration = busy_integration()
    step = integration.steps.get(name="Step 1")
    step.score_id = "labels"
    step.save(update_fields=["score_id"])
    fine = store(integration, deal_v2(3, value=120, stage="Demo", probability=10, labels="x"))
    odd = store(integration, deal_v2(4, value=120, stage="Demo", probability=10, labels=[1, 2]))

    with fallbacks() as fell_back:
        drain.events_drain(limit=10)

    assert not fell_back, fell_back

    fine.refresh_from_db()
    odd.refresh_from_db()
    assert (fine.status, fine.attempts) == ("processed", 1)
    assert (odd.status, odd.attempts) == ("failed", 1)
    assert "score id" in odd.error
    assert Transaction.objects.filter(source_object="deal:4").count() == 4


def test_claimed_events_are_left_to_their_drain() -> None:
    integration = busy_integration()
    store(integration, deal_v2(1, value=120, stage="Demo", probability=10))
    WebhookEvent.objects.update(claimed_until="2999-01-01T00:00:00Z")

    assert drain.events_drain(limit=10) == 0
    # The sweeper's one-event path does not wait for the claim (the event row lock decides).
    event = apply.event_process(event_id=WebhookEvent.objects.get().pk)
    assert event is not None and event.status == "processed"


def queued_within(flags: redis.Redis, queue: str, count: int) -> None:
    """The web process's waker queues within a few milliseconds of the commit, and no more."""
    deadline = time.monotonic() + 5
    while flags.llen(queue) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert flags.llen(queue) == count


def test_an_event_whose_batch_died_goes_on_alone() -> None:
    """Its worker died mid-batch (attempts counted, claim run out): drains leave it to the
    one-event task, so an event that kills workers costs no other event an attempt."""
    integration = busy_integration()
    survivor = store(integration, deal_v2(1, value=120, stage="Demo", probability=10))
    fresh = store(integration, deal_v2(2, value=120, stage="Demo", probability=10))
    WebhookEvent.objects.filter(pk=survivor.pk).update(attempts=1)

    assert drain.events_drain(limit=10) == 1  # the fresh one only
    survivor.refresh_from_db()
    assert survivor.status == "pending"

    event = apply.event_process(event_id=survivor.pk)
    assert event is not None and (event.status, event.attempts) == ("processed", 2)
    assert WebhookEvent.objects.get(pk=fresh.pk).status == "processed"


def test_deliveries_queue_one_drain_until_it_starts(
    client: Client, pipedrive: Integration, django_capture_on_commit_callbacks: Any
) -> None:
    flags = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    flags.delete(wake.WAKE_FLAG, queue)
    url = f"/hooks/{pipedrive.webhook_secret}/"

    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, body(deal_v2(n)), content_type="application/json")
        assert response.status_code == 202
    queued_within(flags, queue, 1)  # three deliveries, one drain queued

    drain.events_drain()  # the drain starts: the flag is cleared, all three are processed
    assert WebhookEvent.objects.count() == 3
    assert not WebhookEvent.objects.filter(status="pending").exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, body(deal_v2(9)), content_type="application/json")
    queued_within(flags, queue, 2)  # a delivery after the drain started queues the next one
    flags.delete(wake.WAKE_FLAG, queue)


def test_a_player_renamed_earlier_in_the_batch_is_named_anew() -> None:
    """A deal booked to Seller 1001, a users step renaming 1001, then the same deal again: the
    "already booked" outcome names the player as they are now, as one at a time does."""
    deal: dict[str, Any] = {"value": 120, "stage": "Demo", "probability": 10, "title": "Big #q1"}
    sent = [
        deal_v2(1, update_time="2024-02-01T10:00:00Z", **deal),
        person_v2(1001, "Renamed Seller"),
        deal_v2(1, update_time="2024-02-01T11:00:00Z", **deal),
    ]

    def one_at_a_time(events: list[WebhookEvent]) -> None:
        for event in events:
            apply.event_process(event_id=event.pk)

    expected = run(sent, one_at_a_time)
    got = run(sent, lambda events: drain_all(lambda: 10))

    assert "already booked" in str(expected["events"][2]) and "Renamed Seller" in str(
        expected["events"][2]
    )
    assert got == expected
