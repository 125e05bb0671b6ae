"""The admin as an admin of a sales team reads it: the seed's screens, in the seed's words."""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from players.admin import DiagnosticsAdmin
from scoring.admin import CappedCountPaginator, admin_link

from .configuration import (
    filter_create,
    filter_update,
    filters_unseen,
    integration_create,
    integration_update,
    step_create,
    step_update,
)
from .configuration.step import POINTS_ONLY, fields_of_kind
from .console import step_dry_run
from .forms import (
    IntegrationForm,
    StepFilterForm,
    StepFilterInlineForm,
    StepForm,
    StepInlineForm,
    StepTestForm,
    credential_rows,
    path_rows,
)
from .models import (
    Integration,
    IntegrationStep,
    SeenChange,
    StepFilter,
    SyncRun,
    WebhookEvent,
)
from .services.drain import events_reprocess
from .services.maintenance import integration_secret_rotate
from .sources.registry import Source, sources
from .sync import SyncNotPossible, sync_start

# --- the doors of the admin to the configuration services --------------------------------------


def _adopt(obj: Any, saved: Any) -> None:
    """Make the admin's object the one a service saved (the admin goes on with its own)."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db
    for f in type(saved)._meta.concrete_fields:
        setattr(obj, f.attname, getattr(saved, f.attname))


def _formset_saved(formset: Any, save: Any) -> list[Any]:
    """Save an inline formset through the services: `save(form)` creates or changes a form's
    object (None: nothing to save). Fills what the admin's change message reads; returns the
    objects created or changed."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    saved = []
    for form in formset.initial_forms:
        obj = form.instance
        if obj.pk is None:
            continue
        if form in formset.deleted_forms:
            formset.deleted_objects.append(obj)
            formset.delete_existing(obj, commit=True)
        elif form.has_changed():
            formset.changed_objects.append((save(form), form.changed_data))
            saved.append(formset.changed_objects[-1][0])
    for form in formset.extra_forms:
        if not form.has_changed() or (formset.can_delete and formset._should_delete_form(form)):
            continue
        formset.new_objects.append(save(form))
        saved.append(formset.new_objects[-1])
    return saved


# --- steps --------------------------------------------------------------------------------------


class StepInline(admin.TabularInline):
    model = IntegrationStep
    form = StepInlineForm
    fields = ("order", "name", "kind", "source_type", "player_id", "series", "points",
              "enabled", "customise")  # fmt: skip
    readonly_fields = ("customise",)
    extra = 0
    ordering = ("order", "id")

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and isinstance(field.widget, RelatedFieldWidgetWrapper):
            field.widget = field.widget.widget  # a row has no room for the series' buttons
        return field

    verbose_name_plural = (
        "Integration steps — a users step needs a player id column; a points step also a score "
        "series and points (a column or a number). ⚙ customise for every other setting."
    )

    @admin.display(description="")
    def customise(self, obj: IntegrationStep) -> str:
        if not obj.pk:
            return ""
        # The seed's gear wheel: customise the step on its own page.
        url = reverse("admin:integrations_integrationstep_change", args=[obj.pk])
        return format_html('<a href="{}" title="Customise this step">⚙ customise</a>', url)


class StepFilterInline(admin.TabularInline):
    model = StepFilter
    form = StepFilterInlineForm
    extra = 0
    verbose_name = "filter"
    verbose_name_plural = (
        "Filters — all must hold for the step to apply; a filter holds when any of its values "
        "matches. Zero filters: always."
    )


def _filters_saved(request: HttpRequest, admin_: admin.ModelAdmin, step: IntegrationStep,
                   fields: list[str]) -> None:  # fmt: skip
    """Warn of filters on fields that no recent delivery of the step's type had."""
    for warning in filters_unseen(step=step, fields=fields).values():
        admin_.message_user(request, warning, messages.WARNING)


