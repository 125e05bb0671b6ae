"""HubSpot: app webhooks signed with signature v3; records come from the CRM API."""

from __future__ import annotations

from integrations.sources.registry import Field, Source

from . import sync
from .adapter import Adapter
from .defaults import DEFAULT_CONFIG

SOURCE = Source(
    type="hubspot",
    label="HubSpot",
    adapter=Adapter(),
    credentials=(
        Field(
            "app_secret",
            "App secret",
            help="The app's client secret (HubSpot developer account → your app → Auth). Set, "
            "every delivery must carry a valid X-HubSpot-Signature-v3 from the last 5 minutes.",
            secret=True,
            signs_in=True,
            max_length=200,
        ),
        Field(
            "access_token",
            "Access token",
            help="A private app's access token with read access to the CRM objects your steps "
            "use: HubSpot sends only ids, so records are fetched with it (and pulls use it).",
            secret=True,
            max_length=500,
        ),
        Field(
            "api_base_url",
            "API base URL",
            help="Blank: https://api.hubapi.com. Calls go over https to api.hubapi.com only "
            "(OUTBOUND_ALLOWED_HOSTS adds hosts, e.g. a local stand-in).",
            kind="url",
            placeholder="https://api.hubapi.com",
        ),
    ),
    sign_in_help="In your HubSpot app's settings, open Webhooks, set the target URL to this URL "
    "and subscribe to the events your steps use (e.g. deal.propertyChange for dealstage, "
    "deal.creation, deal.deletion). Fill in App secret to check signatures and Access token so "
    "records can be fetched.",
    kept_headers=("X-HubSpot-Request-Timestamp", "X-HubSpot-Signature-Version"),
    pull_credential="access_token",
    sync=sync,
    defaults=DEFAULT_CONFIG,
    outbound_hosts=("api.hubapi.com",),
    max_changes=100,  # HubSpot sends batches of at most 100 events
    records_in_deliveries=False,
)
