"""An integration as a JSON file (DESIGN §8): import creates or updates, export prints.

The file is the third door to the configuration services: its serializers check the shape of
each object (the keys it may have, their types), the services check what they mean. The file is
checked whole before anything is written; a file that does not fit is refused with every problem
named (`steps[1].points: …`), and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from rest_framework import serializers

from scoring.models import ScoreSeries

from .configuration import (
    ConfigurationInvalid,
    credentials_shown,
    filters_unseen,
    integration_create,
    integration_problems,
    integration_update,
    paths_shown,
    setup_apply,
    setup_problems,
)
from .models import Integration, IntegrationStep, StepFilter
from .sources.registry import source_for


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# Shape only: the keys each object may have and the types of their values. Lists of objects
# are checked item by item (so one bad step does not hide the problems of the others).


class FilterFileSerializer(serializers.Serializer):
    field = serializers.CharField(max_length=200, default="", allow_blank=True)
    operator = serializers.ChoiceField(choices=StepFilter.Operator.values, default="in")
    values = serializers.ListField(child=serializers.JSONField(), default=list)


class StepFileSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IntegrationStep.Kind.values)
    name = serializers.CharField(max_length=200)
    enabled = serializers.BooleanField(default=True)
    source_type = serializers.CharField(max_length=50, default="", allow_blank=True)
    event_type = serializers.ChoiceField(
        choices=IntegrationStep.EventType.values, default="", allow_blank=True
    )
    player_id = serializers.CharField(max_length=200, default="", allow_blank=True)
    player_id_prefix = serializers.CharField(max_length=50, default="", allow_blank=True)
    player_name = serializers.CharField(max_length=200, default="", allow_blank=True)
    player_email = serializers.CharField(max_length=200, default="", allow_blank=True)
    series = serializers.CharField(max_length=200, default="", allow_blank=True)
    points = serializers.CharField(max_length=200, default="", allow_blank=True)
    point_type = serializers.CharField(max_length=200, default="", allow_blank=True)
    score_id = serializers.CharField(max_length=200, default="", allow_blank=True)
    comment = serializers.CharField(max_length=200, default="", allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=200), default=list)
    create_tags = serializers.BooleanField(default=True)
    point_time = serializers.CharField(max_length=200, default="", allow_blank=True)
    revoke = serializers.ChoiceField(choices=IntegrationStep.Revoke.values, default="on_change")
    filters = serializers.ListField(child=serializers.JSONField(), default=list)


class PointTypeFileSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    points = serializers.DecimalField(max_digits=12, decimal_places=2)


class SeriesFileSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    point_types = serializers.ListField(child=serializers.JSONField(), default=list)


class IntegrationFileSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=20)
    enabled = serializers.BooleanField(default=True)
    webhook_secret = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    credentials = serializers.DictField(default=dict)
    paths = serializers.DictField(required=False)
    series = serializers.ListField(child=serializers.JSONField(), default=list)
    steps = serializers.ListField(child=serializers.JSONField(), required=False)


def _problems(errors: Any, prefix: str = "") -> list[str]:
    """Flatten DRF's nested errors into lines like `steps[1].revoke: "x" is not a valid choice.`"""
    lines: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int):  # DRF reports list items by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            lines.extend(_problems(value, name))
    elif isinstance(errors, list):
        if all(isinstance(e, str) for e in errors):
            lines.extend(f"{prefix}: {e}" if prefix else str(e) for e in errors)
        else:
            for index, value in enumerate(errors):
                if value:
                    lines.extend(_problems(value, f"{prefix}[{index}]"))
    else:
        lines.append(f"{prefix}: {errors}" if prefix else str(errors))
    return lines


def _shaped(
    serializer_class: type[serializers.Serializer], data: Any, where: str, lines: list[str]
) -> dict[str, Any] | None:
    """The object's values when its shape fits, else None; its problems are added to `lines`.
    A key the object may not have is a problem too: a typo must not be silently dropped."""
    if isinstance(data, dict):
        known = serializer_class().fields
        for key in data:
            if key not in known:
                name = f"{where}.{key}" if where else str(key)
                lines.append(f"{name}: unknown key; known keys: {', '.join(known)}")
        data = {k: v for k, v in data.items() if k in known}
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    lines.extend(_problems(serializer.errors, where))
    return None