_MAPPINGS = ("series", "player_id", "player_id_prefix", "player_name", "player_email", "points",
             "point_type", "score_id", "comment", "point_time")  # fmt: skip


@admin.register(IntegrationStep)
class IntegrationStepAdmin(admin.ModelAdmin):
    form = StepForm
    list_display = ("name", "integration", "kind", "source_type", "event_type", "enabled", "order")
    list_filter = ("integration", "kind", "enabled")
    list_select_related = ("integration", "series")
    search_fields = ("name",)
    inlines = (StepFilterInline,)
    readonly_fields = ("test_console",)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        # A users step has the users fields only (the seed's users step); adding, the kind is
        # chosen first and the page shows the chosen kind's fields (points-only ones are
        # marked, and only the chosen kind's fields count).
        kind = obj.kind if obj is not None else ""
        fields = fields_of_kind(kind) if kind else fields_of_kind(IntegrationStep.Kind.POINTS)
        points = IntegrationStep.Kind.POINTS
        only = "" if obj is not None else " Points steps only."
        main = ("integration", "kind", "name", "order", "enabled", "test_console")
        sets: list[Any] = [
            (None, {"fields": main}),
            (
                "Mappings",
                {
                    "description": "Columns are paths into the object's record, e.g. status, "
                    "owner_id, user_id.id, custom_fields.&lt;key&gt;.value, label_ids.0.",
                    "fields": [f for f in _MAPPINGS if f in fields],
                },
            ),
        ]
        if kind in ("", points):
            sets += [
                (
                    "Tag column(s) in source",
                    {
                        "description": "Add columns that will be added as tags for the points "
                        "scored. You can add them as tag or #tag. With #tag every word starting "
                        "with a '#' in the column is added as a tag." + only,
                        "fields": ("tags", "create_tags"),
                        "classes": ("points-only",),
                    },
                ),
                (
                    "Revoke settings",
                    {
                        "description": "Use the revoke settings to customise how and when old "
                        "points are revoked and replaced with new points." + only,
                        "fields": ("revoke",),
                        "classes": ("points-only",),
                    },
                ),
            ]
        sets.append(
            (
                "Webhook settings",
                {
                    "description": "The type of object in the external system, and which of its "
                    "changes the step uses.",
                    "fields": ("source_type", "event_type"),
                },
            )
        )
        return sets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A step's kind and integration stay what they are (award states refer to the step).
        return ("test_console", "integration", "kind") if obj is not None else ("test_console",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[IntegrationStep]:
        return super().get_queryset(request).select_related("integration", "series")

    def render_change_form(
        self, request: HttpRequest, context: Any, *args: Any, **kwargs: Any
    ) -> Any:
        context["points_only_fields"] = list(POINTS_ONLY)
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            stored = IntegrationStep.objects.select_related("integration").get(pk=obj.pk)
            saved = step_update(step=stored, **form.service_changes())
        else:
            saved = step_create(integration=form.integration(), **form.service_changes())
        _adopt(obj, saved)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        step = form.instance

        def save(filter_form: Any) -> StepFilter:
            arguments = filter_form.service_arguments()
            if filter_form.instance.pk:
                stored = StepFilter.objects.get(pk=filter_form.instance.pk)
                return filter_update(step_filter=stored, **arguments)
            return filter_create(step=step, **arguments)

        saved = _formset_saved(formset, save)
        _filters_saved(request, self, step, [f.field for f in saved])

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # A step with points stays (the ledger refers to it): offer to disable it instead.
        step = IntegrationStep.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        booked = step.transactions.count() if step is not None else 0
        if step is None or not booked or not self.has_change_permission(request, step):
            return super().delete_view(request, object_id, extra_context)
        return TemplateResponse(
            request,
            "admin/integrations/step_in_use.html",
            {
                **self.admin_site.each_context(request),
                "title": f"“{step.name}” has booked points: disable it instead?",
                "step": step,
                "booked": booked,
                "opts": self.model._meta,
            },
        )

    def disable_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        step = get_object_or_404(IntegrationStep.objects.select_related("integration"), pk=step_id)
        if request.method != "POST" or not self.has_change_permission(request, step):
            return HttpResponse(status=403 if request.method == "POST" else 405)
        step_update(step=step, enabled=False)
        self.message_user(request, f"“{step.name}” is disabled: it books nothing from now on.")
        return HttpResponseRedirect(
            reverse("admin:integrations_integrationstep_change", args=[step.pk])
        )

    def get_urls(self) -> list[Any]:
        test = self.admin_site.admin_view(self.test_view)
        disable = self.admin_site.admin_view(self.disable_view)
        return [
            path("<int:step_id>/test/", test, name="integrations_integrationstep_test"),
            path("<int:step_id>/disable/", disable, name="integrations_integrationstep_disable"),
            *super().get_urls(),
        ]

    @admin.display(description="Test console")
    def test_console(self, obj: IntegrationStep) -> str:
        if not obj.pk:
            return "Save the step to test it."
        url = reverse("admin:integrations_integrationstep_test", args=[obj.pk])
        return format_html(
            '<a class="button" href="{}">Test this step on a sample</a> '
            "(see each filter's verdict and what would be booked, booking nothing)",
            url,
        )

    def test_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        step = get_object_or_404(
            IntegrationStep.objects.select_related("integration", "series"), pk=step_id
        )
        if not self.has_view_or_change_permission(request, step):
            return HttpResponse(status=403)
        form = StepTestForm(request.POST or None, step=step)
        result = None
        if request.method == "POST" and form.is_valid():
            result = step_dry_run(
                step=step,
                text=form.cleaned_data["sample"],
                event=form.cleaned_data["event"],
                as_record=form.cleaned_data["sample_kind"] == "record",
                action=form.cleaned_data["action"],
            )
        return TemplateResponse(
            request,
            "admin/integrations/step_test.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Test step “{step.name}”",
                "step": step,
                "form": form,
                "result": result,
                "opts": self.model._meta,
                "original": step,
            },
        )


