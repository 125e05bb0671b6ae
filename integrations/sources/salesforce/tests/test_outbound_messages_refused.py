"""What is refused: a message from another organisation (401, nothing stored), and XML that
tries entity expansion or external entities (refused at its DTD: nothing expanded, no file
read)."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import Integration, WebhookEvent
from integrations.sources.salesforce import SOURCE
from integrations.sources.salesforce.adapter import same_organization
from integrations.sources.salesforce.soap import envelope_parse

from .messages import ORG, acked, fault, fixture, opportunity, outbound

pytestmark = pytest.mark.django_db


def test_a_message_from_another_organisation_is_refused_and_not_stored(
    salesforce: Integration, post: Any
) -> None:
    response = post(salesforce, outbound(opportunity("04l5e00000Frn01AAV"),
                                         organization_id="00D000000000001AAA"))  # fmt: skip

    assert response.status_code == 401
    assert "OrganizationId '00D000000000001AAA' is not this integration's" in fault(response)
    assert not WebhookEvent.objects.exists()


def test_a_message_without_an_organisation_is_refused(salesforce: Integration, post: Any) -> None:
    response = post(salesforce, outbound(opportunity("04l5e00000Non01AAV"), organization_id=""))

    assert response.status_code == 401
    assert "carries no OrganizationId" in fault(response)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("configured", "given", "same"),
    [
        (ORG, ORG, True),
        (ORG[:15], ORG, True),  # the 15-character form an admin may paste
        (ORG, ORG[:15], True),
        (ORG.lower(), ORG, True),  # 18 characters carry their case: compared ignoring it
        (ORG[:15].lower(), ORG, False),  # 15 characters are case-sensitive
        ("00D5e000000AbCe", ORG, False),
        ("", ORG, False),
    ],
)
def test_organisation_ids_compare_in_their_15_and_18_character_forms(
    configured: str, given: str, same: bool
) -> None:
    assert same_organization(configured, given) is same


def test_the_15_character_organisation_id_accepts_the_message(
    salesforce: Integration, post: Any
) -> None:
    salesforce.credentials = {"organization_id": ORG[:15]}
    salesforce.save()

    assert acked(post(salesforce, fixture("opportunity-won.xml")))


def test_without_an_organisation_id_any_message_is_accepted(
    salesforce: Integration, post: Any
) -> None:
    salesforce.credentials = {}
    salesforce.save()

    response = post(salesforce, outbound(opportunity("04l5e00000Any01AAV"),
                                         organization_id="00D000000000001AAA"))  # fmt: skip

    assert acked(response)


MALICIOUS = ["billion-laughs.xml", "external-entity.xml"]


@pytest.mark.parametrize("name", MALICIOUS)
def test_xml_with_a_dtd_is_refused_before_any_entity_is_read(name: str) -> None:
    payload, problem = envelope_parse(fixture(name))

    assert payload is None
    assert "document type declaration" in problem
    assert "lol" not in problem and "root:" not in problem


@pytest.mark.parametrize("name", MALICIOUS)
def test_malicious_xml_is_refused_unstored_when_the_organisation_is_checked(
    salesforce: Integration, post: Any, name: str
) -> None:
    response = post(salesforce, fixture(name))

    assert response.status_code == 401
    assert "cannot read the message's OrganizationId" in fault(response)
    assert b"lollol" not in response.content and b"root:" not in response.content
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("name", MALICIOUS)
def test_malicious_xml_is_stored_failed_and_never_processed_without_an_organisation_id(
    salesforce: Integration, post: Any, name: str
) -> None:
    from integrations.services.apply import event_process

    salesforce.credentials = {}
    salesforce.save()

    response = post(salesforce, fixture(name))

    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == ("failed", 0)
    assert "document type declaration" in event.error
    assert "lollol" not in event.error and "root:" not in event.error
    assert event_process(event_id=event.pk).status == "failed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"organization_id": "abc"}, "is not a Salesforce organization id"),
        ({"organization_id": "00D5e000000AbCdEAF1"}, "longer than 18"),
        ({"instance_url": "acme.my.salesforce.com"}, "not an http(s) URL"),
        ({"client_id": "3MVG9"}, "set Client secret too"),
        ({"client_secret": "s3cret"}, "set Client ID too"),
        ({"api_base_url": "https://x"}, "unknown credential 'api_base_url'"),
    ],
)
def test_credentials_are_checked_with_the_field_named(values: dict[str, str], problem: str) -> None:
    problems = SOURCE.credentials_problems(values)

    assert any(problem in p for p in problems.values()), problems


def test_the_documented_credentials_are_valid() -> None:
    assert SOURCE.credentials_problems({
        "organization_id": ORG, "instance_url": "https://acme.my.salesforce.com",
        "access_token": "00D5e!AQ0AQ", "client_id": "3MVG9", "client_secret": "s3cret",
    }) == {}  # fmt: skip
    assert SOURCE.secret_keys == {"access_token", "client_secret"}
