"""Filter operators and the value matching rules (DESIGN §4, §9)."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import StepFilter
from integrations.steps import filter_holds, value_matches
from players.services import player_upsert
from scoring.models import Transaction
from tests.pipedrive_payloads import activity_v2


def holds(operator: str, values: list[Any], record: dict[str, Any], field: str = "f") -> bool:
    return filter_holds(StepFilter(field=field, operator=operator, values=values), record)[0]


@pytest.mark.parametrize(
    ("actual", "wanted"),
    [
        ("Won", "won"),
        ("  won ", "WON"),
        (1, "1"),
        ("1", 1.0),
        (100, "100.00"),
        (True, "true"),
        (True, "1"),
        (True, "yes"),
        (False, "no"),
        (1, "true"),
        ("yes", True),
        ([24, 25], "25"),
        ({"id": 12415231, "name": "Ann"}, "12415231"),
    ],
)
def test_values_that_match(actual: Any, wanted: Any) -> None:
    assert value_matches(actual, wanted)


@pytest.mark.parametrize(
    ("actual", "wanted"),
    [("won", "lost"), (1, "2"), (True, "false"), (False, "1"), ("abc", "true"), ([24], "25")],
)
def test_values_that_do_not_match(actual: Any, wanted: Any) -> None:
    assert not value_matches(actual, wanted)


def test_is_one_of_holds_when_any_value_matches() -> None:
    assert holds("in", ["Call", "Follow up call"], {"f": "follow up call"})
    assert not holds("in", ["Call", "Follow up call"], {"f": "Meeting"})


def test_is_not_one_of() -> None:
    assert holds("not_in", ["lost", "deleted"], {"f": "won"})
    assert not holds("not_in", ["lost", "deleted"], {"f": "Lost"})


@pytest.mark.parametrize("empty", [None, "", "  ", [], {}])
def test_is_empty_and_is_not_empty(empty: Any) -> None:
    assert holds("empty", [], {"f": empty})
    assert holds("empty", [], {})  # a missing path is empty
    assert not holds("not_empty", [], {"f": empty})
    assert holds("not_empty", [], {"f": 0})


def test_greater_and_less_than_compare_numbers_and_miss_on_text() -> None:
    assert holds("gt", ["1000"], {"f": "1500.5"})
    assert not holds("gt", ["1000"], {"f": 1000})
    assert holds("lt", [10], {"f": 9.99})
    assert not holds("gt", ["1000"], {"f": "lots"})  # not a number: a miss, not an error
    assert not holds("lt", ["10"], {})


def test_contains_is_case_insensitive_and_checks_list_items() -> None:
    assert holds("contains", ["ACME"], {"f": "Deal with Acme Corp"})
    assert holds("contains", ["vip"], {"f": ["new", "VIP customer"]})
    assert not holds("contains", ["acme"], {"f": "Globex"})


def test_paths_reach_into_nested_records_and_lists() -> None:
    record = {"custom_fields": {"abc": {"value": "Tallinn"}}, "label_ids": [24, 25]}
    assert holds("in", ["tallinn"], record, field="custom_fields.abc.value")
    assert holds("in", ["24"], record, field="label_ids.0")
    assert holds("empty", [], record, field="label_ids.7")


@pytest.mark.django_db
def test_seed_filter_example_done_and_call_types(pipedrive, deliver) -> None:
    """`done` is 1 AND `type` is one of Call, Follow up call (the seed's picture)."""
    player_upsert(external_id="pd:1001", name="Ann", email="")
    step = pipedrive.steps.get(name="Completed calls")
    step.filters.all().delete()
    StepFilter.objects.create(step=step, field="done", values=["1"])
    StepFilter.objects.create(step=step, field="type", values=["Call", "Follow up call"])

    deliver(pipedrive, activity_v2(1, done=True, type="call"))
    deliver(pipedrive, activity_v2(2, done=True, type="follow up call"))
    missed = deliver(pipedrive, activity_v2(3, done=False, type="call"))
    deliver(pipedrive, activity_v2(4, done=True, type="email"))

    assert sorted(Transaction.objects.values_list("source_object", flat=True)) == [
        "activity:1",
        "activity:2",
    ]
    assert missed.status == "ignored"
    assert (
        "Completed calls: filter done is one of [1] failed: value was false"
        in missed.outcome[0]["message"]
    )
