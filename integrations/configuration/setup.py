"""A setup in the import file's shape (DESIGN §8: series, and steps with their filters), checked
and applied as a whole: an import file's steps, and a type's default setup (sources/*/defaults)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from integrations.models import Integration, IntegrationStep
from integrations.sources.registry import Source
from scoring.models import PointType, ScoreSeries

from .problems import prefixed
from .step import STEP_FIELDS, SeriesPlan, StepFields, step_create, step_problems, step_update
from .step_filter import filter_create, filter_problems


def series_named(*, name: str) -> ScoreSeries:
    """The series of that name (case-insensitively), created when missing."""
    series = ScoreSeries.objects.filter(name__iexact=name).first()
    return series or ScoreSeries.objects.create(name=name)


def _step_changes(data: Mapping[str, Any], series: Any) -> StepFields:
    changes: dict[str, Any] = {k: data[k] for k in STEP_FIELDS if k in data and k != "series"}
    changes["kind"] = data["kind"]
    changes["series"] = series
    if "tags" in changes:
        changes["tags"] = list(changes["tags"])
    return changes  # type: ignore[return-value]


def setup_problems(
    *,
    source: Source | None,
    integration: Integration | None,
    series: Sequence[Mapping[str, Any]],
    steps: Sequence[Mapping[str, Any] | None],
) -> dict[str, str]:
    """Every problem of a setup's steps and filters, keyed like `steps[1].points` and
    `steps[0].filters[2].values`. A step or filter given as None (its shape was refused) is
    skipped. Steps are matched by name with the integration's (None: a new integration)."""
    typed = {s["name"].lower() for s in series if s.get("point_types")}
    existing = {s.name: s for s in integration.steps.all()} if integration is not None else {}
    problems: dict[str, str] = {}
    names: set[str] = set()
    for index, data in enumerate(steps):
        if data is None:
            continue
        where = f"steps[{index}]"
        name = data.get("name", "")
        if name in names:
            problems[f"{where}.name"] = f"The step name {name!r} is used twice."
        names.add(name)
        series_name = data.get("series") or ""
        plan = None
        if series_name:
            has_types = series_name.lower() in typed or (
                PointType.objects.filter(series__name__iexact=series_name).exists()
            )
            plan = SeriesPlan(series_name, has_types)
        found = step_problems(
            changes=_step_changes(data, plan), source=source, step=existing.get(name)
        )
        problems.update(prefixed(found, where))
        for number, flt in enumerate(data.get("filters") or []):
            if flt is None:
                continue
            found = filter_problems(
                field=flt.get("field", ""),
                operator=flt.get("operator", "in"),
                values=flt.get("values", []),
            )
            problems.update(prefixed(found, f"{where}.filters[{number}]"))
    return problems


@transaction.atomic
def setup_apply(
    *,
    integration: Integration,
    series: Sequence[Mapping[str, Any]],
    steps: Sequence[Mapping[str, Any]] | None,
) -> list[ScoreSeries]:
    """Create the series (and point types) named, then exactly the steps given, matched by
    name: steps not given are disabled, never deleted (the ledger refers to them); None leaves
    the steps alone. Returns the series named. Raises ConfigurationInvalid."""
    named = []
    for series_data in series:
        found = series_named(name=series_data["name"])
        named.append(found)
        for pt in series_data.get("point_types") or []:
            existing = found.point_types.filter(name__iexact=pt["name"]).first()
            if existing is None:
                PointType.objects.create(series=found, name=pt["name"], points=pt["points"])
            elif existing.points != pt["points"]:
                existing.points = pt["points"]
                existing.save(update_fields=["points"])
    if steps is None:
        return named
    kept = []
    for order, data in enumerate(steps):
        series_name = data.get("series") or ""
        changes = _step_changes(data, series_named(name=series_name) if series_name else None)
        changes["order"] = order
        step: IntegrationStep | None = integration.steps.filter(name=data["name"]).first()
        if step is None:
            step = step_create(integration=integration, **changes)
        else:
            step = step_update(step=step, **changes)
            step.filters.all().delete()
        for flt in data.get("filters") or []:
            filter_create(
                step=step,
                field=flt["field"],
                operator=flt.get("operator", "in"),
                values=flt.get("values", []),
            )
        kept.append(step.pk)
    integration.steps.exclude(pk__in=kept).update(enabled=False)
    return named


@transaction.atomic
def integration_defaults_apply(*, integration: Integration) -> int:
    """Give an integration its type's default series and steps; returns how many steps."""
    source = integration.source
    defaults = source.defaults if source is not None else None
    if not defaults:
        return 0
    named = setup_apply(
        integration=integration, series=defaults.get("series", []), steps=defaults["steps"]
    )
    used = ScoreSeries.objects.filter(steps__integration=integration)
    integration.series.add(*named, *used)
    return len(defaults["steps"])
