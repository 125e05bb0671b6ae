"""Pipedrive: webhooks v1 and v2, HTTP basic auth, pulls through the REST API."""

from __future__ import annotations

from integrations.sources.registry import Field, Source

from . import sync
from .adapter import Adapter
from .defaults import DEFAULT_CONFIG

SOURCE = Source(
    type="pipedrive",
    label="Pipedrive",
    adapter=Adapter(),
    credentials=(
        Field(
            "basic_auth_user",
            "Basic auth user",
            help="Optional. Set a user and password here and enter the same in Pipedrive's "
            "webhook form (HTTP Auth): deliveries without them are refused.",
            signs_in=True,
            max_length=200,
            goes_with="basic_auth_password",
        ),
        Field(
            "basic_auth_password",
            "Basic auth password",
            help="The password that goes with the basic auth user.",
            secret=True,
            max_length=200,
        ),
        Field(
            "api_token",
            "API token",
            help="For Import users now and Backfill: Pipedrive → Personal preferences → API.",
            secret=True,
            max_length=200,
        ),
        Field(
            "api_base_url",
            "API base URL",
            help="Blank: https://api.pipedrive.com. Your company domain "
            "(https://yourcompany.pipedrive.com) also works; other hosts only when "
            "OUTBOUND_ALLOWED_HOSTS names them.",
            kind="url",
            placeholder="https://api.pipedrive.com",
        ),
    ),
    sign_in_help="In Pipedrive, open Settings → (Tools and apps) → Webhooks → Create new webhook, "
    "choose the event (e.g. *.deal, *.activity, *.user) and paste this URL as the endpoint. To "
    "require HTTP basic auth, fill in Basic auth user and password below and the same under "
    "HTTP Auth in Pipedrive.",
    challenge='Basic realm="webhook"',
    pull_credential="api_token",
    sync=sync,
    defaults=DEFAULT_CONFIG,
    outbound_hosts=("api.pipedrive.com", "*.pipedrive.com"),
)
