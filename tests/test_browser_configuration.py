"""The configuration pages in headless Chromium: a step added on the integration page without
what it needs is refused naming the fields; credentials are fields, and a secret stays set when
left blank; a users step's page has the users fields only. Each test saves screenshots at
1366x900 and 390x844 under var/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from integrations.models import Integration, IntegrationStep
from tests.plugin import SCREENSHOTS

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

SIZES = {"1366": (1366, 900), "390": (390, 844)}


@pytest.fixture
def page(chromium_browser: Any) -> Any:
    tab = chromium_browser.new_page(viewport={"width": 1366, "height": 900})
    tab.set_default_timeout(15_000)
    return tab


def shoot(page: Any, name: str) -> None:
    """The page as it is, at a laptop's and a phone's size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def log_in(page: Any, base: str) -> None:
    User.objects.create_superuser("boss", "boss@example.com", "Adm1n-pass-for-tests")
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "Adm1n-pass-for-tests")
    page.click("input[type=submit]")
    expect(page.get_by_text("Pointagram integrations", exact=False).first).to_be_visible()


def test_a_step_added_on_the_integration_page_without_what_it_needs_is_refused_naming_them(
    page: Any, live_server: Any, pipedrive: Integration
) -> None:
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/integrations/integration/{pipedrive.pk}/change/")

    page.click("text=Add another Integration step")
    row = page.locator("tr.dynamic-steps").last
    row.locator("input[name$='-name']").fill("Big deals")
    row.locator("select[name$='-kind']").select_option("points")
    row.locator("input[name$='-source_type']").fill("deal")
    page.click("input[name=_continue]")

    errors = page.locator("#steps-group tr.row-form-errors").last  # above the row, full width
    expect(page.locator(".errornote")).to_be_visible()
    expect(errors).to_contain_text("Add points to score series is required for a points step.")
    expect(errors).to_contain_text("Points column in source is required for a points step")
    expect(errors).to_contain_text("Player id in source is required")
    assert not IntegrationStep.objects.filter(name="Big deals").exists()
    shoot(page, "integration-step-inline-refused")


def test_credentials_are_fields_and_a_secret_stays_set_when_left_blank(
    page: Any, live_server: Any
) -> None:
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/integrations/integration/add/")

    page.select_option("#id_type", "webhook")  # its paths, with an example delivery
    expect(page.locator("#id_webhook__path__object_id")).to_be_visible()
    expect(page.locator("#id_pipedrive__basic_auth_user")).to_be_hidden()
    expect(page.get_by_text('"event": "deal.updated"', exact=False)).to_be_visible()
    shoot(page, "integration-add-webhook-paths")
    page.select_option("#id_type", "pipedrive")
    expect(page.locator("#id_webhook__path__object_id")).to_be_hidden()
    page.fill("#id_name", "Pipedrive (sales)")
    page.fill("#id_pipedrive__basic_auth_user", "pd")
    page.fill("#id_pipedrive__basic_auth_password", "s3cret-pw")
    page.click("input[name=_continue]")
    expect(page.get_by_text("Added the 4 default steps", exact=False).first).to_be_visible()

    password = page.locator("#id_pipedrive__basic_auth_password")
    assert password.input_value() == ""  # a secret is never shown back
    status = page.locator(".field-pipedrive__basic_auth_password .secret-status")
    expect(status).to_have_text("set")
    page.fill("#id_pipedrive__basic_auth_user", "pd2")
    page.click("input[name=_continue]")
    expect(page.get_by_text("was changed successfully", exact=False).first).to_be_visible()
    expect(status).to_have_text("set")
    integration = Integration.objects.get(name="Pipedrive (sales)")
    assert integration.credentials == {"basic_auth_user": "pd2", "basic_auth_password": "s3cret-pw"}
    shoot(page, "integration-credentials-fields")

    page.check("#id_pipedrive__basic_auth_password__clear")
    page.fill("#id_pipedrive__basic_auth_user", "")
    page.click("input[name=_continue]")
    expect(status).to_have_text("not set")
    integration.refresh_from_db()
    assert integration.credentials == {}


def test_a_users_step_page_shows_only_the_users_fields(
    page: Any, live_server: Any, pipedrive: Integration
) -> None:
    users = pipedrive.steps.get(kind="users")
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/integrations/integrationstep/{users.pk}/change/")

    expect(page.locator("h2", has_text="Mappings")).to_be_visible()
    expect(page.locator("h2", has_text="Webhook settings")).to_be_visible()
    for field in ("player_id", "player_id_prefix", "player_name", "player_email"):
        expect(page.locator(f"#id_{field}")).to_be_visible()
    for field in ("series", "points", "point_type", "score_id", "comment", "point_time", "tags"):
        assert page.locator(f"#id_{field}").count() == 0, field
    assert page.locator("h2", has_text="Revoke settings").count() == 0
    assert page.locator("h2", has_text="Tag column(s) in source").count() == 0
    shoot(page, "users-step-page")


def test_adding_a_step_the_chosen_kind_shows_its_fields(
    page: Any, live_server: Any, pipedrive: Integration
) -> None:
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/integrations/integration/{pipedrive.pk}/change/")

    page.click("text=Add a step with all its settings")
    page.select_option("#id_kind", "users")
    for field in ("series", "points", "point_type", "tags", "revoke"):
        expect(page.locator(f".field-{field}").first).to_be_hidden()
    expect(page.locator("#id_player_email")).to_be_visible()
    page.select_option("#id_kind", "points")
    expect(page.locator("#id_series")).to_be_visible()
    page.select_option("#id_kind", "users")
    page.fill("#id_name", "People")
    page.fill("#id_source_type", "person")
    page.fill("#id_player_id", "id")
    page.fill("#id_player_name", "name")
    shoot(page, "step-add-users")
    page.click("input[name=_save]")

    expect(page.get_by_text("was added successfully", exact=False).first).to_be_visible()
    people = pipedrive.steps.get(name="People")
    assert (people.kind, people.integration, people.player_name) == ("users", pipedrive, "name")
