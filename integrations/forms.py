"""Admin forms: lists edited one item per line, and steps checked the way the engine needs."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import IntegrationStep, StepFilter, WebhookEvent
from .steps import step_config_problems


class LinesField(forms.Field):
    """A JSON list of strings edited as text, one item per line."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 30})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return "" if value is None else str(value)

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class StepFilterForm(forms.ModelForm):
    values = LinesField(
        required=False,
        help_text="One value per line; the filter holds when any of them matches.",
    )

    class Meta:
        model = StepFilter
        fields = ("field", "operator", "values")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        operator = data.get("operator")
        if operator and operator not in ("empty", "not_empty") and not data.get("values"):
            self.add_error(
                "values", f"Operator '{StepFilter.Operator(operator).label}' needs a value."
            )
        return data


class IntegrationStepForm(forms.ModelForm):
    tags = LinesField(
        required=False,
        label="Tag columns in source",
        help_text="One column per line. 'status' adds the column's value as a tag; '#notes' adds "
        "every word starting with # found in the column.",
    )

    class Meta:
        model = IntegrationStep
        fields = (
            "integration", "kind", "name", "order", "enabled", "series", "player_id",
            "player_id_prefix", "player_name", "player_email", "points", "point_type",
            "score_id", "comment", "point_time", "tags", "create_tags", "revoke",
            "source_type", "event_type",
        )  # fmt: skip
        widgets = {"revoke": forms.RadioSelect}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problems = step_config_problems(
            kind=data.get("kind") or "",
            series=data.get("series"),
            points=data.get("points") or "",
            point_type=data.get("point_type") or "",
            player_id=data.get("player_id") or "",
        )
        for name, message in problems.items():
            if name in self.fields:
                self.add_error(name, message)
        return data


class StepTestForm(forms.Form):
    KINDS = (("delivery", "a whole delivery, as the source posts it"), ("record", "one record"))

    sample = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 90, "spellcheck": "false"}),
        help_text="Paste JSON: a delivery as the source sends it, or just the object's record.",
    )
    sample_kind = forms.ChoiceField(
        choices=KINDS, initial="delivery", widget=forms.RadioSelect, label="The sample is"
    )
    action = forms.ChoiceField(
        choices=(("changed", "changed"), ("created", "created"), ("deleted", "deleted")),
        initial="changed",
        help_text="For one record: which change it stands for.",
    )
    event: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=WebhookEvent.objects.none(),  # the integration's recent events, set in __init__
        required=False,
        label="…or a stored event",
    )

    def __init__(self, *args: Any, step: IntegrationStep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events = WebhookEvent.objects.filter(integration_id=step.integration_id)
        recent = list(events.order_by("-id").values_list("pk", flat=True)[:50])
        self.fields["event"].queryset = events.filter(pk__in=recent).order_by("-id")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("event") and not (data.get("sample") or "").strip():
            raise forms.ValidationError("Paste a sample or pick a stored event.")
        return data
