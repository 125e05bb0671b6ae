"""An integration as a JSON file (DESIGN §8): import creates or updates, export prints.

The file is validated whole before anything is written; a file that does not fit is refused with
every problem named, and changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from rest_framework import serializers

from scoring.models import PointType, ScoreSeries

from .models import Integration, IntegrationStep, StepFilter
from .sources.registry import source_choices, source_for

SECRET_MASK = "***"  # noqa: S105  (the mask, not a secret)

CREDENTIAL_KEYS: dict[str, set[str]] = {
    "pipedrive": {"basic_auth_user", "basic_auth_password", "api_token", "api_base_url"},
    "hubspot": {"app_secret", "access_token", "api_base_url"},
    "webhook": {"hmac_secret", "hmac_header"},
    "custom": set(),
}
# Credentials that are secrets: printed as "***" unless --with-secrets.
SECRET_CREDENTIALS = {
    "basic_auth_password",
    "api_token",
    "app_secret",
    "access_token",
    "hmac_secret",
}
PATH_KEYS = {"object_type", "source_type", "object_id", "action", "time", "event_id", "record"}

STEP_TEXT_FIELDS = (
    "source_type",
    "event_type",
    "player_id",
    "player_id_prefix",
    "player_name",
    "player_email",
    "points",
    "point_type",
    "score_id",
    "comment",
    "point_time",
)


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know: a typo in a file must not be silently dropped. Unknown
    keys are reported together with every other problem of the same object."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, dict):
            known = ", ".join(self.fields)
            unknown = {
                k: [f"unknown key; known keys: {known}"] for k in data if k not in self.fields
            }
        try:
            value = super().run_validation(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class FilterFileSerializer(StrictSerializer):
    field = serializers.CharField(max_length=200)
    operator = serializers.ChoiceField(choices=StepFilter.Operator.values, default="in")
    values = serializers.ListField(child=serializers.JSONField(), default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        values = attrs["values"]
        for value in values:
            if isinstance(value, dict | list):
                raise serializers.ValidationError({"values": [f"{value!r} is not a single value"]})
        if attrs["operator"] not in ("empty", "not_empty") and not values:
            raise serializers.ValidationError(
                {"values": [f"operator '{attrs['operator']}' needs at least one value"]}
            )
        return attrs


class StepFileSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=IntegrationStep.Kind.values)
    name = serializers.CharField(max_length=200)
    enabled = serializers.BooleanField(default=True)
    source_type = serializers.CharField(max_length=50)
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
    filters = FilterFileSerializer(many=True, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems: dict[str, list[str]] = {}
        if not attrs["player_id"]:
            problems["player_id"] = ["a step needs the player id column"]
        if attrs["kind"] == "points":
            if not attrs["series"]:
                problems["series"] = ["a points step needs a score series"]
            if attrs["points"] and attrs["point_type"]:
                problems["point_type"] = ["set points or point_type, not both"]
            elif not attrs["points"] and not attrs["point_type"]:
                problems["points"] = ["a points step needs points (a column or a number) "
                                      "or a point type column"]  # fmt: skip
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class PointTypeFileSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    points = serializers.DecimalField(max_digits=12, decimal_places=2)


class SeriesFileSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    point_types = PointTypeFileSerializer(many=True, default=list)


class IntegrationFileSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=20)
    enabled = serializers.BooleanField(default=True)
    webhook_secret = serializers.CharField(max_length=128, required=False)
    credentials = serializers.DictField(default=dict)
    paths = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    series = SeriesFileSerializer(many=True, default=list)
    steps = StepFileSerializer(many=True, required=False)

    def validate_type(self, value: str) -> str:
        known = [t for t, _ in source_choices()]
        if value not in known:
            raise serializers.ValidationError(f'"{value}" is not a valid choice.')
        return value

    def validate_webhook_secret(self, value: str) -> str:
        if value != SECRET_MASK and not re.fullmatch(r"[A-Za-z0-9_\-]{8,128}", value):
            raise serializers.ValidationError(
                f"{value!r} is not URL-safe text of at least 8 characters (A-Z, a-z, 0-9, _ and -)"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems: dict[str, Any] = {}
        allowed = CREDENTIAL_KEYS[attrs["type"]]
        unknown = sorted(set(attrs["credentials"]) - allowed)
        if unknown:
            problems["credentials"] = [
                f"unknown key '{key}' for type {attrs['type']}; known: "
                + (", ".join(sorted(allowed)) or "none")
                for key in unknown
            ]
        source = source_for(attrs["type"])
        refused = source.url_problems(attrs["credentials"]) if source is not None else {}
        for key, problem in refused.items():
            problems[f"credentials.{key}"] = [problem]
        if "paths" in attrs:
            if attrs["type"] != "webhook":
                problems["paths"] = ["only integrations of type 'webhook' have paths"]
            else:
                bad = sorted(set(attrs["paths"]) - PATH_KEYS)
                if bad:
                    problems["paths"] = [f"unknown key '{k}'" for k in bad]
        steps = attrs.get("steps") or []
        seen: set[str] = set()
        for index, step in enumerate(steps):
            if step["name"] in seen:
                problems[f"steps[{index}].name"] = [f"step name '{step['name']}' is used twice"]
            seen.add(step["name"])
        # A point type column needs a series with point types (from the file or the database).
        typed = {s["name"].lower() for s in attrs["series"] if s["point_types"]}
        for index, step in enumerate(steps):
            if step["kind"] == "points" and step["point_type"] and step["series"]:
                name = step["series"]
                if (
                    name.lower() not in typed
                    and not PointType.objects.filter(series__name__iexact=name).exists()
                ):
                    problems[f"steps[{index}].point_type"] = [
                        f"series '{name}' has no point types to match the column against"
                    ]
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


def _problems(errors: Any, prefix: str = "") -> list[str]:
    """Flatten DRF's nested errors into lines like `steps[1].revoke: "x" is not a valid choice.`"""
    lines: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int):  # DRF reports list items by index
                name = f"{prefix}[{key}]"
            elif prefix and not str(key).startswith("steps["):
                name = f"{prefix}.{key}"
            else:
                name = str(key)
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


