"""Filters: the values each operator needs, checked and written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from integrations.models import IntegrationStep, StepFilter
from integrations.values import as_number

from .problems import ConfigurationInvalid, shown

Operator = StepFilter.Operator
NO_VALUES = (Operator.EMPTY, Operator.NOT_EMPTY)
ONE_NUMBER = (Operator.GT, Operator.LT)


def filter_problems(*, field: Any, operator: Any, values: Any) -> dict[str, str]:
    """What is wrong with a filter, by field: "greater than" takes one number, "is empty" no
    value, the others at least one; each value is one piece of text, a number or true/false."""
    problems: dict[str, str] = {}
    if not isinstance(field, str) or not field.strip():
        problems["field"] = (
            "A filter needs the field it checks: a path into the record, e.g. status."
        )
    if operator not in Operator.values:
        known = ", ".join(Operator.values)
        problems["operator"] = f"The operator {shown(operator)} is not one of {known}."
        return problems
    name = Operator(operator).label
    if not isinstance(values, list | tuple):
        problems["values"] = f"Values are a list, not {type(values).__name__} {shown(values)}."
        return problems
    listed = ", ".join(shown(v) for v in values)
    not_single = [v for v in values if v is None or isinstance(v, dict | list)]
    blank = [v for v in values if isinstance(v, str) and not v.strip()]
    if not_single:
        problems["values"] = (
            f"The value {shown(not_single[0])} is not a single value (text, a number or "
            "true/false)."
        )
    elif operator in NO_VALUES:
        if values:
            problems["values"] = f"Operator '{name}' takes no values (given {listed})."
    elif operator in ONE_NUMBER:
        if len(values) != 1:
            given = f" ({listed})" if values else ""
            problems["values"] = (
                f"Operator '{name}' takes exactly one value, not {len(values)}{given}."
            )
        elif as_number(values[0]) is None:
            problems["values"] = (
                f"Operator '{name}' compares numbers: {shown(values[0])} is not a number."
            )
    elif not values:
        problems["values"] = f"Operator '{name}' needs at least one value."
    elif blank:
        problems["values"] = (
            f"Operator '{name}' got a blank value: to match an empty field use 'is empty'."
        )
    return problems


def _save(step_filter: StepFilter) -> StepFilter:
    problems = filter_problems(
        field=step_filter.field, operator=step_filter.operator, values=step_filter.values
    )
    if problems:
        raise ConfigurationInvalid(problems)
    step_filter.save()
    return step_filter


@transaction.atomic
def filter_create(
    *, step: IntegrationStep, field: str, operator: str = Operator.IN, values: Sequence[Any] = ()
) -> StepFilter:
    """A new filter of `step`. Raises ConfigurationInvalid naming every problem."""
    return _save(StepFilter(step=step, field=field, operator=operator, values=list(values)))


@transaction.atomic
def filter_update(
    *,
    step_filter: StepFilter,
    field: str | None = None,
    operator: str | None = None,
    values: Sequence[Any] | None = None,
) -> StepFilter:
    """Change what is given (None: unchanged). Raises ConfigurationInvalid naming every
    problem."""
    if field is not None:
        step_filter.field = field
    if operator is not None:
        step_filter.operator = operator
    if values is not None:
        step_filter.values = list(values)
    return _save(step_filter)
