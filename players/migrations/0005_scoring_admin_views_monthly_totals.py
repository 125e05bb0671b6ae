"""The scoring admin group may read the maintained monthly totals."""

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
        Permission.objects.get(content_type__app_label="scoring", codename="view_monthlytotal")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0004_scoring_admin_views_daily_totals"),
        ("scoring", "0004_monthly_totals"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
