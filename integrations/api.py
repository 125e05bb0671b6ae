"""Configuration in the REST API: integrations, steps and filters. The serializers check the
shape of a request; the configuration services check what it means and write it, so the API
accepts what the admin and import files accept, with the same messages ({field: [message]})."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from pointagram_site.api import WRITE_PERMISSION, ProtectedDestroyMixin

from .configuration import (
    SECRET_MASK,
    ConfigurationInvalid,
    credentials_shown,
    filter_create,
    filter_update,
    filters_unseen,
    integration_create,
    integration_update,
    paths_shown,
    step_create,
    step_update,
)
from .models import Integration, IntegrationStep, StepFilter

T = TypeVar("T")


def api_errors(problems: Mapping[str, str]) -> dict[str, Any]:
    """The services' problems as DRF reports errors: `credentials.api_token` nests under
    `credentials`, like a DictField's own errors."""
    errors: dict[str, Any] = {}
    for key, message in problems.items():
        head, _, rest = key.partition(".")
        if rest and head in ("credentials", "paths"):
            errors.setdefault(head, {})[rest] = [message]
        else:
            errors[key] = [message]
    return errors


def _service(call: Callable[..., T], **kwargs: Any) -> T:
    try:
        return call(**kwargs)
    except ConfigurationInvalid as exc:
        raise serializers.ValidationError(api_errors(exc.problems)) from None


# --- integrations -------------------------------------------------------------------------------


class IntegrationSerializer(serializers.ModelSerializer):
    # Shape only: the configuration services check names, types, secrets and credentials.
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    type = serializers.CharField(max_length=20, required=False, allow_blank=True)
    webhook_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The secret part of the webhook URL (URL-safe, 8 to 128 characters). Not "
        'given: generated for a new integration, kept for an existing one; "***" keeps it.',
    )
    webhook_path = serializers.CharField(read_only=True)
    steps: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    credentials = serializers.DictField(
        required=False,
        help_text="The type's credential fields (see the admin's integration page). Secrets read "
        'back as "***"; given, "***" keeps the stored value, "" clears one, and a key not '
        "given keeps its value. Unknown keys are refused.",
    )
    paths = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="Generic webhooks: where each event holds its object type, id, action, time, "
        "event id and record (as in an import file). null for types without paths.",
    )

    class Meta:
        model = Integration
        fields = ("id", "name", "type", "enabled", "webhook_secret", "webhook_path",
                  "credentials", "paths", "steps", "created_at", "updated_at")  # fmt: skip
        read_only_fields = ("created_at", "updated_at")

    def to_representation(self, instance: Integration) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["credentials"] = credentials_shown(integration=instance)
        data["paths"] = paths_shown(integration=instance)
        request = self.context.get("request")
        if request is None or not request.user.has_perm(WRITE_PERMISSION):
            data["webhook_path"] = f"/hooks/{SECRET_MASK}/"  # the URL is the secret
        return data


class IntegrationViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = IntegrationSerializer

    def get_queryset(self) -> QuerySet[Integration]:
        return Integration.objects.prefetch_related("steps").order_by("name", "id")

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = _service(
            integration_create,
            name=data.get("name", ""),
            type=data.get("type", ""),
            enabled=data.get("enabled", True),
            webhook_secret=data.get("webhook_secret"),
            credentials=data.get("credentials", {}),
            paths=data.get("paths"),
        )

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = _service(
            integration_update,
            integration=serializer.instance,
            **{key: data.get(key) for key in ("name", "type", "enabled", "webhook_secret",
                                              "credentials", "paths")},
        )  # fmt: skip


# --- filters ------------------------------------------------------------------------------------


class FilterSerializer(serializers.ModelSerializer):
    field = serializers.CharField(max_length=200, required=False, allow_blank=True)
    values = serializers.ListField(child=serializers.JSONField(), required=False)
    warnings = serializers.SerializerMethodField(
        help_text="After a write: a filter on a field that no recent delivery of the step's "
        "source type had is saved, with a warning naming the fields seen."
    )

    class Meta:
        model = StepFilter
        fields = ("id", "step", "field", "operator", "values", "warnings")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            self.fields["step"].read_only = True  # a filter stays with its step

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, obj: StepFilter) -> list[str]:
        return list(getattr(obj, "warnings", []))


class FilterViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = FilterSerializer
    filterset_fields = ("step",)
    queryset = StepFilter.objects.order_by("step", "id")

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        step_filter = _service(
            filter_create,
            step=data["step"],
            field=data.get("field", ""),
            operator=data.get("operator", StepFilter.Operator.IN),
            values=data.get("values", []),
        )
        serializer.instance = _warned(step_filter)

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        step_filter = _service(
            filter_update,
            step_filter=serializer.instance,
            **{key: data.get(key) for key in ("field", "operator", "values")},
        )
        serializer.instance = _warned(step_filter)


def _warned(step_filter: StepFilter) -> StepFilter:
    unseen = filters_unseen(step=step_filter.step, fields=[step_filter.field])
    step_filter.warnings = list(unseen.values())  # type: ignore[attr-defined]
    return step_filter


# --- steps --------------------------------------------------------------------------------------


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
        # Shape only: the configuration services check names (unique per integration), the
        # fields a kind needs and the fields it may not have.
        extra_kwargs = {
            "name": {"required": False, "allow_blank": True},
            "source_type": {"required": False, "allow_blank": True},
        }
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | QuerySet):
            self.fields["integration"].read_only = True  # a step stays with its integration


class StepViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = StepSerializer
    filterset_fields = ("integration", "kind", "enabled")

    def get_queryset(self) -> QuerySet[IntegrationStep]:
        return IntegrationStep.objects.prefetch_related("filters").order_by(
            "integration", "order", "id"
        )

    def perform_create(self, serializer: Any) -> None:
        fields = dict(serializer.validated_data)
        integration = fields.pop("integration")
        serializer.instance = _service(step_create, integration=integration, **fields)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = _service(
            step_update, step=serializer.instance, **dict(serializer.validated_data)
        )
