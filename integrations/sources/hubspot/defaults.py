"""The default setup of a new HubSpot integration (DESIGN §5), in the import file's shape."""

from __future__ import annotations

from typing import Any

DEFAULT_CONFIG: dict[str, Any] = {
    "series": [{"name": "Deals"}],
    "steps": [
        {
            # HubSpot owners have no webhooks: "Import users now" pulls them from the owners API.
            "kind": "users",
            "name": "Users",
            "source_type": "owner",
            "player_id": "id",
            "player_id_prefix": "hs:",
            "player_name": "name",
            "player_email": "email",
            "filters": [{"field": "archived", "operator": "in", "values": ["false"]}],
        },
        {
            "kind": "points",
            "name": "Won deals",
            "source_type": "deal",
            "series": "Deals",
            "points": "amount",
            "score_id": "id",
            "player_id": "hubspot_owner_id",
            "player_id_prefix": "hs:",
            "comment": "dealname",
            "point_time": "closedate",
            "revoke": "on_change",
            "filters": [{"field": "dealstage", "operator": "in", "values": ["closedwon"]}],
        },
    ],
}
