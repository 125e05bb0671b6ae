"""players <- scoring <- integrations: a lower app imports nothing from the apps above it, and
the role that spans them all is declared once, in the lowest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from players.roles import SCORING_ADMIN, role_apply

ROOT = Path(__file__).resolve().parent.parent


def imported_apps(app: str) -> dict[str, set[str]]:
    """The top-level packages each module of the app imports (under TYPE_CHECKING too, and
    inside functions), migrations left out."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_scoring_imports_nothing_from_integrations() -> None:
    modules = imported_apps("scoring")
    assert "scoring/services.py" in modules
    assert {m: n for m, n in modules.items() if "integrations" in n} == {}


def test_players_imports_nothing_from_scoring_or_integrations() -> None:
    modules = imported_apps("players")
    assert "players/services.py" in modules
    above = {"scoring", "integrations"}
    assert {m: n & above for m, n in modules.items() if n & above} == {}


SCORING_ADMIN_PERMISSIONS = [
    ("integrations", "add_integration"),
    ("integrations", "add_integrationstep"),
    ("integrations", "add_stepfilter"),
    ("integrations", "change_integration"),
    ("integrations", "change_integrationstep"),
    ("integrations", "change_stepfilter"),
    ("integrations", "delete_integration"),
    ("integrations", "delete_integrationstep"),
    ("integrations", "delete_stepfilter"),
    ("integrations", "view_integration"),
    ("integrations", "view_integrationstep"),
    ("integrations", "view_seenchange"),
    ("integrations", "view_stepfilter"),
    ("integrations", "view_syncrun"),
    ("integrations", "view_webhookevent"),
    ("players", "add_player"),
    ("players", "add_playeridentity"),
    ("players", "change_player"),
    ("players", "change_playeridentity"),
    ("players", "delete_playeridentity"),
    ("players", "view_player"),
    ("players", "view_playeridentity"),
    ("scoring", "add_competition"),
    ("scoring", "add_competitionparticipant"),
    ("scoring", "add_pointtype"),
    ("scoring", "add_scoreseries"),
    ("scoring", "add_tag"),
    ("scoring", "add_team"),
    ("scoring", "change_competition"),
    ("scoring", "change_competitionparticipant"),
    ("scoring", "change_pointtype"),
    ("scoring", "change_scoreseries"),
    ("scoring", "change_tag"),
    ("scoring", "change_team"),
    ("scoring", "delete_competition"),
    ("scoring", "delete_competitionparticipant"),
    ("scoring", "delete_pointtype"),
    ("scoring", "delete_team"),
    ("scoring", "scoring_admin"),
    ("scoring", "view_awardstate"),
    ("scoring", "view_competition"),
    ("scoring", "view_competitionparticipant"),
    ("scoring", "view_competitionstanding"),
    ("scoring", "view_dailytotal"),
    ("scoring", "view_monthlytotal"),
    ("scoring", "view_pointtype"),
    ("scoring", "view_scoreseries"),
    ("scoring", "view_tag"),
    ("scoring", "view_team"),
    ("scoring", "view_transaction"),
]


def held(group: Group) -> list[tuple[str, str]]:
    return sorted(group.permissions.values_list("content_type__app_label", "codename"))


@pytest.mark.django_db
def test_the_scoring_admin_role_gives_its_group_exactly_the_declared_permissions() -> None:
    group = Group.objects.get(name=SCORING_ADMIN.group)
    assert held(group) == SCORING_ADMIN_PERMISSIONS  # as the migrations left it

    group.permissions.add(Permission.objects.get(codename="delete_transaction"))
    group.permissions.remove(Permission.objects.get(codename="view_tag"))
    role_apply(apps, SCORING_ADMIN)

    assert held(group) == SCORING_ADMIN_PERMISSIONS
