"""Salesforce outbound messages for the tests: the fixture files, and more of the same shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from integrations.models import WebhookEvent
from integrations.services.apply import event_process

HERE = Path(__file__).parent / "fixtures"
ORG = "00D5e000000AbCdEAF"  # the fixtures' organisation
OLGA = "0055e000001QrStAAK"  # the owner in opportunity-won.xml
BOB = "0055e000002BoBbAAK"
OPPORTUNITY = "0065e00000XyZ12AAB"


def fixture(name: str) -> bytes:
    return (HERE / name).read_bytes()


def outbound(*notifications: tuple[str, str, dict[str, str]], organization_id: str = ORG) -> bytes:
    """An outbound message like the fixtures: (notification id, sObject type, fields)."""
    parts = []
    for notification_id, sobject_type, fields in notifications:
        values = "".join(f"<sf:{k}>{escape(v)}</sf:{k}>" for k, v in fields.items())
        parts.append(
            f"<Notification><Id>{notification_id}</Id>"
            f'<sObject xsi:type="sf:{sobject_type}" '
            f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{values}</sObject></Notification>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{organization_id}</OrganizationId>"
        "<ActionId>04k5e0000008XyZAAU</ActionId>" + "".join(parts) + "</notifications>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def opportunity(notification_id: str, **fields: str) -> tuple[str, str, dict[str, str]]:
    """The fixture's won opportunity with some fields changed."""
    record = {
        "Id": OPPORTUNITY, "Amount": "12500.0", "CloseDate": "2026-11-20", "IsWon": "true",
        "LastModifiedDate": "2026-11-20T14:05:11.000Z", "Name": "Acme renewal 2027",
        "OwnerId": OLGA, "StageName": "Closed Won",
    }  # fmt: skip
    return (notification_id, "Opportunity", {**record, **fields})


def acked(response: Any) -> bool:
    """The answer Salesforce needs: 200, text/xml, notificationsResponse/Ack = true."""
    root = ElementTree.fromstring(response.content)  # noqa: S314  (our own answer)
    ack = root.find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/"
        "{http://soap.sforce.com/2005/09/outbound}notificationsResponse/"
        "{http://soap.sforce.com/2005/09/outbound}Ack"
    )
    return (
        response.status_code == 200
        and response["Content-Type"].startswith("text/xml")
        and ack is not None
        and ack.text == "true"
    )


def fault(response: Any) -> str:
    """The faultstring of a SOAP Fault answer."""
    assert response["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314  (our own answer)
    return (
        root.findtext(
            "{http://schemas.xmlsoap.org/soap/envelope/}Body/"
            "{http://schemas.xmlsoap.org/soap/envelope/}Fault/faultstring"
        )
        or ""
    )


def last_event_processed(response: Any) -> WebhookEvent:
    assert acked(response), response.content
    event = event_process(event_id=WebhookEvent.objects.latest("pk").pk)
    assert event is not None
    return event
