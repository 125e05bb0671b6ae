"""Each outbound message splits into its notifications, in order, with the sObject's fields as
sent, the object type from xsi:type, and a version from LastModifiedDate or SystemModstamp."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.models import Integration
from integrations.sources.salesforce.adapter import Adapter
from integrations.sources.salesforce.soap import envelope_parse

from .messages import OLGA, OPPORTUNITY, fixture


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# fixture -> (object type, object id, action, version, dedupe key, ignored) per notification
SPLITS: dict[str, list[tuple[Any, ...]]] = {
    "opportunity-won.xml": [
        ("opportunity", OPPORTUNITY, "changed", at("2026-11-20T14:05:11"),
         "sf:04l5e00000AbCdEAAV:2026-11-20T14:05:11.000Z", ""),
    ],
    "two-notifications.xml": [
        # LastModifiedDate wins over SystemModstamp
        ("task", "00T5e00000Cal01AAB", "changed", at("2026-11-20T14:10:00"),
         "sf:04l5e00000AbCdFAAV:2026-11-20T14:10:00.000Z", ""),
        ("opportunity", "0065e00000XyZ13AAB", "changed", at("2026-11-20T14:11:00"),
         "sf:04l5e00000AbCdGAAV:2026-11-20T14:11:00.000Z", ""),
    ],
    "versions-and-unknown.xml": [
        ("invoice__c", "a015e00000Inv01AAB", "changed", at("2026-11-20T15:00:00"),
         "sf:04l5e00000Inv01AAV:2026-11-20T15:00:00.000Z", ""),
        ("case", "5005e00000Cas01AAB", "changed", None, "sf:04l5e00000Cas01AAV:", ""),
        ("unknown", "?", "changed", None, "sf:04l5e00000Emp01AAV:",
         "notification [2] names no sObject type and Id"),
    ],
    "user-active.xml": [
        ("user", OLGA, "changed", at("2026-11-01T08:00:00"),
         "sf:04l5e00000Usr01AAV:2026-11-01T08:00:00.000Z", ""),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", SPLITS)
def test_each_notification_is_a_change_in_message_order(name: str) -> None:
    payload, problem = envelope_parse(fixture(name))
    assert problem == ""

    changes = Adapter().split(Integration(type="salesforce"), payload)

    assert [
        (c.object_type, c.object_id, c.action, c.version, c.dedupe_key, c.ignored) for c in changes
    ] == SPLITS[name]


def test_the_record_is_the_sobject_fields_as_sent_without_their_prefix() -> None:
    payload, _ = envelope_parse(fixture("opportunity-won.xml"))
    assert payload is not None

    [change] = Adapter().split(Integration(type="salesforce"), payload)

    assert change.current == {
        "Id": OPPORTUNITY, "AccountId": "0015e00000AbC34AAF", "Amount": "12500.0",
        "CloseDate": "2026-11-20", "IsWon": "true",
        "LastModifiedDate": "2026-11-20T14:05:11.000Z", "Name": "Acme renewal 2027",
        "OwnerId": OLGA, "StageName": "Closed Won",
    }  # fmt: skip
    assert payload["organization_id"] == "00D5e000000AbCdEAF"


def test_a_nil_field_is_empty() -> None:
    payload, _ = envelope_parse(fixture("two-notifications.xml"))
    assert payload is not None

    task = Adapter().split(Integration(type="salesforce"), payload)[0]

    assert task.current is not None
    assert task.current["WhatId"] is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"not": "xml"}', "body is not well-formed XML"),
        (b"<a><b></a>", "body is not well-formed XML"),
        (b"<Envelope/>", "body is not a Salesforce outbound message"),
        (b'<?xml version="1.0"?><!DOCTYPE a><a/>', "document type declaration"),
    ],
)
def test_a_body_that_is_not_an_outbound_message_says_why(body: bytes, problem: str) -> None:
    payload, found = envelope_parse(body)

    assert payload is None
    assert problem in found


def test_more_than_100_notifications_are_not_a_salesforce_message() -> None:
    from .messages import opportunity, outbound

    body = outbound(*(opportunity(f"04l{i:015d}") for i in range(101)))

    assert "101 notifications" in envelope_parse(body)[1]
    assert envelope_parse(outbound(*(opportunity(f"04l{i:015d}") for i in range(100))))[1] == ""
