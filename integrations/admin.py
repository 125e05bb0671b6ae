from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .config_file import integration_defaults_apply
from .models import (
    Integration,
    IntegrationStep,
    SeenChange,
    StepFilter,
    SyncRun,
    WebhookEvent,
)
from .sync import SyncNotPossible, sync_start


class StepInline(admin.TabularInline):
    model = IntegrationStep
    fields = ("order", "name", "kind", "source_type", "event_type", "enabled")
    extra = 0
    show_change_link = True  # the seed's gear wheel: customise the step on its own page


class StepFilterInline(admin.TabularInline):
    model = StepFilter
    extra = 1


@admin.register(IntegrationStep)
class IntegrationStepAdmin(admin.ModelAdmin):
    list_display = ("name", "integration", "kind", "source_type", "event_type", "enabled", "order")
    list_filter = ("integration", "kind", "enabled")
    list_select_related = ("integration", "series")
    search_fields = ("name",)
    inlines = (StepFilterInline,)


class BackfillForm(forms.Form):
    since = forms.DateField(
        label="Backfill changes since",
        help_text="Every deal and activity changed since this day is evaluated by the steps. "
        "Points already booked by webhooks are not booked twice.",
    )


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    inlines = (StepInline,)
    actions = ("import_users", "backfill")

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
            url = reverse("admin:integrations_syncrun_change", args=[run.pk])
            self.message_user(
                request,
                format_html(
                    '{}: <a href="{}">{}</a> started; its progress shows on its page.',
                    integration,
                    url,
                    run,
                ),
                messages.SUCCESS,
            )

    list_display = ("name", "type", "enabled", "webhook_url")
    list_filter = ("type", "enabled")
    search_fields = ("name",)
    readonly_fields = ("webhook_url", "created_at", "updated_at")

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
        return format_html("<code>{}</code>", obj.webhook_path)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("id", "integration", "status", "received_at", "attempts", "short_error")
    list_filter = ("status", "integration")
    list_select_related = ("integration",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    readonly_fields = (
        "integration",
        "received_at",
        "status",
        "attempts",
        "error",
        "processed_at",
        "pretty_headers",
        "pretty_body",
        "pretty_outcome",
    )
    exclude = ("headers", "body", "outcome")
    actions = ("reprocess",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from sources, not from admins

    @admin.display(description="error")
    def short_error(self, obj: WebhookEvent) -> str:
        return obj.error[:80]

    @admin.display(description="headers")
    def pretty_headers(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2))

    @admin.display(description="body")
    def pretty_body(self, obj: WebhookEvent) -> str:
        text = obj.body_text
        with contextlib.suppress(ValueError):  # not JSON: shown as delivered
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)

    @admin.display(description="outcome")
    def pretty_outcome(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.outcome, indent=2, ensure_ascii=False))

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = services.events_reprocess(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} event(s) queued for processing.", messages.SUCCESS)


@admin.register(StepFilter)
class StepFilterAdmin(admin.ModelAdmin):
    list_display = ("step", "field", "operator", "values")
    list_select_related = ("step",)


@admin.register(SeenChange)
class SeenChangeAdmin(admin.ModelAdmin):
    """Dedupe keys of processed changes; read-only, they are the record of what was seen."""

    list_display = ("key", "integration", "event")
    list_select_related = ("integration",)
    search_fields = ("key",)
    raw_id_fields = ("event",)

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