# --- integrations -------------------------------------------------------------------------------


class BackfillForm(forms.Form):
    since = forms.DateField(
        label="Backfill changes since",
        help_text="Every deal and activity changed since this day is evaluated by the steps. "
        "Points already booked by webhooks are not booked twice.",
    )


def cut_cell(text: str, size: int = 80) -> str:
    """A table cell's text cut to `size` characters; the whole text is its tooltip."""
    if len(text) <= size:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: size - 1])


_BASE_URL: ContextVar[str] = ContextVar("admin_base_url", default="")
# An event's columns that can be megabytes (a delivery's body, its outcome): lists leave them out.
EVENT_LARGE_FIELDS = ("body", "outcome", "headers")


def _source_sets(source: Source, integration: Integration | None) -> list[Any]:
    """The fieldsets of a source's credentials and paths. Adding (no `integration`): titled by
    the type and marked with it, so that the page shows only the chosen type's."""
    adding = integration is None
    classes = ("source-group", f"source-{source.type}") if adding else ()
    stored = integration.credentials if integration is not None else {}
    help_text = source.sign_in_help if adding else ""
    sets: list[Any] = []
    if source.credentials or not source.paths:
        sets.append(
            (
                f"{source.label} credentials" if adding else "Credentials",
                {"fields": credential_rows(source, stored if isinstance(stored, dict) else {}),
                 "classes": classes,
                 "description": help_text or ("" if source.credentials else "No credentials.")},
            )
        )  # fmt: skip
    if source.paths:
        example = (
            format_html("An example delivery and its paths:<pre>{}</pre>", source.example_delivery)
            if source.example_delivery
            else ""
        )
        sets.append(
            (
                f"{source.label} paths" if adding else "Paths",
                {"fields": path_rows(source), "classes": classes,
                 "description": format_html("{}{}", "" if source.credentials else help_text,
                                            example)},
            )
        )  # fmt: skip
    return sets


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    inlines = (StepInline,)
    actions = ("import_users", "backfill", "rotate_secret")
    list_display = ("name", "type", "enabled", "webhook_url")
    list_filter = ("type", "enabled")
    search_fields = ("name",)
    filter_horizontal = ("series",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # An integration's type cannot change: its credentials and steps are the type's.
        return ("type", "webhook_url", "auth_help", "add_step", "recent_events", "created_at",
                "updated_at")  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # the add form: the type first, then the chosen type's fields
            return [
                (None, {"fields": ("name", "type", "enabled", "webhook_secret")}),
                *(fs for source in sources() for fs in _source_sets(source, None)),
            ]
        source = obj.source
        return [
            (None, {"fields": ("name", "type", "enabled")}),
            ("Webhook", {"fields": ("webhook_url", "auth_help", "webhook_secret")}),
            *(_source_sets(source, obj) if source is not None else []),
            (
                "Score series",
                {
                    "fields": ("series",),
                    "classes": ("collapse",),
                    "description": "The score series this integration's configuration names: "
                    "they go with it when it is exported to a file. Where points go is each "
                    "step's own “add points to score series”; nothing here changes that.",
                },
            ),
            ("Steps", {"fields": ("add_step",)}),
            ("Recent events", {"fields": ("recent_events",)}),
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # Credentials and paths are the form's own fields (the type's), not the model's.
        if obj is None:
            model_fields = ("name", "type", "enabled", "webhook_secret")
        else:
            model_fields = ("name", "enabled", "webhook_secret", "series")
        kwargs["fields"] = model_fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def _with_base_url(self, request: HttpRequest, view: Any, *args: Any) -> HttpResponse:
        # The full URL to copy needs the host the admin is reached on (per request, per thread).
        token = _BASE_URL.set(request.build_absolute_uri("/").rstrip("/"))
        try:
            response = view(request, *args)
            if isinstance(response, TemplateResponse):
                response.render()  # while the base URL is known
            return response
        finally:
            _BASE_URL.reset(token)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return self._with_base_url(request, super().change_view, object_id, form_url, extra_context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return self._with_base_url(request, super().changelist_view, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        arguments = form.service_arguments()
        if change:
            arguments.pop("type")
            stored = Integration.objects.get(pk=obj.pk)
            _adopt(obj, integration_update(integration=stored, **arguments))
            return
        # A new integration gets its type's default setup, ready to use.
        saved = integration_create(**arguments, default_setup=True)
        _adopt(obj, saved)
        count = saved.steps.count()
        if count:
            self.message_user(request, f"Added the {count} default steps of this type.")

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        integration = form.instance

        def save(step_form: Any) -> IntegrationStep:
            changes = step_form.service_changes()
            if step_form.instance.pk:
                stored = IntegrationStep.objects.select_related("integration").get(
                    pk=step_form.instance.pk
                )
                return step_update(step=stored, **changes)
            return step_create(integration=integration, **changes)

        _formset_saved(formset, save)

    @admin.display(description="Add a step")
    def add_step(self, obj: Integration) -> str:
        url = reverse("admin:integrations_integrationstep_add")
        return format_html(
            '<a class="button" href="{}?integration={}">Add a step with all its settings</a>',
            url,
            obj.pk,
        )

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Integration) -> str:
        if not obj.pk:
            return "(saved integrations get one)"
        url = _BASE_URL.get() + obj.webhook_path
        # The list and the change page both copy the full URL (the list has one per row).
        return format_html(
            '<input type="text" readonly value="{}" size="60" class="webhook-url" '
            'onclick="this.select()" id="webhook-url-{}"> <button type="button" '
            "onclick=\"navigator.clipboard.writeText(document.getElementById('webhook-url-{}')"
            '.value)">Copy</button>',
            url,
            obj.pk,
            obj.pk,
        )

    @admin.display(description="How the source signs in")
    def auth_help(self, obj: Integration) -> str:
        source = obj.source
        return source.sign_in_help if source is not None else ""

    @admin.display(description="Last 10 events")
    def recent_events(self, obj: Integration) -> str:
        events = list(obj.events.defer(*EVENT_LARGE_FIELDS).order_by("-id")[:10])
        if not events:
            return "No deliveries yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    admin_link(e, f"#{e.pk}"),
                    date_format(localtime(e.received_at), "Y-m-d H:i:s"),
                    e.status,
                    cut_cell(e.object_refs, 40),
                    cut_cell(e.error),
                )
                for e in events
            ),
        )
        return format_html(
            '<table class="recent-events"><tr><th>event</th><th>received</th><th>status</th>'
            "<th>objects</th><th>error</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Rotate webhook secret (the old URL stops working)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Integration]) -> Any:
        if request.POST.get("confirm") != "yes":  # the live URL breaks: ask first
            return TemplateResponse(
                request,
                "admin/integrations/rotate_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Rotate the webhook secret?",
                    "integrations": queryset,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        for integration in queryset:
            integration_secret_rotate(integration=integration)
            url = request.build_absolute_uri(integration.webhook_path)
            self.message_user(
                request,
                f"{integration}: new webhook URL {url} — paste it into the source system.",
                messages.WARNING,
            )

    @admin.action(description="Import users now")
    def import_users(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        self._start(request, queryset, SyncRun.Kind.USERS, None)

    @admin.action(description="Backfill since a date…")
    def backfill(self, request: HttpRequest, queryset: QuerySet[Integration]) -> Any:
        form = BackfillForm(request.POST if "since" in request.POST else None)
        if form.is_valid():
            since = datetime.combine(form.cleaned_data["since"], time.min, tzinfo=UTC)
            self._start(request, queryset, SyncRun.Kind.BACKFILL, since)
            return None
        return TemplateResponse(
            request,
            "admin/integrations/backfill.html",
            {
                **self.admin_site.each_context(request),
                "title": "Backfill since a date",
                "form": form,
                "integrations": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    def _start(
        self,
        request: HttpRequest,
        queryset: QuerySet[Integration],
        kind: str,
        since: datetime | None,
    ) -> None:
        for integration in queryset:
            try:
                run = sync_start(integration=integration, kind=kind, since=since)
            except SyncNotPossible as exc:
                self.message_user(request, f"{integration}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                format_html(
                    "{}: {} started; its progress shows on its page.",
                    integration,
                    admin_link(run),
                ),
                messages.SUCCESS,
            )


# --- events -------------------------------------------------------------------------------------


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("id", "integration", "status", "source_type", "short_objects", "received_at",
                    "short_error")  # fmt: skip
    list_filter = ("status", "integration", "source_type")
    list_select_related = ("integration",)
    search_fields = ("object_refs",)
    search_help_text = "Search by object, e.g. deal:123 or 123."
    date_hierarchy = "received_at"
    paginator = CappedCountPaginator
    show_full_result_count = False
    readonly_fields = (
        "integration", "received_at", "status", "attempts", "error", "processed_at",
        "source_type", "object_refs", "outcome_table", "booked", "pretty_body", "pretty_headers",
        "claimed_until", "spool_id", "payload_pruned_at",
    )  # fmt: skip
    # What happened first; the worker's bookkeeping last, folded.
    fieldsets = (
        (None, {"fields": ("status", "outcome_table", "booked", "error", "integration",
                           "source_type", "object_refs", "received_at", "processed_at")}),
        ("Delivery", {"fields": ("pretty_body", "pretty_headers")}),
        ("Internals", {"fields": ("attempts", "claimed_until", "spool_id", "payload_pruned_at"),
                       "classes": ("collapse",)}),
    )  # fmt: skip
    actions = ("reprocess",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        # The list shows none of these, and one delivery's body or outcome can be megabytes;
        # an event's own page reads them when it shows them.
        return super().get_queryset(request).defer(*EVENT_LARGE_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from sources, not from admins

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what a source sent is kept as it was sent

    @admin.display(description="error")
    def short_error(self, obj: WebhookEvent) -> str:
        return cut_cell(obj.error, 40)

    @admin.display(description="objects", ordering="object_refs")
    def short_objects(self, obj: WebhookEvent) -> str:
        return cut_cell(obj.object_refs, 40)

    @admin.display(description="headers")
    def pretty_headers(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2))

    @admin.display(description="payload")
    def pretty_body(self, obj: WebhookEvent) -> str:
        if obj.payload_pruned_at:
            return f"pruned on {obj.payload_pruned_at:%Y-%m-%d} (kept EVENT_PAYLOAD_DAYS days)"
        text = obj.body_text
        with contextlib.suppress(ValueError):  # not JSON: shown as delivered
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html('<pre style="max-height: 40em; overflow: auto">{}</pre>', text)

    @admin.display(description="outcome per step")
    def outcome_table(self, obj: WebhookEvent) -> str:
        if not obj.outcome:
            return "Not processed yet." if obj.status == "pending" else "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (o.get("change", ""), o.get("result", ""), o.get("message", ""))
                for o in obj.outcome
                if isinstance(o, dict)
            ),
        )
        return format_html(
            "<table><tr><th>change</th><th>result</th><th>what happened</th></tr>{}</table>", rows
        )

    @admin.display(description="transactions booked")
    def booked(self, obj: WebhookEvent) -> str:
        rows = obj.transactions.select_related("player", "series").order_by("id")
        if not rows:
            return "none"
        return format_html_join(
            ", ",
            "{} ({} {} to {} in {})",
            ((admin_link(t, f"#{t.pk}"), t.kind, t.points, t.player.name, t.series.name)
             for t in rows),
        )  # fmt: skip

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = events_reprocess(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for processing.", messages.SUCCESS)


@admin.register(StepFilter)
class StepFilterAdmin(admin.ModelAdmin):
    form = StepFilterForm
    list_display = ("step", "field", "operator", "values")
    list_select_related = ("step",)

    def get_model_perms(self, request: HttpRequest) -> dict[str, Any]:
        # Filters are edited on their step's page; only superusers see this list on the index.
        return super().get_model_perms(request) if request.user.is_superuser else {}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("step",) if obj is not None else ()  # a filter stays with its step

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        arguments = form.service_arguments()
        if change:
            saved = filter_update(step_filter=StepFilter.objects.get(pk=obj.pk), **arguments)
        else:
            saved = filter_create(step=form.cleaned_data["step"], **arguments)
        _adopt(obj, saved)
        _filters_saved(request, self, saved.step, [saved.field])


@admin.register(SeenChange)
class SeenChangeAdmin(DiagnosticsAdmin):
    """Dedupe keys of processed changes; read-only, they are the record of what was seen."""

    list_display = ("key", "integration", "event")
    list_select_related = ("integration", "event")
    search_fields = ("key",)
    raw_id_fields = ("event",)
    paginator = CappedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SeenChange]:
        return super().get_queryset(request).defer(*(f"event__{f}" for f in EVENT_LARGE_FIELDS))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("id", "integration", "kind", "since", "status", "progress", "booked",
                    "step_errors", "created_at", "finished_at")  # fmt: skip
    list_filter = ("status", "kind", "integration")
    list_select_related = ("integration",)
    readonly_fields = ("integration", "kind", "since", "status", "progress", "pages", "booked",
                       "step_errors", "error", "cursor", "created_at", "finished_at")  # fmt: skip
    exclude = ("done", "total")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started by the integration's actions

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="progress (done / total)")
    def progress(self, obj: SyncRun) -> str:
        total = "?" if obj.total is None else str(obj.total)
        return f"{obj.done} / {total}"
