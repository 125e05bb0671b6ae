"""Admin forms: the doors of the admin to the configuration services.

Each form checks the shape of what was typed (Django's fields) and shows the services' words
for what it means (`integration_problems`, `step_problems`, `filter_problems`); the admin saves
through the services. Credentials are the fields the type's source declares; a step's kind
decides its fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.html import format_html

from .configuration import (
    filter_problems,
    integration_problems,
    step_problems,
)
from .configuration.step import POINTS_ONLY, fields_of_kind
from .models import Integration, IntegrationStep, StepFilter, WebhookEvent
from .sources.registry import Field, Source, source_for, sources


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


class ServiceForm(forms.ModelForm):
    """A model form whose meaning a configuration service checks (names included: the form
    does not check uniqueness itself, so the admin shows the service's words)."""

    # An inline's row that was not touched is not saved, so it is not checked either (an older
    # row the services would refuse does not stop the admin from saving the page's others).
    untouched_rows_pass = False

    def validate_unique(self) -> None:
        pass

    def unchecked(self) -> bool:
        """Nothing for the service to check: a field is refused already, or an untouched row."""
        untouched = self.untouched_rows_pass and self.instance.pk and not self.has_changed()
        return bool(self.errors or untouched)

    def show_problems(self, problems: Mapping[str, str], names: Mapping[str, str] = {}) -> None:
        """Each problem under its field, or above the form when the field is not on it (the
        message names the field)."""
        for key, message in problems.items():
            name = names.get(key, key)
            self.add_error(name if name in self.fields else None, message)


# --- integrations -------------------------------------------------------------------------------


def credential_name(source: Source, field: Field) -> str:
    return f"{source.type}__{field.key}"


def clear_name(source: Source, field: Field) -> str:
    return f"{source.type}__{field.key}__clear"


def path_name(source: Source, field: Field) -> str:
    return f"{source.type}__path__{field.key}"


def credential_rows(source: Source, stored: Mapping[str, Any] | None = None) -> list[Any]:
    """The admin's lines for the source's credentials: a secret that is set (`stored`) shares
    its line with a "clear" box."""
    stored = stored or {}
    return [
        (credential_name(source, f), clear_name(source, f))
        if f.secret and stored.get(f.key)
        else credential_name(source, f)
        for f in source.credentials
    ]


def path_rows(source: Source) -> list[str]:
    return [path_name(source, f) for f in source.paths]


class IntegrationForm(ServiceForm):
    """Name, type, webhook secret, and the type's declared credentials and paths as fields.

    Adding, the type is chosen on the same page: every type's fields are there, in a group per
    type, and only the chosen type's group counts (the page shows only that one). Secrets are
    write-only: never shown back; blank keeps the stored value, "clear" removes it."""

    class Meta:
        model = Integration
        fields = ("name", "type", "enabled", "webhook_secret", "series")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = self.instance.pk is None
        if "name" in self.fields:
            self.fields["name"].required = False  # the service says what a name needs
        if "webhook_secret" in self.fields:
            secret = self.fields["webhook_secret"]
            secret.required = False
            secret.strip = False  # type: ignore[attr-defined]
            if self.creating:
                secret.initial = ""
                secret.help_text = "Blank: a random one (32 bytes). URL-safe, 8 to 128 characters."
        stored = self.instance.credentials if isinstance(self.instance.credentials, dict) else {}
        source = self.instance.source
        self.sources = sources() if self.creating else [source] if source is not None else []
        for source in self.sources:
            for f in source.credentials:
                self.fields[credential_name(source, f)] = _credential_field(
                    f, None if self.creating else stored
                )
                if f.secret and stored.get(f.key) and not self.creating:
                    self.fields[clear_name(source, f)] = forms.BooleanField(
                        required=False, label="clear", help_text=f"Remove the {f.label} stored."
                    )
            kept = stored.get("paths")
            paths: dict[str, Any] = kept if isinstance(kept, dict) else {}
            for f in source.paths:
                self.fields[path_name(source, f)] = _text_field(f, paths.get(f.key, ""))

    def chosen(self) -> Source | None:
        if not self.creating:
            return self.instance.source
        type_ = self.cleaned_data.get("type")
        return source_for(type_) if isinstance(type_, str) else None

    def service_arguments(self) -> dict[str, Any]:
        """What was typed, as integration_create / integration_update take it."""
        data = self.cleaned_data
        source = self.chosen()
        arguments: dict[str, Any] = {
            "name": data.get("name", ""),
            "type": source.type if source is not None else data.get("type", ""),
            "enabled": data.get("enabled", False),
            # Adding, blank means "generate one"; changing, the field holds the stored one.
            "webhook_secret": data.get("webhook_secret") or (None if self.creating else ""),
            "credentials": {},
            "paths": None,
        }
        if source is None:
            return arguments
        for f in source.credentials:
            value = data.get(credential_name(source, f)) or ""
            if f.secret and data.get(clear_name(source, f)):
                arguments["credentials"][f.key] = ""
            elif value or not f.secret:  # a blank secret keeps the stored one
                arguments["credentials"][f.key] = value
        if source.paths:
            arguments["paths"] = {f.key: data.get(path_name(source, f)) or "" for f in source.paths}
        return arguments

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.unchecked():
            return data  # the shape first: the service checks whole values
        arguments = self.service_arguments()
        arguments.pop("enabled")
        problems = integration_problems(
            integration=None if self.creating else self.instance, **arguments
        )
        source = self.chosen()
        names: dict[str, str] = {}
        if source is not None:
            names = {f"credentials.{f.key}": credential_name(source, f) for f in source.credentials}
            names.update({f"paths.{f.key}": path_name(source, f) for f in source.paths})
        self.show_problems(problems, names)
        return data


def _credential_field(f: Field, stored: Mapping[str, Any] | None) -> forms.CharField:
    """A credential's field; `stored`: the integration's credentials (None: a new one)."""
    if not f.secret:
        return _text_field(f, (stored or {}).get(f.key, ""))
    is_set = bool(stored and stored.get(f.key))
    help_text: Any = f.help
    if stored is not None:  # a secret is never shown back: the page says whether one is stored
        status = "set" if is_set else "not set"
        keep = "; leave blank to keep it, tick “clear” to remove it" if is_set else ""
        help_text = format_html(
            '<strong class="secret-status">{}</strong>{}. {}', status, keep, f.help
        )
    return forms.CharField(
        label=f.label,
        required=False,
        strip=False,
        max_length=None,
        help_text=help_text,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "new-password", "size": 40, "placeholder": "(hidden)"}
            if is_set
            else {"autocomplete": "new-password", "size": 40},
        ),
    )


