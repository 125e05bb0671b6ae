"""Credentials are an object of declared fields. Before, the admin's JSON box took anything: a
row whose credentials are not an object (`["a"]`) made every delivery to it fail with a 500.
Such rows get empty credentials (nothing in them could be used)."""

from django.db import migrations, models


def credentials_objects(apps, schema_editor):
    Integration = apps.get_model("integrations", "Integration")
    for integration in Integration.objects.only("pk", "credentials"):
        credentials = integration.credentials
        if not isinstance(credentials, dict):
            credentials = {}
        elif "paths" in credentials and not isinstance(credentials["paths"], dict):
            credentials = {k: v for k, v in credentials.items() if k != "paths"}
        else:
            continue
        Integration.objects.filter(pk=integration.pk).update(credentials=credentials)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0012_type_from_registry"),
    ]

    operations = [
        migrations.AlterField(
            model_name="integration",
            name="credentials",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The credential fields the integration's type declares.",
            ),
        ),
        migrations.RunPython(credentials_objects, migrations.RunPython.noop),
    ]
