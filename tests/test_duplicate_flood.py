"""The same deliveries many times, concurrently and shuffled, over real HTTP to a live server,
processed by a real Celery worker: the totals are exact and nothing is booked twice."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.db.models import Sum

from integrations.models import WebhookEvent
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import body, deal_v2
from tests.support import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_duplicate_flood_in_any_order_books_exact_totals(
    live_server: Any, celery_worker: Any, pipedrive: Any
) -> None:
    rng = random.Random(11)
    for n in range(4):
        player_upsert(external_id=f"pd:{2000 + n}", name=f"Seller {n}", email="")
    deliveries, newest = [], {}
    for deal in range(1, 31):
        versions = [
            deal_v2(deal, owner_id=2000 + rng.randrange(4), value=rng.randint(1, 900),
                    status=rng.choice(["won", "won", "lost"]),
                    update_time=f"2024-03-01T1{hour}:00:00Z")
            for hour in range(3)
        ]  # fmt: skip
        newest[deal] = versions[-1]["data"]
        for version in versions:
            deliveries.extend([body(version)] * rng.randint(2, 5))  # the source retries
    rng.shuffle(deliveries)
    url = f"{live_server.url}{pipedrive.webhook_path}"

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(
            lambda b: client.post(url, content=b, headers={"Content-Type": "application/json"})
            .status_code, deliveries))  # fmt: skip

    assert Counter(answers) == {202: len(deliveries)}
    wait_for(
        lambda: not WebhookEvent.objects.filter(status="pending").exists(),
        timeout=120,
        what="the worker to process every delivery",
    )
    assert not WebhookEvent.objects.filter(status="failed").exists()
    expected: Counter[str] = Counter()
    for data in newest.values():
        if data["status"] == "won":
            expected[f"pd:{data['owner_id']}"] += data["value"]
    booked = Transaction.objects.values("player__identities__external_id").annotate(t=Sum("points"))
    totals = {r["player__identities__external_id"]: r["t"] for r in booked if r["t"]}
    assert totals == {k: Decimal(v) for k, v in expected.items() if v}
    per_deal = Transaction.objects.values("source_object").annotate(t=Sum("points"))
    for row in per_deal:
        deal = int(row["source_object"].split(":")[1])
        deserved = newest[deal]["value"] if newest[deal]["status"] == "won" else 0
        assert row["t"] == deserved, row
