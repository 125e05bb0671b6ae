"""The scoring admin configures teams and competitions, and reads frozen standings."""

from django.db import migrations

from players.roles import SCORING_ADMIN, role_apply


def apply(apps, schema_editor):
    role_apply(apps, SCORING_ADMIN)


class Migration(migrations.Migration):
    dependencies = [
        ("players", "0006_scoring_admin_role"),
        ("scoring", "0005_teams_masters_competitions"),
    ]

    operations = [migrations.RunPython(apply, migrations.RunPython.noop)]
