"""The "scoring admin" group: configures integrations, steps, series and players; reads the
ledger and events; never edits ledger rows (the admin refuses that to everyone)."""

from django.db import migrations

GROUP = "scoring admin"
PERMISSIONS = {
    "integrations": {
        "integration": ("add", "change", "delete", "view"),
        "integrationstep": ("add", "change", "delete", "view"),
        "stepfilter": ("add", "change", "delete", "view"),
        "webhookevent": ("view",),
        "syncrun": ("view",),
        "seenchange": ("view",),
    },
    "scoring": {
        "scoreseries": ("add", "change", "view"),
        "pointtype": ("add", "change", "delete", "view"),
        "tag": ("add", "change", "view"),
        "transaction": ("view",),
        "awardstate": ("view",),
    },
    "players": {
        "player": ("add", "change", "view"),
        "playeridentity": ("add", "change", "delete", "view"),
    },
}


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; this group needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            for action in actions:
                group.permissions.add(
                    Permission.objects.get(
                        content_type__app_label=app_label, codename=f"{action}_{model}"
                    )
                )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0001_initial"),
        ("integrations", "0006_event_source_refs"),
        ("scoring", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