def _items(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


@dataclass
class ValidFile:
    integration: dict[str, Any]
    series: list[dict[str, Any]]
    steps: list[dict[str, Any]] | None  # None: the file has no `steps` key


def integration_validate(*, data: Any) -> ValidFile:
    """The file's values, or ConfigError naming every problem of shape and of meaning."""
    if not isinstance(data, dict):
        raise ConfigError(["the file must hold one JSON object (an integration)"])
    lines: list[str] = []
    top = _shaped(IntegrationFileSerializer, data, "", lines)
    series = []
    for index, item in enumerate(_items(data, "series")):
        found = _shaped(SeriesFileSerializer, item, f"series[{index}]", lines)
        if found is not None:
            types = [
                _shaped(PointTypeFileSerializer, pt, f"series[{index}].point_types[{n}]", lines)
                for n, pt in enumerate(found["point_types"])
            ]
            series.append({**found, "point_types": [t for t in types if t is not None]})
    steps: list[dict[str, Any] | None] = []
    for index, item in enumerate(_items(data, "steps")):
        step = _shaped(StepFileSerializer, item, f"steps[{index}]", lines)
        filters = [
            _shaped(FilterFileSerializer, flt, f"steps[{index}].filters[{n}]", lines)
            for n, flt in enumerate(_items(item, "filters"))
        ]
        if step is not None:
            step["filters"] = filters
        steps.append(step)

    # Meaning, for every object whose shape fits: the configuration services' checks.
    name, type_ = data.get("name"), data.get("type")
    existing = Integration.objects.filter(name=name).first() if isinstance(name, str) else None
    problems: dict[str, str] = {}
    if top is not None:
        found = integration_problems(
            name=top["name"], type=top["type"], webhook_secret=top.get("webhook_secret"),
            credentials=top["credentials"], paths=top.get("paths"), integration=existing,
        )  # fmt: skip
        problems.update(found)
    source = source_for(type_) if isinstance(type_, str) else None
    problems.update(setup_problems(source=source, integration=existing, series=series, steps=steps))
    lines.extend(f"{key}: {message}" for key, message in problems.items())
    if lines or top is None:
        raise ConfigError(lines)
    return ValidFile(
        integration=top,
        series=series,
        steps=[s for s in steps if s is not None] if "steps" in data else None,
    )


@dataclass
class ImportReport:
    integration: Integration
    created: bool
    warnings: list[str] = field(default_factory=list)  # lines like `steps[1].filters[0].field: …`


@transaction.atomic
def integration_import_report(*, data: Any) -> ImportReport:
    """Create or update (matched by name) an integration from a file's data. Raises ConfigError
    naming every problem, changing nothing. Warns of filters on fields that no recent delivery
    had."""
    valid = integration_validate(data=data)
    top = valid.integration
    integration = Integration.objects.filter(name=top["name"]).first()
    created = integration is None
    try:
        if integration is None:
            # No `steps` key: a new integration gets its type's default setup.
            integration = integration_create(
                name=top["name"], type=top["type"], enabled=top["enabled"],
                webhook_secret=top.get("webhook_secret"), credentials=top["credentials"],
                paths=top.get("paths"), default_setup=valid.steps is None,
            )  # fmt: skip
        else:
            integration_update(
                integration=integration, type=top["type"], enabled=top["enabled"],
                webhook_secret=top.get("webhook_secret"), credentials=top["credentials"],
                paths=top.get("paths"),
            )  # fmt: skip
        named = setup_apply(integration=integration, series=valid.series, steps=valid.steps)
    except ConfigurationInvalid as exc:  # checked above; a concurrent change can still differ
        raise ConfigError([f"{k}: {v}" for k, v in exc.problems.items()]) from None
    used = ScoreSeries.objects.filter(steps__integration=integration, steps__enabled=True)
    integration.series.set({*named, *used})
    return ImportReport(integration, created, _warnings(integration, valid.steps))


def _warnings(integration: Integration, steps: list[dict[str, Any]] | None) -> list[str]:
    lines = []
    for index, data in enumerate(steps or []):
        step = integration.steps.get(name=data["name"])
        fields = [f["field"] for f in data["filters"]]
        unseen = filters_unseen(step=step, fields=fields)
        for number, flt in enumerate(data["filters"]):
            if flt["field"] in unseen:
                lines.append(f"steps[{index}].filters[{number}].field: {unseen[flt['field']]}")
    return lines


def integration_import(*, data: Any) -> tuple[Integration, bool]:
    """integration_import_report's integration and whether it was created."""
    report = integration_import_report(data=data)
    return report.integration, report.created


def integration_export(*, integration: Integration, with_secrets: bool = False) -> dict[str, Any]:
    steps = list(
        integration.steps.select_related("series").prefetch_related("filters").order_by("order")
    )
    series_ids = {s.series_id for s in steps if s.series_id}
    series_ids.update(integration.series.values_list("pk", flat=True))
    series = (
        ScoreSeries.objects.filter(pk__in=series_ids).order_by("pk").prefetch_related("point_types")
    )
    data: dict[str, Any] = {
        "name": integration.name,
        "type": integration.type,
        "enabled": integration.enabled,
        "webhook_secret": integration.webhook_secret if with_secrets else "***",
        "credentials": credentials_shown(integration=integration, with_secrets=with_secrets),
    }
    paths = paths_shown(integration=integration)
    if paths is not None:
        data["paths"] = paths
    data["series"] = [
        {"name": s.name}
        | (
            {"point_types": [{"name": p.name, "points": float(p.points)} for p in pts]}
            if (pts := list(s.point_types.all()))
            else {}
        )
        for s in series
    ]
    data["steps"] = [_step_export(step) for step in steps]
    return data


def _step_export(step: IntegrationStep) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": step.kind,
        "name": step.name,
        "enabled": step.enabled,
        "source_type": step.source_type,
        "event_type": step.event_type,
    }
    if step.kind == IntegrationStep.Kind.POINTS:
        data["series"] = step.series.name if step.series else ""
        data["points"] = step.points
        data["point_type"] = step.point_type
        data["score_id"] = step.score_id
    for name in ("player_id", "player_id_prefix", "player_name", "player_email"):
        data[name] = getattr(step, name)
    if step.kind == IntegrationStep.Kind.POINTS:
        data["comment"] = step.comment
        data["tags"] = list(step.tags)
        data["create_tags"] = step.create_tags
        data["point_time"] = step.point_time
        data["revoke"] = step.revoke
    data["filters"] = [
        {"field": f.field, "operator": f.operator, "values": list(f.values)}
        for f in step.filters.all()
    ]
    return data
