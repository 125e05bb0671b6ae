"""The scoring admin group may read the maintained daily totals."""

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
        Permission.objects.get(content_type__app_label="scoring", codename="view_dailytotal")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0003_scoring_admin_api_permission"),
        ("scoring", "0003_daily_totals"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
