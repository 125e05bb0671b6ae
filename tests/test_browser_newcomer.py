"""The pages a newcomer meets, in headless Chromium at a laptop's and a phone's size: at
1366x900 no admin page is wider than the window (issue 14); each screen is saved at both sizes
under var/screenshots/newcomer-*.png."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from integrations.config_file import integration_import
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import deal_v2
from tests.plugin import SCREENSHOTS
from tests.support import fixture_json

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

RIGHT_EDGES = "els => els.map(e => e.getBoundingClientRect().right)"
LOOKED_FOR = {  # per screen and size, what must be inside the window
    ("integration", "1366"): ("td.field-customise a",),
    ("integration", "390"): ("td.field-customise a",),  # the seed's gear wheel, on a phone too
    ("events", "1366"): ("th.column-short_error",),
    ("ledger", "1366"): ("th.column-source_object",),
    ("integrations", "1366"): ("input.webhook-url + button",),
}
SIZES = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def browser(chromium_browser: Any) -> Any:
    return chromium_browser


def test_every_page_of_the_newcomer_path_fits_the_window(
    browser: Any, live_server: Any, deliver: Any
) -> None:
    User.objects.create_superuser("boss", "boss@example.com", "Adm1n-pass-for-tests")
    integration, _ = integration_import(data={"name": "Pipedrive (sales)", "type": "pipedrive"})
    ann = player_upsert(external_id="pd:12415231", name="Ann Seller", email="").player
    v1 = deliver(integration, fixture_json("pipedrive/v1-deal-updated-won.json"))
    deliver(integration, deal_v2(124, owner_id=12415231, title="A deal " + "long title " * 20))
    deliver(integration, deal_v2(125, owner_id=999, value="not a number " * 20))
    step = integration.steps.get(name="Won deals")
    transaction = Transaction.objects.order_by("id").first()
    assert transaction is not None
    base = live_server.url
    screens = {
        "index": "/admin/",
        "integrations": "/admin/integrations/integration/",
        "integration": f"/admin/integrations/integration/{integration.pk}/change/",
        "step": f"/admin/integrations/integrationstep/{step.pk}/change/",
        "console": f"/admin/integrations/integrationstep/{step.pk}/test/",
        "events": "/admin/integrations/webhookevent/",
        "event": f"/admin/integrations/webhookevent/{v1.pk}/change/",
        "ledger": "/admin/scoring/transaction/",
        "transaction": f"/admin/scoring/transaction/{transaction.pk}/change/",
        "player": f"/admin/players/player/{ann.pk}/change/",
    }
    too_wide: list[Any] = []
    off_screen: list[Any] = []
    for size, viewport in SIZES.items():
        page = browser.new_page(viewport=viewport)
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", "Adm1n-pass-for-tests")
        page.click("input[type=submit]")
        for name, url in screens.items():
            page.goto(base + url)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"newcomer-{name}-{size}.png"), full_page=True)
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if size == "1366" and width[0] > width[1]:
                too_wide.append((name, width))
            # What the newcomer looks for is on screen, not scrolled away inside a table.
            for selector in LOOKED_FOR.get((name, size), ()):
                for box in page.eval_on_selector_all(selector, RIGHT_EDGES):
                    if box > viewport["width"]:
                        off_screen.append((name, size, selector, box))
        page.close()

    assert too_wide == []
    assert off_screen == []
