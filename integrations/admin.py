from __future__ import annotations

import contextlib
import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from . import services
from .config_file import integration_defaults_apply
from .models import Integration, IntegrationStep, SeenChange, StepFilter, WebhookEvent


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


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    inlines = (StepInline,)
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
