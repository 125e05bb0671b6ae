from __future__ import annotations

from typing import Any

from django import template

from integrations.start import first_run_checklist, integration_states

register = template.Library()


@register.simple_tag
def start_page() -> dict[str, Any]:
    return {"integrations": integration_states(), "checklist": first_run_checklist()}
