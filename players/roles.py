"""The site's roles: each a Django group, declared once with the permissions it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Role:
    group: str
    # app label -> model name -> actions (`add`, `change`, `delete`, `view`), or a model's
    # custom permission codename under the app label itself (key "").
    permissions: dict[str, dict[str, tuple[str, ...]]]

    def codenames(self) -> list[tuple[str, str]]:
        """(app label, codename) of every permission the role holds, sorted."""
        return sorted(
            (app_label, f"{action}_{model}" if model else action)
            for app_label, models in self.permissions.items()
            for model, actions in models.items()
            for action in actions
        )


# Configures integrations, steps, series and players; reads the ledger, totals and events; adds
# scores through the API; never edits ledger rows (the admin refuses that to everyone). Named by
# string: players sits below the apps whose permissions it lists.
SCORING_ADMIN = Role(
    group="scoring admin",
    permissions={
        "integrations": {
            "integration": ("add", "change", "delete", "view"),
            "integrationstep": ("add", "change", "delete", "view"),
            "stepfilter": ("add", "change", "delete", "view"),
            "webhookevent": ("view",),
            "syncrun": ("view",),
            "seenchange": ("view",),
        },
        "scoring": {
            "": ("scoring_admin",),
            "scoreseries": ("add", "change", "view"),
            "pointtype": ("add", "change", "delete", "view"),
            "tag": ("add", "change", "view"),
            "transaction": ("view",),
            "awardstate": ("view",),
            "dailytotal": ("view",),
            "monthlytotal": ("view",),
            "team": ("add", "change", "delete", "view"),
            "competition": ("add", "change", "delete", "view"),
            "competitionparticipant": ("add", "change", "delete", "view"),
            "competitionstanding": ("view",),
        },
        "players": {
            "player": ("add", "change", "view"),
            "playeridentity": ("add", "change", "delete", "view"),
        },
    },
)


def role_apply(apps: Any, role: Role) -> None:
    """Give the role's group exactly the declared permissions (creating the group, and the
    permissions, which Django otherwise creates only after all migrations). `apps`: a migration's
    historical apps, or django.apps.apps."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True  # historical apps have none
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=role.group)
    # Of a model the migrations have not made yet (an earlier migration applying the role as
    # declared now), nothing: the migration that adds the model applies the role again.
    wanted = [
        (app_label, codename)
        for app_label, codename in role.codenames()
        if _model_exists(apps, app_label, codename, role)
    ]
    found = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in wanted
    ]
    group.permissions.set(found)


def _model_exists(apps: Any, app_label: str, codename: str, role: Role) -> bool:
    for model, actions in role.permissions[app_label].items():
        if model and codename in {f"{action}_{model}" for action in actions}:
            try:
                apps.get_model(app_label, model)
            except LookupError:
                return False
    return True