def _text_field(f: Field, initial: Any) -> forms.CharField:
    attrs: dict[str, Any] = {"size": 60}
    if f.placeholder:
        # A path's placeholder is an example; a URL's is the default used when blank.
        example = f.kind == "path" or f.key == "source_type"
        attrs["placeholder"] = f"e.g. {f.placeholder}" if example else f.placeholder
    return forms.CharField(
        label=f.label,
        required=False,
        strip=False,  # the service says what is wrong with spaces around a value
        initial=initial if isinstance(initial, str) else "",
        help_text=f.help,
        widget=forms.TextInput(attrs=attrs),
    )


# --- steps --------------------------------------------------------------------------------------


class StepForm(ServiceForm):
    """A step, checked by step_problems. The kind decides the fields: a users step's form has
    only the users fields (the admin shows only those); adding, only the chosen kind's count."""

    tags = LinesField(
        required=False,
        label="Tag columns in source",
        help_text="One column per line. 'status' adds the column's value as a tag; '#notes' adds "
        "every word starting with # found in the column.",
    )

    class Meta:
        model = IntegrationStep
        fields: tuple[str, ...] = (
            "integration", "kind", "name", "order", "enabled", "series", "player_id",
            "player_id_prefix", "player_name", "player_email", "points", "point_type",
            "score_id", "comment", "point_time", "tags", "create_tags", "revoke",
            "source_type", "event_type",
        )  # fmt: skip
        widgets: dict[str, Any] = {"revoke": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("name", "source_type"):
            if name in self.fields:
                self.fields[name].required = False  # the service says what they need

    def kind(self) -> str:
        if self.instance.pk:
            return self.instance.kind
        return str(self.cleaned_data.get("kind") or "")

    def integration(self) -> Integration | None:
        if "integration" in self.cleaned_data:
            return self.cleaned_data["integration"]
        return self.instance.integration if self.instance.integration_id else None

    def service_changes(self) -> dict[str, Any]:
        """The typed fields the step's kind has (step_create / step_update take them)."""
        kind = self.kind()
        changes = {
            name: self.cleaned_data[name]
            for name in fields_of_kind(kind)
            if name in self.fields and name in self.cleaned_data
        }
        if not self.instance.pk:
            changes["kind"] = kind
        return changes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.unchecked():
            return data
        integration = self.integration()
        if integration is None:
            return data  # refused as a missing field already
        problems = step_problems(
            changes=self.service_changes(),
            source=integration.source,
            integration=integration,
            step=self.instance if self.instance.pk else None,
        )
        self.show_problems(problems)
        return data


class StepInlineForm(StepForm):
    """A step as a row of the integration page: what a step needs to run, the rest behind its
    gear wheel. Every field typed counts (nothing on the row is hidden): points fields on a
    users row are refused, naming the field."""

    untouched_rows_pass = True
    tags = None  # type: ignore[assignment]  # behind the gear wheel

    class Meta(StepForm.Meta):
        fields: tuple[str, ...] = ("order", "name", "kind", "source_type", "player_id",
                                   "series", "points", "enabled")  # fmt: skip
        widgets: dict[str, Any] = {
            "order": forms.NumberInput(attrs={"style": "width: 3em"}),
            "name": forms.TextInput(attrs={"size": 16}),
            "source_type": forms.TextInput(attrs={"size": 8}),
            "player_id": forms.TextInput(attrs={"size": 10}),
            "points": forms.TextInput(attrs={"size": 6}),
        }

    def show_problems(self, problems: Mapping[str, str], names: Mapping[str, str] = {}) -> None:
        """Above the row, at its full width (a table cell is narrow, and on a phone out of
        sight); the messages name the field, whose input is marked."""
        for key, message in problems.items():
            self.add_error(None, message)
            if key in self.fields:
                self.fields[key].widget.attrs.update({"aria-invalid": "true", "class": "problem"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["kind"].disabled = True  # a step's kind cannot change
            if self.instance.kind == IntegrationStep.Kind.USERS:
                for name in POINTS_ONLY:
                    if name in self.fields:
                        self.fields[name].disabled = True

    def service_changes(self) -> dict[str, Any]:
        changes = {
            name: self.cleaned_data[name]
            for name in StepInlineForm.Meta.fields
            if name in self.cleaned_data
        }
        changes.pop("kind", None)
        if not self.instance.pk:
            changes["kind"] = self.kind()
        if self.instance.pk and self.instance.kind == IntegrationStep.Kind.USERS:
            for name in POINTS_ONLY:
                changes.pop(name, None)
        return changes


# --- filters ------------------------------------------------------------------------------------


class StepFilterForm(ServiceForm):
    values = LinesField(
        required=False,
        help_text="One value per line; the filter holds when any of them matches.",
    )

    class Meta:
        model = StepFilter
        fields = ("step", "field", "operator", "values")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].required = False  # the service says what a field needs

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "field": data.get("field", ""),
            "operator": data.get("operator", ""),
            "values": data.get("values", []),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.unchecked():
            return data
        self.show_problems(filter_problems(**self.service_arguments()))
        return data


class StepFilterInlineForm(StepFilterForm):
    untouched_rows_pass = True


# --- the step test console ----------------------------------------------------------------------


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
        # This step's integration and source type: the events the step could have run on.
        events = WebhookEvent.objects.filter(
            integration_id=step.integration_id, source_type__icontains=step.source_type.strip()
        ).defer("body", "outcome", "headers")
        recent = list(events.order_by("-id").values_list("pk", flat=True)[:50])
        field = self.fields["event"]
        field.queryset = events.filter(pk__in=recent).order_by("-id")  # type: ignore[attr-defined]
        field.label_from_instance = _event_label  # type: ignore[attr-defined]
        field.help_text = f"The last 50 {step.source_type} events of {step.integration.name}."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pasted = (data.get("sample") or "").strip()
        if not data.get("event") and not pasted:
            raise forms.ValidationError("Paste a sample or pick a stored event.")
        if data.get("event") and pasted:
            raise forms.ValidationError(
                "Both a pasted sample and a stored event: test one at a time (clear the sample "
                "or pick no event)."
            )
        return data


def _event_label(event: WebhookEvent) -> str:
    """`deal:123 — received 2026-11-30 06:12 (processed)`."""
    received = timezone.localtime(event.received_at).strftime("%Y-%m-%d %H:%M")
    objects = event.object_refs[:60] or "no object"
    return f"{objects} — received {received} ({event.get_status_display().lower()})"
