"""The scoring admin group may also write through the API (scoring.scoring_admin)."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="scoring admin")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="scoring", codename="scoring_admin")
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="scoring admin"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="scoring", codename="scoring_admin")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0002_scoring_admin_group"),
        ("scoring", "0002_api_scores"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
