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
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from scoring.admin import CappedCountPaginator, admin_link

from .config_file import integration_defaults_apply
from .console import step_dry_run
from .forms import IntegrationStepForm, StepFilterForm, StepTestForm
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
from .sync import SyncNotPossible, sync_start

# --- steps --------------------------------------------------------------------------------------


class StepInline(admin.TabularInline):
    model = IntegrationStep
    fields = ("order", "name", "kind", "source_type", "event_type", "enabled", "customise")
    readonly_fields = ("customise",)
    extra = 0
    ordering = ("order", "id")

    @admin.display(description="")
    def customise(self, obj: IntegrationStep) -> str:
        if not obj.pk:
            return ""
        # The seed's gear wheel: customise the step on its own page.
        url = reverse("admin:integrations_integrationstep_change", args=[obj.pk])
        return format_html('<a href="{}" title="Customise this step">⚙ customise</a>', url)


class StepFilterInline(admin.TabularInline):
    model = StepFilter
    form = StepFilterForm
    extra = 0
    verbose_name = "filter"
    verbose_name_plural = (
        "Filters — all must hold for the step to apply; a filter holds when any of its values "
        "matches. Zero filters: always."
    )


@admin.register(IntegrationStep)
class IntegrationStepAdmin(admin.ModelAdmin):
    form = IntegrationStepForm
    list_display = ("name", "integration", "kind", "source_type", "event_type", "enabled", "order")
    list_filter = ("integration", "kind", "enabled")
    list_select_related = ("integration", "series")
    search_fields = ("name",)
    inlines = (StepFilterInline,)
    readonly_fields = ("test_console",)
    fieldsets = (
        (None, {"fields": ("integration", "kind", "name", "order", "enabled", "test_console")}),
        (
            "Mappings",
            {
                "description": "Columns are paths into the object's record, e.g. status, "
                "owner_id, user_id.id, custom_fields.<key>.value, label_ids.0.",
                "fields": (
                    "series",
                    "player_id",
                    "player_id_prefix",
                    "player_name",
                    "player_email",
                    "points",
                    "point_type",
                    "score_id",
                    "comment",
                    "point_time",
                ),
            },
        ),
        (
            "Tag column(s) in source",
            {
                "description": "Add columns that will be added as tags for the points scored. "
                "You can add them as tag or #tag. With #tag every word starting with a '#' in "
                "the column is added as a tag.",
                "fields": ("tags", "create_tags"),
            },
        ),
        (
            "Revoke settings",
            {
                "description": "Use the revoke settings to customise how and when old points "
                "are revoked and replaced with new points.",
                "fields": ("revoke",),
            },
        ),
        (
            "Webhook settings",
            {
                "description": "The type of object in the external system, and which of its "
                "changes the step uses.",
                "fields": ("source_type", "event_type"),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[IntegrationStep]:
        return super().get_queryset(request).select_related("integration", "series")

    def get_urls(self) -> list[Any]:
        test = self.admin_site.admin_view(self.test_view)
        return [
            path("<int:step_id>/test/", test, name="integrations_integrationstep_test"),
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


_BASE_URL: ContextVar[str] = ContextVar("admin_base_url", default="")
# An event's columns that can be megabytes (a delivery's body, its outcome): lists leave them out.
EVENT_LARGE_FIELDS = ("body", "outcome", "headers")


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    inlines = (StepInline,)
    actions = ("import_users", "backfill", "rotate_secret")
    list_display = ("name", "type", "enabled", "webhook_url")
    list_filter = ("type", "enabled")
    search_fields = ("name",)
    readonly_fields = ("webhook_url", "auth_help", "recent_events", "created_at", "updated_at")
    filter_horizontal = ("series",)
    fieldsets = (
        (None, {"fields": ("name", "type", "enabled")}),
        ("Webhook", {"fields": ("webhook_url", "auth_help", "webhook_secret")}),
        ("Credentials", {"fields": ("credentials",)}),
        ("Score series", {"fields": ("series",), "classes": ("collapse",)}),
        ("Recent events", {"fields": ("recent_events",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # the add form: what an admin chooses first
            return ((None, {"fields": ("name", "type", "enabled", "credentials")}),)
        return self.fieldsets

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # The full URL to copy needs the host the admin is reached on (per request, per thread).
        token = _BASE_URL.set(request.build_absolute_uri("/").rstrip("/"))
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()  # while the base URL is known
            return response
        finally:
            _BASE_URL.reset(token)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        integration = form.instance
        if not change and not integration.steps.exists():
            # A new integration without steps gets its type's default setup, ready to use.
            integration_defaults_apply(integration=integration)
            count = integration.steps.count()
            if count:
                self.message_user(request, f"Added the {count} default steps of this type.")

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Integration) -> str:
        if not obj.pk:
            return "(saved integrations get one)"
        url = _BASE_URL.get() + obj.webhook_path
        return format_html(
            '<input type="text" readonly value="{}" size="90" onclick="this.select()" '
            'id="webhook-url"> <button type="button" '
            "onclick=\"navigator.clipboard.writeText(document.getElementById('webhook-url')"
            '.value)">Copy</button>',
            url,
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
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (admin_link(e, f"#{e.pk}"), e.received_at, e.status, e.object_refs or e.error[:80])
                for e in events
            ),
        )
        return format_html(
            "<table><tr><th>event</th><th>received</th><th>status</th><th>objects</th></tr>"
            "{}</table>",
            rows,
        )

    @admin.action(description="Rotate webhook secret (the old URL stops working)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
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
    list_display = ("id", "integration", "status", "source_type", "object_refs", "received_at",
                    "attempts", "short_error")  # fmt: skip
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
    )  # fmt: skip
    exclude = ("headers", "body", "outcome")
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
        return obj.error[:80]

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


@admin.register(SeenChange)
class SeenChangeAdmin(admin.ModelAdmin):
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
