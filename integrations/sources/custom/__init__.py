"""Custom: no webhooks; points come through the REST API (add score) with an API token."""

from __future__ import annotations

from integrations.sources.registry import NoDeliveries, Source

SOURCE = Source(
    type="custom",
    label="Custom (API only)",
    adapter=NoDeliveries(),
    sign_in_help="Custom integrations take no webhooks: send points with POST /api/v1/scores/ "
    "and an API token (manage.py drf_create_token USERNAME).",
    api_only=True,
)
