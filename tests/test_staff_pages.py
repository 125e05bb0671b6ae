"""Staff pages: a player's profile and the leaderboards (login required, no JavaScript)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from players.models import Player
from players.services import player_upsert
from scoring.models import ScoreSeries, Tag, Transaction
from scoring.selectors import leaderboard, period_bounds
from scoring.services import totals_rebuild, transaction_book, transaction_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(db: None) -> ScoreSeries:
    return ScoreSeries.objects.create(name="Deals")


def book(
    player: Player, series: ScoreSeries, points: Any, when: datetime, **kw: Any
) -> Transaction:
    return transaction_book(
        player=player, series=series, points=Decimal(points), point_time=when, **kw
    )


def test_pages_need_a_staff_login(client: Client, deals: ScoreSeries) -> None:
    ann = player_upsert(external_id="pd:1", name="Ann", email="").player
    User.objects.create_user("player", password="pw")
    urls = [
        reverse("players:profile", args=[ann.pk]),
        reverse("scoring:leaderboard", args=[deals.pk]),
        reverse("scoring:leaderboards"),
    ]

    for url in urls:
        assert "/admin/login/" in client.get(url)["Location"]
    client.login(username="player", password="pw")
    for url in urls:
        assert "/admin/login/" in client.get(url)["Location"]


def test_profile_shows_totals_chart_and_history_with_revokes(
    admin_client: Client, deals: ScoreSeries
) -> None:
    ann = player_upsert(external_id="pd:1", name="Ann", email="ann@example.com").player
    calls = ScoreSeries.objects.create(name="Calls")
    now = timezone.now()
    old = book(ann, deals, "100", now - timedelta(days=400), comment="Old deal")
    revoke = transaction_revoke(original=old)
    book(ann, deals, "250.50", now, comment="ACME")
    book(ann, calls, "1", now)

    text = admin_client.get(reverse("players:profile", args=[ann.pk])).content.decode()

    assert "pd:1" in text and "ann@example.com" in text
    assert f'<a href="/leaderboards/{deals.pk}/">Deals</a>' in text  # totals link to leaderboards
    assert '<td class="num">250.50</td><td class="num">250.50</td>' in text  # month, all time
    assert "<svg" in text and text.count("<polyline") == 2
    assert f'class="num neg">-100.00 <span class="muted">(revokes <a href="#t{old.pk}">' in text
    assert f'id="t{revoke.pk}"' in text
    assert "ACME" in text


def test_history_is_paginated(admin_client: Client, deals: ScoreSeries) -> None:
    ann = player_upsert(external_id="pd:1", name="Ann", email="").player
    start = datetime(2024, 1, 1, tzinfo=UTC)
    Transaction.objects.bulk_create(
        Transaction(player=ann, series=deals, points=1, point_time=start + timedelta(hours=i))
        for i in range(120)
    )

    page3 = admin_client.get(
        reverse("players:profile", args=[ann.pk]), {"page": 3}
    ).content.decode()
    bad = admin_client.get(reverse("players:profile", args=[ann.pk]), {"page": "-1"})

    assert "page 3 of 3" in page3
    assert page3.count('<tr id="t') == 20
    assert bad.status_code == 200  # an impossible page shows the last one


def test_leaderboard_ranks_ties_together_and_filters(
    admin_client: Client, deals: ScoreSeries
) -> None:
    ann, bob, cid, dee = (
        player_upsert(external_id=f"pd:{i}", name=n, email="").player
        for i, n in enumerate(("Ann", "Bob", "Cid", "Dee"))
    )
    vip = Tag.objects.create(name="VIP")
    now = timezone.now()
    book(ann, deals, 300, now)
    book(bob, deals, 200, now, tags=[vip])
    book(cid, deals, 200, now)
    book(dee, deals, 100, now - timedelta(days=800))

    month = admin_client.get(reverse("scoring:leaderboard", args=[deals.pk])).content.decode()
    all_time = leaderboard(series=deals)
    tagged = leaderboard(series=deals, tag="vip")

    assert [(r.rank, r.name, r.points) for r in all_time] == [
        (1, "Ann", 300), (2, "Bob", 200), (2, "Cid", 200), (4, "Dee", 100),
    ]  # fmt: skip
    assert "Dee" not in month and "this month" in month
    assert [r.name for r in tagged] == ["Bob"]


def test_leaderboard_periods_and_custom_range(admin_client: Client, deals: ScoreSeries) -> None:
    ann = player_upsert(external_id="pd:1", name="Ann", email="").player
    book(ann, deals, 5, datetime(2024, 3, 10, 12, tzinfo=UTC))
    book(ann, deals, 7, datetime(2024, 3, 20, 12, tzinfo=UTC))
    url = reverse("scoring:leaderboard", args=[deals.pk])

    ranged = admin_client.get(
        url, {"period": "custom", "since": "2024-03-01", "until": "2024-03-10"}
    )
    wrong = admin_client.get(
        url, {"period": "custom", "since": "2024-03-10", "until": "2024-03-01"}
    )
    garbled = admin_client.get(url, {"period": "custom", "since": "March"})

    assert '<td class="num">5.00</td>' in ranged.content.decode()  # the 10th counts, whole day
    assert "until 2024-03-01 is before since 2024-03-10" in wrong.content.decode()
    assert "Enter a valid date." in garbled.content.decode()


def test_a_board_shows_the_top_hundred_and_links_to_everyone(
    admin_client: Client, deals: ScoreSeries
) -> None:
    now = timezone.now()
    for n, player in enumerate(
        Player.objects.bulk_create(Player(name=f"P{n:03}") for n in range(105))
    ):
        book(player, deals, n + 1, now)
    url = reverse("scoring:leaderboard", args=[deals.pk])

    top = admin_client.get(url).content.decode()
    everyone = admin_client.get(url, {"period": "month", "all": "1"}).content.decode()
    few = admin_client.get(url, {"period": "all", "tag": "none"}).content.decode()

    assert top.count('<tr><td class="num">') == 100
    assert ">P104</a>" in top and ">P004</a>" not in top
    assert 'href="?all=1">Show all players</a>' in top
    assert everyone.count('<tr><td class="num">') == 105 and "Show all players" not in everyone
    assert "Show all players" not in few


def test_period_bounds_follow_the_site_time_zone(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Stockholm"
    timezone.activate("Europe/Stockholm")
    try:
        now = datetime(2024, 3, 13, 23, 30, tzinfo=UTC)  # Thursday 14th, 00:30 in Stockholm
        today, _ = period_bounds("today", now)
        week, _ = period_bounds("week", now)
        month, next_month = period_bounds("month", now)
    finally:
        timezone.deactivate()

    assert today and week and month and next_month
    assert today.isoformat() == "2024-03-14T00:00:00+01:00"
    assert week.isoformat() == "2024-03-11T00:00:00+01:00"
    assert (month.isoformat(), next_month.isoformat()) == (
        "2024-03-01T00:00:00+01:00", "2024-04-01T00:00:00+02:00"
    )  # fmt: skip


def test_pages_with_ten_thousand_transactions_take_under_25_queries(
    admin_client: Client, deals: ScoreSeries, django_assert_max_num_queries: Any
) -> None:
    rng = random.Random(7)
    ann = player_upsert(external_id="pd:1", name="Ann", email="").player
    others = [
        player_upsert(external_id=f"pd:{i}", name=f"P{i}", email="").player for i in range(2, 30)
    ]
    calls = ScoreSeries.objects.create(name="Calls")
    tags = [Tag.objects.create(name=f"t{i}") for i in range(5)]
    now = timezone.now()
    rows = Transaction.objects.bulk_create(
        Transaction(player=ann if i % 3 else rng.choice(others), series=rng.choice([deals, calls]),
                    points=rng.randint(-5, 50), point_time=now - timedelta(hours=i),
                    comment=f"deal {i}")
        for i in range(15_000)
    )  # fmt: skip
    Through = Transaction.tags.through
    Through.objects.bulk_create(
        Through(transaction_id=row.pk, tag_id=tags[row.pk % 5].pk) for row in rows[::2]
    )
    assert Transaction.objects.filter(player=ann).count() == 10_000
    totals_rebuild()  # bulk rows bypass the booking service that keeps the daily totals

    with django_assert_max_num_queries(24):
        profile = admin_client.get(reverse("players:profile", args=[ann.pk]))
    with django_assert_max_num_queries(24):
        board = admin_client.get(reverse("scoring:leaderboard", args=[deals.pk]), {"period": "all"})

    assert profile.status_code == board.status_code == 200
    assert "page 1 of 200" in profile.content.decode()
    assert ">Ann</a>" in board.content.decode()
