"""The default setup of a new Pipedrive integration (DESIGN §5), in the import file's shape."""

from __future__ import annotations

from typing import Any


def _activity_step(name: str, activity_type: str) -> dict[str, Any]:
    return {
        "kind": "points",
        "name": name,
        "source_type": "activity",
        "series": "Activities",
        "points": "1",
        "score_id": "id",
        "player_id": "owner_id",
        "player_id_prefix": "pd:",
        "comment": "subject",
        "revoke": "on_change",
        "filters": [
            {"field": "done", "operator": "in", "values": ["true"]},
            {"field": "type", "operator": "in", "values": [activity_type]},
        ],
    }


DEFAULT_CONFIG: dict[str, Any] = {
    "series": [{"name": "Deals"}, {"name": "Activities"}],
    "steps": [
        {
            "kind": "users",
            "name": "Users",
            "source_type": "user",
            "player_id": "id",
            "player_id_prefix": "pd:",
            "player_name": "name",
            "player_email": "email",
            "filters": [{"field": "active_flag", "operator": "in", "values": ["true"]}],
        },
        {
            "kind": "points",
            "name": "Won deals",
            "source_type": "deal",
            "series": "Deals",
            "points": "value",
            "score_id": "id",
            "player_id": "owner_id",
            "player_id_prefix": "pd:",
            "comment": "title",
            "point_time": "won_time",
            "revoke": "on_change",
            "filters": [{"field": "status", "operator": "in", "values": ["won"]}],
        },
        _activity_step("Completed calls", "call"),
        _activity_step("Completed meetings", "meeting"),
    ],
}
