"""Configuration in the REST API: integrations, steps and filters, validated as in the admin."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from pointagram_site.api import WRITE_PERMISSION, ProtectedDestroyMixin

from .config_file import (
    CREDENTIAL_KEYS,
    SECRET_CREDENTIALS,
    SECRET_MASK,
    integration_defaults_apply,
)
from .models import Integration, IntegrationStep, StepFilter
from .sources.registry import source_for
from .steps import step_config_problems


class IntegrationSerializer(serializers.ModelSerializer):
    webhook_path = serializers.CharField(read_only=True)
    steps: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    credentials = serializers.DictField(
        required=False,
        help_text='Per-type credentials; secrets read back as "***", and "***" keeps the '
        "stored value.",
    )

    class Meta:
        model = Integration
        fields = ("id", "name", "type", "enabled", "webhook_path", "credentials", "steps",
                  "created_at", "updated_at")  # fmt: skip
        read_only_fields = ("created_at", "updated_at")

    def to_representation(self, instance: Integration) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["credentials"] = {
            k: (SECRET_MASK if k in SECRET_CREDENTIALS and v else v)
            for k, v in (instance.credentials or {}).items()
        }
        request = self.context.get("request")
        if request is None or not request.user.has_perm(WRITE_PERMISSION):
            data["webhook_path"] = f"/hooks/{SECRET_MASK}/"  # the URL is the secret
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("type") or (self.instance.type if self.instance else "")
        if self.instance is not None and "type" in attrs and attrs["type"] != self.instance.type:
            raise serializers.ValidationError({"type": ["an integration's type cannot change"]})
        credentials = attrs.get("credentials")
        if credentials is not None:
            allowed = CREDENTIAL_KEYS.get(kind, set()) | ({"paths"} if kind == "webhook" else set())
            unknown = sorted(set(credentials) - allowed)
            if unknown:
                raise serializers.ValidationError(
                    {"credentials": [f"unknown key {k!r} for type {kind}; known: "
                                     f"{', '.join(sorted(allowed)) or 'none'}" for k in unknown]}
                )  # fmt: skip
            stored = self.instance.credentials if self.instance else {}
            attrs["credentials"] = {
                k: (stored.get(k, "") if v == SECRET_MASK else v) for k, v in credentials.items()
            }
            source = source_for(kind)
            refused = source.url_problems(attrs["credentials"]) if source is not None else {}
            if refused:
                raise serializers.ValidationError(
                    {"credentials": {key: [problem] for key, problem in refused.items()}}
                )
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Integration:
        integration = super().create(validated_data)
        integration_defaults_apply(integration=integration)  # ready to use, editable
        return integration


class IntegrationViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = IntegrationSerializer

    def get_queryset(self) -> QuerySet[Integration]:
        return Integration.objects.prefetch_related("steps").order_by("name", "id")


class FilterSerializer(serializers.ModelSerializer):
    values = serializers.ListField(child=serializers.CharField(allow_blank=False), required=False)

    class Meta:
        model = StepFilter
        fields = ("id", "step", "field", "operator", "values")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        operator = attrs.get("operator") or (self.instance.operator if self.instance else "in")
        values = attrs.get("values", self.instance.values if self.instance else [])
        if operator not in ("empty", "not_empty") and not values:
            raise serializers.ValidationError(
                {"values": [f"operator {operator!r} needs at least one value"]}
            )
        return attrs


class StepSerializer(serializers.ModelSerializer):
    filters = FilterSerializer(many=True, read_only=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = IntegrationStep
        fields = (
            "id", "integration", "kind", "name", "order", "enabled", "source_type", "event_type",
            "series", "player_id", "player_id_prefix", "player_name", "player_email", "points",
            "point_type", "score_id", "comment", "tags", "create_tags", "point_time", "revoke",
            "filters",
        )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def current(name: str) -> Any:
            if name in attrs:
                return attrs[name]
            return getattr(self.instance, name) if self.instance else ""

        problems = step_config_problems(
            kind=current("kind"),
            series=current("series") or None,
            points=current("points") or "",
            point_type=current("point_type") or "",
            player_id=current("player_id") or "",
        )
        if problems:
            raise serializers.ValidationError({k: [v] for k, v in problems.items()})
        return attrs


class StepViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = StepSerializer
    filterset_fields = ("integration", "kind", "enabled")

    def get_queryset(self) -> QuerySet[IntegrationStep]:
        return IntegrationStep.objects.prefetch_related("filters").order_by(
            "integration", "order", "id"
        )


class FilterViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = FilterSerializer
    filterset_fields = ("step",)
    queryset = StepFilter.objects.order_by("step", "id")
