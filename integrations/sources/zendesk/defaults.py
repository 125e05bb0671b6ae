"""The default setup of a new Zendesk integration (DESIGN §5), in the import file's shape."""

from __future__ import annotations

from typing import Any

DEFAULT_CONFIG: dict[str, Any] = {
    "series": [{"name": "Tickets"}],
    "steps": [
        {
            # "Import users now" pulls agents and admins; user events feed it too. Their
            # requesters (end users) are users as well: the role filter keeps them out.
            "kind": "users",
            "name": "Users",
            "source_type": "user",
            "player_id": "id",
            "player_id_prefix": "zd:",
            "player_name": "name",
            "player_email": "email",
            "filters": [{"field": "role", "operator": "in", "values": ["agent", "admin"]}],
        },
        {
            "kind": "points",
            "name": "Solved tickets",
            "source_type": "ticket",
            "series": "Tickets",
            "points": "1",
            "score_id": "id",
            "player_id": "assignee_id",
            "player_id_prefix": "zd:",
            "comment": "subject",
            # Revoked when the ticket is reopened (it no longer passes the filter). Zendesk
            # closes solved tickets by itself after a few days: closed keeps the point.
            "revoke": "on_change",
            "filters": [{"field": "status", "operator": "in", "values": ["solved", "closed"]}],
        },
    ],
}
