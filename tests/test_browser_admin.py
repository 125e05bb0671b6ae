"""An admin's whole day in headless Chromium: log in, create a Pipedrive integration, customise
a step with its gear wheel, test it on a fixture, post that fixture, follow the event to the
booked transaction, and invite the player, whose emailed link sets a password.

Debian's Chromium, driven by Playwright (no browser download). Each test saves a screenshot of
its last page under var/screenshots/ (the run prints the folder)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connections
from playwright.sync_api import expect

from players.models import Player
from players.services import player_upsert
from scoring.models import Transaction
from tests.plugin import SCREENSHOTS
from tests.support import fixture_bytes

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is missing: make test installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself
    # are ordinary synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(15_000)
        try:
            yield tab
        finally:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
            browser.close()
            # Code inside sync_playwright runs in a greenlet with its own context, hence its
            # own database connection: close it, or the test database cannot be dropped.
            connections.close_all()


def test_admin_configures_tests_receives_and_invites(
    page: Any, live_server: Any, celery_worker: Any
) -> None:
    User.objects.create_superuser("boss", "boss@example.com", "Adm1n-pass-for-tests")
    player_upsert(external_id="pd:12415231", name="Ann Seller", email="ann@example.com")
    base = live_server.url

    # Log in.
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "Adm1n-pass-for-tests")
    page.click("input[type=submit]")
    expect(page.get_by_text("Pointagram integrations", exact=False).first).to_be_visible()

    # Create a Pipedrive integration: it comes with its default steps.
    page.goto(f"{base}/admin/integrations/integration/add/")
    page.fill("#id_name", "Pipedrive (sales)")
    page.select_option("#id_type", "pipedrive")
    page.click("input[name=_continue]")
    expect(
        page.get_by_text("Added the 4 default steps of this type.", exact=False).first
    ).to_be_visible()
    webhook_url = page.input_value("input.webhook-url")
    assert re.fullmatch(rf"{re.escape(base)}/hooks/[\w-]{{40,}}/", webhook_url)

    # Open "Won deals" with its gear wheel; add a filter with two values; change revoke.
    page.click("tr:has(input[value='Won deals']) >> text=⚙ customise")
    expect(page.locator("h2:has-text('Revoke settings')").first).to_be_visible()
    page.click("text=Add another filter")
    row = page.locator("tr.dynamic-filters").last
    row.locator("input[name$='-field']").fill("currency")
    row.locator("select[name$='-operator']").select_option("in")
    row.locator("textarea[name$='-values']").fill("EUR\nUSD")
    page.check("input[name=revoke][value=on_change_or_time]")
    page.click("input[name=_continue]")
    expect(page.get_by_text("was changed successfully", exact=False).first).to_be_visible()
    values = page.locator("tr.dynamic-filters textarea[name$='-values']")
    assert values.last.input_value() == "EUR\nUSD"

    # The test console on the fixture: each filter's verdict, and what would be booked.
    page.click("text=Test this step on a sample")
    fixture = fixture_bytes("pipedrive/v2-deal-won.json").decode()
    page.fill("#id_sample", fixture)
    page.click("input[value=Test]")
    verdict = page.inner_text("#verdict")
    assert "status is one of won" in verdict and "currency is one of EUR, USD" in verdict
    assert "fails" not in verdict
    assert "award +100 to Ann Seller in Deals" in verdict
    assert not Transaction.objects.exists()  # the console booked nothing

    # The source posts the same fixture; a real worker processes it.
    response = httpx.post(
        webhook_url, content=fixture, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202
    event_id = response.json()["event_id"]

    # Find the event, its outcome, and the booked transaction.
    for _ in range(100):
        page.goto(f"{base}/admin/integrations/webhookevent/{event_id}/change/")
        if "booked +100 to Ann Seller (pd:12415231)" in page.inner_text("body"):
            break
        page.wait_for_timeout(200)
    expect(
        page.get_by_text("Won deals: booked +100 to Ann Seller (pd:12415231)", exact=False).first
    ).to_be_visible()
    page.click(".field-booked a")
    expect(page.get_by_text("Ann Seller", exact=False).first).to_be_visible()
    assert "100.00" in page.inner_text(".field-points")

    # Invite the player; the emailed link sets a password and makes them active.
    page.goto(f"{base}/admin/players/player/?q=Ann")
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "invite")
    page.click("button[name=index]")
    expect(
        page.get_by_text("Invited Ann Seller (ann@example.com).", exact=False).first
    ).to_be_visible()
    [email] = mail.outbox
    link = re.search(r"https?://\S+/players/invite/\S+/", str(email.body))
    assert link, email.body
    page.goto(link.group(0))
    page.fill("#id_new_password1", "Sunny-meadow-42")
    page.fill("#id_new_password2", "Sunny-meadow-42")
    page.click("button[type=submit]")
    expect(page.get_by_text("you are an active player now", exact=False).first).to_be_visible()
    assert Player.objects.get(email="ann@example.com").status == "active"


def test_staff_open_a_profile_and_a_leaderboard(page: Any, live_server: Any) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from scoring.models import ScoreSeries
    from scoring.services import transaction_book, transaction_revoke

    User.objects.create_user("staff", password="Staff-pass-for-tests", is_staff=True)
    deals = ScoreSeries.objects.create(name="Deals")
    calls = ScoreSeries.objects.create(name="Calls")
    ann = player_upsert(external_id="pd:1", name="Ann Seller", email="ann@example.com").player
    bob = player_upsert(external_id="pd:2", name="Bob Closer", email="").player
    now = timezone.now()
    for day in range(30):
        transaction_book(player=ann, series=deals, points=Decimal(10 + day),
                         point_time=now - timedelta(days=day), comment=f"Deal {day}")  # fmt: skip
        transaction_book(
            player=ann, series=calls, points=Decimal(1), point_time=now - timedelta(days=day)
        )
    first = transaction_book(player=bob, series=deals, points=Decimal(400), point_time=now)
    transaction_revoke(original=first)
    transaction_book(player=bob, series=deals, points=Decimal(300), point_time=now)

    page.goto(f"{live_server.url}/leaderboards/{deals.pk}/?period=all")
    page.fill("#id_username", "staff")  # staff pages send visitors to the login first
    page.fill("#id_password", "Staff-pass-for-tests")
    page.click("input[type=submit]")
    board = page.locator("#leaderboard")
    expect(board).to_contain_text("Ann Seller")
    assert board.locator("tr").nth(1).inner_text().split("\t")[:2] == ["1", "Ann Seller"]
    page.screenshot(path=str(SCREENSHOTS / "leaderboard.png"), full_page=True)

    page.click("text=Ann Seller")
    expect(page.locator("h1")).to_have_text("Ann Seller")
    expect(page.locator("#chart polyline")).to_have_count(2)
    expect(page.locator("#history")).to_contain_text("Deal 0")
    page.screenshot(path=str(SCREENSHOTS / "profile.png"), full_page=True)

    page.goto(f"{live_server.url}/players/{bob.pk}/")
    expect(page.locator("#history")).to_contain_text("-400.00")
    connections.close_all()