def integration_validate(*, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(["the file must hold one JSON object (an integration)"])
    serializer = IntegrationFileSerializer(data=data)
    if not serializer.is_valid():
        raise ConfigError(_problems(serializer.errors))
    return dict(serializer.validated_data)


def series_get_or_create(*, name: str) -> ScoreSeries:
    series = ScoreSeries.objects.filter(name__iexact=name).first()
    return series or ScoreSeries.objects.create(name=name)


@transaction.atomic
def integration_import(*, data: Any) -> tuple[Integration, bool]:
    """Create or update (matched by name) an integration from a file's data. Returns
    (integration, created). Raises ConfigError naming every problem, changing nothing."""
    attrs = integration_validate(data=data)
    integration = Integration.objects.filter(name=attrs["name"]).first()
    created = integration is None
    if integration is None:
        integration = Integration(name=attrs["name"])
    elif integration.type != attrs["type"]:
        raise ConfigError([f"type: integration '{integration.name}' is {integration.type}, "
                           f"not {attrs['type']}; types cannot change"])  # fmt: skip
    integration.type = attrs["type"]
    integration.enabled = attrs["enabled"]
    secret = attrs.get("webhook_secret")
    if secret and secret != SECRET_MASK:
        if Integration.objects.filter(webhook_secret=secret).exclude(pk=integration.pk).exists():
            raise ConfigError(["webhook_secret: another integration already uses this secret"])
        integration.webhook_secret = secret
    credentials = dict(integration.credentials or {})
    for key, value in attrs["credentials"].items():
        if value != SECRET_MASK:  # "***" keeps the stored value
            credentials[key] = value
    if "paths" in attrs:
        credentials["paths"] = dict(attrs["paths"])
    integration.credentials = credentials
    integration.save()

    steps = attrs.get("steps")
    series_list = attrs["series"]
    if steps is None and created:
        defaults = _defaults(integration.type)
        steps = defaults["steps"]
        series_list = series_list or defaults["series"]
    named = []
    for series_data in series_list:
        series = series_get_or_create(name=series_data["name"])
        named.append(series)
        for pt in series_data["point_types"]:
            existing = series.point_types.filter(name__iexact=pt["name"]).first()
            if existing is None:
                PointType.objects.create(series=series, name=pt["name"], points=pt["points"])
            elif existing.points != pt["points"]:
                existing.points = pt["points"]
                existing.save(update_fields=["points"])
    if steps is not None:
        _steps_apply(integration, steps)
    step_series = ScoreSeries.objects.filter(steps__integration=integration, steps__enabled=True)
    integration.series.set({*named, *step_series})
    return integration, created


def _defaults(integration_type: str) -> dict[str, Any]:
    """The type's default series and steps (DESIGN §5), validated like a file's."""
    from .sources import default_config

    defaults = default_config(integration_type) or {"series": [], "steps": []}
    return {
        "series": SeriesFileSerializer(many=True).run_validation(defaults["series"]),
        "steps": StepFileSerializer(many=True).run_validation(defaults["steps"]),
    }


@transaction.atomic
def integration_defaults_apply(*, integration: Integration) -> None:
    """Give an integration without steps its type's default series and steps."""
    defaults = _defaults(integration.type)
    for series_data in defaults["series"]:
        integration.series.add(series_get_or_create(name=series_data["name"]))
    _steps_apply(integration, defaults["steps"])
    integration.series.add(*ScoreSeries.objects.filter(steps__integration=integration))


def _steps_apply(integration: Integration, steps: list[dict[str, Any]]) -> None:
    """Exactly the file's steps: matched by name; missing ones disabled, never deleted (the ledger
    refers to them)."""
    kept = []
    for order, data in enumerate(steps):
        step = integration.steps.filter(name=data["name"]).first() or IntegrationStep(
            integration=integration, name=data["name"]
        )
        step.kind = data["kind"]
        step.order = order
        step.enabled = data["enabled"]
        for name in STEP_TEXT_FIELDS:
            setattr(step, name, data[name])
        step.tags = list(data["tags"])
        step.create_tags = data["create_tags"]
        step.revoke = data["revoke"]
        step.series = series_get_or_create(name=data["series"]) if data["series"] else None
        step.save()
        step.filters.all().delete()
        StepFilter.objects.bulk_create(
            StepFilter(step=step, field=f["field"], operator=f["operator"], values=f["values"])
            for f in data["filters"]
        )
        kept.append(step.pk)
    integration.steps.exclude(pk__in=kept).update(enabled=False)


def integration_export(*, integration: Integration, with_secrets: bool = False) -> dict[str, Any]:
    def secret(key: str, value: Any) -> Any:
        return value if with_secrets or key not in SECRET_CREDENTIALS else SECRET_MASK

    credentials = {
        k: secret(k, v) for k, v in sorted(integration.credentials.items()) if k != "paths"
    }
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
        "webhook_secret": integration.webhook_secret if with_secrets else SECRET_MASK,
        "credentials": credentials,
    }
    if integration.type == "webhook":
        data["paths"] = dict(integration.credentials.get("paths") or {})
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
