"""The scoring admin group holds exactly the permissions players.roles declares (the same as
0002-0005 gave it); a change to the role is a new migration that calls role_apply again."""

from django.db import migrations

from players.roles import SCORING_ADMIN, role_apply


def apply(apps, schema_editor):
    role_apply(apps, SCORING_ADMIN)


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0005_scoring_admin_views_monthly_totals"),
        ("integrations", "0011_event_indexes_lean"),
        ("scoring", "0004_monthly_totals"),
    ]

    operations = [migrations.RunPython(apply, migrations.RunPython.noop)]
