"""The default setup of a new Salesforce integration (DESIGN §5), in the import file's shape.

Field names are the API names an outbound message (and the REST API) uses: `IsWon`, `OwnerId`.
"""

from __future__ import annotations

from typing import Any

DEFAULT_CONFIG: dict[str, Any] = {
    "series": [{"name": "Deals"}, {"name": "Activities"}],
    "steps": [
        {
            # "Import users now" pulls active users; an outbound message on User feeds it too.
            "kind": "users",
            "name": "Users",
            "source_type": "user",
            "player_id": "Id",
            "player_id_prefix": "sf:",
            "player_name": "Name",
            "player_email": "Email",
            "filters": [{"field": "IsActive", "operator": "in", "values": ["true"]}],
        },
        {
            "kind": "points",
            "name": "Won opportunities",
            "source_type": "opportunity",
            "series": "Deals",
            "points": "Amount",
            "score_id": "Id",
            "player_id": "OwnerId",
            "player_id_prefix": "sf:",
            "comment": "Name",
            "point_time": "CloseDate",
            "revoke": "on_change",
            # IsWon, not StageName: it holds for every won stage, renamed or custom.
            "filters": [{"field": "IsWon", "operator": "in", "values": ["true"]}],
        },
        {
            "kind": "points",
            "name": "Completed calls",
            "source_type": "task",
            "series": "Activities",
            "points": "1",
            "score_id": "Id",
            "player_id": "OwnerId",
            "player_id_prefix": "sf:",
            "comment": "Subject",
            "revoke": "on_change",
            "filters": [
                {"field": "Status", "operator": "in", "values": ["Completed"]},
                {"field": "TaskSubtype", "operator": "in", "values": ["Call"]},
            ],
        },
    ],
}
