"""Workers racing on the same deals (DESIGN §1, §3): PostgreSQL row locks keep the ledger exact.

Deliveries are stored first and committed, as the webhook view does; then several threads, each
with its own database connection, process them at once: the same event in two threads at a time,
duplicate deliveries, and different versions of one deal.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from integrations.models import Integration, IntegrationStep, WebhookEvent
from integrations.services import apply, ingest
from players.services import player_upsert
from scoring.models import AwardState, Transaction
from tests.pipedrive_payloads import body
from tests.test_reconcile_property import (
    FIELD_VALUES,
    KNOWN_OWNERS,
    START,
    DealVersion,
    award_invariants_check,
    deserved,
    is_unknown_owner_change,
    ledger_matches,
    player_totals,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

THREADS = 6


def events_store(integration: Integration, versions: Sequence[DealVersion]) -> list[int]:
    """Store one delivery per version, committed (the webhook view's part). Returns event ids."""
    ids = []
    for version in versions:
        receipt = ingest.webhook_receive(
            integration=integration, body=body(version.payload()), headers={}
        )
        assert not receipt.error
        ids.append(receipt.event.pk)
    return ids


def events_store_unqueued(integration: Integration, versions: Sequence[DealVersion]) -> list[int]:
    """Stored pending as webhook_receive stores them, but not handed to Celery: a worker running
    in this session (test_browser_admin starts one) must not process them before the test has
    set up the race."""
    return [
        WebhookEvent.objects.create(
            integration=integration, received_at=timezone.now(), body=body(version.payload())
        ).pk
        for version in versions
    ]


def in_threads(jobs: Sequence[Callable[[], Any]]) -> list[BaseException]:
    """Run each job in its own thread with its own connection, released together; returns what
    any of them raised (a deadlock PostgreSQL detects arrives here as an OperationalError)."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            job()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker is stuck (a lock never released?)"
    return errors


def process_concurrently(work: Sequence[Sequence[int]]) -> list[BaseException]:
    """One worker per list of event ids, each processing its list in order, as a worker does."""

    def worker(event_ids: Sequence[int]) -> Callable[[], None]:
        def job() -> None:
            for event_id in event_ids:
                # PostgreSQL may end one of two transactions that wait on each other's totals
                # (a deadlock); the task retries it (autoretry_for OperationalError), and so
                # does this worker. Nothing of the aborted attempt stays: it rolled back.
                for attempt in range(5):
                    try:
                        apply.event_process(event_id=event_id)
                        break
                    except OperationalError as exc:
                        if "deadlock" not in str(exc) or attempt == 4:
                            raise

        return job

    return in_threads([worker(ids) for ids in work])


def players_create() -> None:
    for owner in KNOWN_OWNERS:
        player_upsert(external_id=f"pd:{owner}", name=f"Owner {owner}", email="")


def won_deals(pipedrive: Integration, *, revoke: str = "on_change") -> IntegrationStep:
    step = pipedrive.steps.get(name="Won deals")
    step.revoke = revoke
    step.save(update_fields=["revoke"])
    return step


def history_random(rng: random.Random, deal_id: int, count: int) -> list[DealVersion]:
    """A deal's versions, each an edit of one or two fields of the one before; sometimes deleted
    at the end. The newest never has an unknown owner, so the end does not depend on the order
    in which the workers happen to apply the versions (see test_reconcile_property)."""
    moment = START + timedelta(seconds=rng.randint(1, 7200))
    version = DealVersion(
        deal_id=deal_id,
        seq=0,
        moment=moment,
        **{name: rng.choice(values) for name, values in FIELD_VALUES.items()},
    )
    versions = [version]
    for seq in range(1, count):
        moment += timedelta(seconds=rng.randint(1, 7200))
        edited = rng.sample(sorted(FIELD_VALUES), k=rng.randint(1, 2))
        version = replace(
            version,
            seq=seq,
            moment=moment,
            **{name: rng.choice(FIELD_VALUES[name]) for name in edited},
        )
        versions.append(version)
    if rng.random() < 0.2:
        versions[-1] = replace(versions[-1], deleted=True)
    elif is_unknown_owner_change(versions[-1]):
        versions[-1] = replace(versions[-1], owner=rng.choice(KNOWN_OWNERS))
    return versions


def events_done(event_ids: Sequence[int]) -> Counter[str]:
    """Every event ended processed or ignored: none failed, none still pending."""
    statuses = Counter(
        WebhookEvent.objects.filter(pk__in=event_ids).values_list("status", flat=True)
    )
    assert sum(statuses.values()) == len(event_ids)
    assert set(statuses) <= {"processed", "ignored"}, statuses
    return statuses


def is_duplicate(event: WebhookEvent) -> bool:
    return any(o.get("result") == "duplicate" for o in event.outcome)


@pytest.mark.parametrize(
    ("seed", "revoke"),
    [(1, "on_change"), (2, "on_change_or_time"), (3, "on_change"), (4, "on_change_or_time")],
)
def test_racing_workers_leave_each_deal_with_what_its_newest_version_deserves(
    pipedrive: Integration, seed: int, revoke: str
) -> None:
    assert connection.vendor == "postgresql"
    rng = random.Random(seed)
    step = won_deals(pipedrive, revoke=revoke)
    players_create()
    history = {deal_id: history_random(rng, deal_id, count=12) for deal_id in (201, 202)}
    # Every version delivered once or twice (same meta.id), roughly in order, as a source sends
    # them: a version may overtake up to two or three before it.
    deliveries = [
        (v.seq + rng.uniform(0, 3), v)
        for versions in history.values()
        for v in versions
        for _ in range(rng.randint(1, 2))
    ]
    sent = [v for _, v in sorted(deliveries, key=lambda d: d[0])]
    event_ids = events_store(pipedrive, sent)

    # Each event goes to two of the six workers, and every worker takes its events in the order
    # they were stored: so the two tend to claim an event at the same moment, while the others
    # work on other versions of the same deals.
    shares: list[list[int]] = [[] for _ in range(THREADS)]
    for event_id in event_ids:
        for share in rng.sample(shares, k=2):
            share.append(event_id)
    errors = process_concurrently(shares)

    assert errors == [], errors
    events_done(event_ids)
    events = WebhookEvent.objects.filter(pk__in=event_ids).order_by("id")
    first_deliveries: dict[str, list[bool]] = defaultdict(list)
    for event, version in zip(events, sent, strict=True):
        first_deliveries[version.event_id].append(not is_duplicate(event))
    assert all(flags.count(True) == 1 for flags in first_deliveries.values()), first_deliveries
    ledger_matches(step, {deal_id: deserved(vs[-1]) for deal_id, vs in history.items()})
    for deal_id, versions in history.items():
        state = AwardState.objects.get(step=step, object_id=str(deal_id))
        assert state.applied_version == versions[-1].moment


def test_versions_of_a_new_deal_racing_end_at_the_newest(pipedrive: Integration) -> None:
    """Six versions of a deal nobody has seen yet, one per worker: they race to create its award
    state and to apply; whatever the order, the newest version decides."""
    step = won_deals(pipedrive, revoke="on_change_or_time")
    players_create()
    owners: list[Any] = [1001, "1002", 1003.0, 1001, 9999, "1002"]
    deal_ids = range(501, 511)
    for deal_id in deal_ids:
        versions = [
            DealVersion(deal_id, seq, START + timedelta(minutes=seq), "won", 10 + seq, owner, None)
            for seq, owner in enumerate(owners)
        ]
        event_ids = events_store(pipedrive, versions)

        errors = process_concurrently([[event_id] for event_id in event_ids])

        assert errors == [], errors
        events_done(event_ids)
        assert AwardState.objects.filter(step=step, object_id=str(deal_id)).count() == 1
    ledger_matches(step, {deal_id: ("1002", Decimal(15)) for deal_id in deal_ids})


def test_one_event_claimed_by_six_workers_at_once_is_processed_once(
    pipedrive: Integration,
) -> None:
    step = won_deals(pipedrive)
    players_create()
    for deal_id in range(301, 306):  # five rounds, a new deal each
        version = DealVersion(deal_id, 0, START, "won", 2786.075, 1001, None)
        [event_id] = events_store(pipedrive, [version])

        errors = process_concurrently([[event_id]] * THREADS)

        assert errors == [], errors
        event = WebhookEvent.objects.get(pk=event_id)
        assert event.status == "processed"
        assert [o["result"] for o in event.outcome] == ["booked"]
    award_invariants_check(step)
    assert (
        list(Transaction.objects.values_list("kind", "points"))
        == [("award", Decimal("2786.08"))] * 5
    )


def test_six_duplicate_deliveries_processed_at_once_book_once(pipedrive: Integration) -> None:
    step = won_deals(pipedrive)
    players_create()
    deal_ids = range(401, 406)
    for deal_id in deal_ids:
        version = DealVersion(deal_id, 0, START, "won", 100, "1002", None)
        event_ids = events_store(pipedrive, [version] * THREADS)  # same meta.id six times

        errors = process_concurrently([[event_id] for event_id in event_ids])

        assert errors == [], errors
        assert events_done(event_ids) == {"processed": 1, "ignored": THREADS - 1}
        events = WebhookEvent.objects.filter(pk__in=event_ids)
        assert sum(is_duplicate(e) for e in events) == THREADS - 1
    assert award_invariants_check(step) == {f"deal:{deal_id}": 100 for deal_id in deal_ids}
    assert player_totals(step) == {"1002": 500}


def backend_waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_a_worker_that_waited_for_the_award_lock_revokes_the_award_booked_meanwhile(
    pipedrive: Integration,
) -> None:
    """The race the stress tests above can hit by chance, step by step: worker A holds deal
    601's award state and moves the award from 1001 to 1002; worker B, processing the newer
    change to 1003, waits for that lock meanwhile. After the wait B must see 1002's award and
    revoke it, not book beside it (PostgreSQL re-reads a locked row after a wait, but not rows
    joined to it)."""
    step = won_deals(pipedrive)
    players_create()
    won = DealVersion(601, 0, START, "won", 100, 1001, None)
    to_1002 = replace(won, seq=1, moment=START + timedelta(hours=1), owner=1002)
    to_1003 = replace(won, seq=2, moment=START + timedelta(hours=2), owner=1003)
    first, second, third = events_store_unqueued(pipedrive, [won, to_1002, to_1003])
    apply.event_process(event_id=first)
    errors: list[BaseException] = []
    waiter_pid: list[int] = []

    def worker_b() -> None:
        try:
            connection.ensure_connection()
            waiter_pid.append(connection.connection.info.backend_pid)
            apply.event_process(event_id=third)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    b = threading.Thread(target=worker_b)
    with transaction.atomic():  # worker A
        AwardState.objects.select_for_update().get(step=step, object_id="601")
        b.start()
        deadline = time.monotonic() + 20
        while not (waiter_pid and backend_waits_for_a_lock(waiter_pid[0])):
            assert time.monotonic() < deadline, "worker B never waited for the lock"
            time.sleep(0.01)
        apply.event_process(event_id=second)
    b.join(timeout=30)

    assert errors == [], errors
    assert events_done([first, second, third]) == {"processed": 3}
    assert player_totals(step) == {"1003": 100}
    award_invariants_check(step)
