"""Zendesk: event webhooks for tickets and users, signed; pulls through the Support API."""

from __future__ import annotations

from integrations.sources.registry import Field, Source

from . import sync
from .adapter import Adapter
from .defaults import DEFAULT_CONFIG

SOURCE = Source(
    type="zendesk",
    label="Zendesk",
    adapter=Adapter(),
    credentials=(
        Field(
            "signing_secret",
            "Signing secret",
            help="The webhook's signing secret (Admin Center → Apps and integrations → Webhooks "
            "→ your webhook → Signing secret → Reveal secret). Set, every delivery must carry a "
            "valid X-Zendesk-Webhook-Signature from the last 5 minutes.",
            secret=True,
            signs_in=True,
            max_length=200,
        ),
        Field(
            "subdomain",
            "Subdomain",
            help="Your Zendesk's subdomain: acme for acme.zendesk.com. Pulls call its API.",
            max_length=63,
            pattern=r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
            pattern_problem="must be letters, digits and hyphens only (acme for acme.zendesk.com)",
            placeholder="acme",
        ),
        Field(
            "email",
            "Email",
            help="The email of the agent or admin the API token signs in as.",
            max_length=254,
            pattern=r"[^@\s]+@[^@\s]+",
            pattern_problem="is not an email address",
            goes_with="api_token",
        ),
        Field(
            "api_token",
            "API token",
            help="For Import users now and Backfill: Admin Center → Apps and integrations → "
            "APIs → Zendesk API → Settings (token access on) → Add API token.",
            secret=True,
            max_length=200,
            goes_with="email",
        ),
        Field(
            "api_base_url",
            "API base URL",
            help="Blank: https://<subdomain>.zendesk.com. Other hosts only when "
            "OUTBOUND_ALLOWED_HOSTS names them.",
            kind="url",
            placeholder="https://acme.zendesk.com",
        ),
    ),
    sign_in_help="In Zendesk, open Admin Center → Apps and integrations → Webhooks → Create "
    "webhook, choose Zendesk events and subscribe to the ticket and user events your steps use: "
    "for the default steps Ticket status changed, Ticket agent assignment changed, Ticket soft "
    "deleted and permanently deleted, User created, User name changed and User role changed "
    "(the ticket or user in each event is what the steps read). Paste this "
    "URL as the endpoint (POST, JSON). Then open the webhook's details, Reveal the signing "
    "secret and paste it below: unsigned or expired deliveries are then refused.",
    kept_headers=("X-Zendesk-Webhook-Signature-Timestamp",),
    pull_credential="api_token",
    sync=sync,
    defaults=DEFAULT_CONFIG,
    outbound_hosts=("*.zendesk.com",),  # https://<subdomain>.zendesk.com
)
