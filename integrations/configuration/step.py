"""Steps: what a users step and a points step need so the engine can run them, checked and
written. The step's kind decides its fields: a users step has no points fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import capfirst

from integrations.models import Integration, IntegrationStep
from integrations.sources.registry import Source
from integrations.steps import MAX_POINTS
from integrations.values import as_number
from scoring.models import ScoreSeries

from .problems import ConfigurationInvalid, shown

Kind = IntegrationStep.Kind

# What a step of either kind has.
COMMON_FIELDS = ("name", "order", "enabled", "source_type", "event_type")
# What a users step reads from a record (the seed's users step has exactly these).
USERS_FIELDS = (*COMMON_FIELDS, "player_id", "player_id_prefix", "player_name", "player_email")
# Points steps only, with the value a users step leaves them at.
POINTS_ONLY: dict[str, Any] = {
    "series": None,
    "points": "",
    "point_type": "",
    "score_id": "",
    "comment": "",
    "tags": [],
    "create_tags": True,
    "point_time": "",
    "revoke": IntegrationStep.Revoke.ON_CHANGE.value,
}
STEP_FIELDS = (*USERS_FIELDS, *POINTS_ONLY)


class StepFields(TypedDict, total=False):
    kind: str
    name: str
    order: int
    enabled: bool
    source_type: str
    event_type: str
    player_id: str
    player_id_prefix: str
    player_name: str
    player_email: str
    series: ScoreSeries | SeriesPlan | None
    points: str
    point_type: str
    score_id: str
    comment: str
    tags: list[str]
    create_tags: bool
    point_time: str
    revoke: str


@dataclass(frozen=True)
class SeriesPlan:
    """A series an import file names, which may not exist yet (the file creates it)."""

    name: str
    has_point_types: bool


def fields_of_kind(kind: str) -> tuple[str, ...]:
    """The fields a step of this kind has (the admin shows and takes only these)."""
    return USERS_FIELDS if kind == Kind.USERS else STEP_FIELDS


def label(field: str) -> str:
    return str(capfirst(getattr(IntegrationStep._meta.get_field(field), "verbose_name", field)))


def step_values(step: IntegrationStep) -> dict[str, Any]:
    """A step's fields as a mapping (an unsaved step gives the defaults)."""
    values = {name: getattr(step, name) for name in STEP_FIELDS}
    values["kind"] = step.kind
    values["tags"] = list(step.tags or [])
    return values


def step_problems(
    *,
    changes: Mapping[str, Any],
    source: Source | None,
    integration: Integration | None = None,
    step: IntegrationStep | None = None,
) -> dict[str, str]:
    """What keeps a step from running, by field, once `changes` are applied to `step` (None:
    a new step). `integration`: checks the name is free there (files match steps by name and
    check that themselves). Points fields given to a users step are refused."""
    values = {**step_values(step if step is not None else IntegrationStep()), **changes}
    problems: dict[str, str] = {}
    kind = values["kind"]
    if kind not in Kind.values:
        problems["kind"] = f"The kind {shown(kind)} is neither users nor points."
    elif step is not None and step.pk and kind != step.kind:
        problems["kind"] = (
            f"Step {step.name!r} is a {step.kind} step: a step's kind cannot change "
            "(add a new step instead)."
        )
    if source is not None and source.api_only:
        problems["integration"] = (
            f"{source.label} integrations take no deliveries: a step of theirs would never run."
        )
    name = values["name"] or ""
    if not name.strip():
        problems["name"] = "A step needs a name."
    elif integration is not None and integration.pk:
        others = IntegrationStep.objects.filter(integration=integration, name=name)
        if step is not None and step.pk:
            others = others.exclude(pk=step.pk)
        if others.exists():
            problems["name"] = (
                f"Integration {integration.name!r} already has a step named {name!r}."
            )
    if not (values["source_type"] or "").strip():
        problems["source_type"] = (
            "Source type is required: the type of object the step listens to, e.g. deal or user."
        )
    if not (values["player_id"] or "").strip():
        problems["player_id"] = "Player id in source is required: the column with the user's id."
    if kind == Kind.USERS:
        problems.update(_points_fields_given(changes))
    elif kind == Kind.POINTS:
        problems.update(_points_problems(values))
    return problems


def _points_fields_given(changes: Mapping[str, Any]) -> dict[str, str]:
    problems = {}
    for name, default in POINTS_ONLY.items():
        value = changes.get(name, default)
        if (list(value) if isinstance(value, list | tuple) else value) == default:
            continue
        kept = "blank" if default in ("", None, []) else f"at {shown(default)}"
        problems[name] = (
            f"{label(name)} is for points steps only: a users step leaves it {kept} "
            f"(given {shown(value)})."
        )
    return problems


def _points_problems(values: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    series = values["series"]
    points = (values["points"] or "").strip()
    point_type = (values["point_type"] or "").strip()
    if series is None:
        problems["series"] = "Add points to score series is required for a points step."
    if points and point_type:
        problems["point_type"] = (
            f"Points column in source ({points!r}) and point type column in source "
            f"({point_type!r}) are both set: set one, not both."
        )
    elif not points and not point_type:
        problems["points"] = (
            "Points column in source is required for a points step: a column or a fixed "
            "number (or a point type column in source instead)."
        )
    elif points:
        fixed = as_number(points)
        if fixed is not None and abs(fixed) >= MAX_POINTS:
            problems["points"] = (
                f"Points column in source {points!r} is a fixed number larger than the ledger "
                "can hold."
            )
    elif series is not None and not _has_point_types(series):
        problems["point_type"] = (
            f"Point type column in source {point_type!r} is matched to the point types of "
            f"series {series.name!r}, and that series has no point types: add point types to "
            "the series, or use a points column."
        )
    return problems


def _has_point_types(series: ScoreSeries | SeriesPlan) -> bool:
    if isinstance(series, SeriesPlan):
        return series.has_point_types
    return series.point_types.exists()


def _save(step: IntegrationStep, values: Mapping[str, Any]) -> None:
    for name in ("kind", *STEP_FIELDS):
        if name in values:
            setattr(step, name, values[name])
    if step.kind == Kind.USERS:
        # Points fields mean nothing on a users step: none is kept (older rows may hold some).
        for name, default in POINTS_ONLY.items():
            setattr(step, name, list(default) if isinstance(default, list) else default)
    try:
        # Shape as the model declares it (choices, lengths), for callers that skip a door.
        step.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ConfigurationInvalid(
            {key: " ".join(messages) for key, messages in exc.message_dict.items()}
        ) from None
    step.save()


@transaction.atomic
def step_create(*, integration: Integration, **fields: Unpack[StepFields]) -> IntegrationStep:
    """A new step of `integration`. Raises ConfigurationInvalid naming every problem."""
    problems = step_problems(changes=fields, source=integration.source, integration=integration)
    if problems:
        raise ConfigurationInvalid(problems)
    step = IntegrationStep(integration=integration)
    _save(step, fields)
    return step


@transaction.atomic
def step_update(*, step: IntegrationStep, **fields: Unpack[StepFields]) -> IntegrationStep:
    """Change what is given of a step as stored. Raises ConfigurationInvalid naming every
    problem (its kind and its integration stay what they are)."""
    integration = step.integration
    problems = step_problems(
        changes=fields, source=integration.source, integration=integration, step=step
    )
    if problems:
        raise ConfigurationInvalid(problems)
    _save(step, fields)
    return step
