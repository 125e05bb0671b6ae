from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from integrations.config_file import integration_import
from integrations.models import Integration
from integrations.sources.pipedrive import SOURCE as PIPEDRIVE
from players.services import player_upsert

DEMO_INTEGRATION = "Pipedrive (demo)"
DEMO_PLAYERS = [
    ("pd:12415231", "Ann Seller", "ann@example.com"),
    ("pd:1002", "Bob Closer", "bob@example.com"),
    ("pd:1003", "Cleo Caller", "cleo@example.com"),
]


class Command(BaseCommand):
    help = (
        "Load the demo data (idempotent: running it again changes nothing) and give the 'admin' "
        "login a new generated password, printed once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the site runs")

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["url"].rstrip("/")
        integration = Integration.objects.filter(name=DEMO_INTEGRATION).first()
        created = integration is None
        if integration is None:
            # No `steps` key: a new Pipedrive integration gets its default steps and series.
            integration, _ = integration_import(
                data={"name": DEMO_INTEGRATION, "type": PIPEDRIVE.type}
            )
        for external_id, name, email in DEMO_PLAYERS:
            player_upsert(external_id=external_id, name=name, email=email)
        self.stdout.write(
            f"Demo integration {'created' if created else 'already there'}: {integration.name} "
            f"({integration.steps.count()} steps), webhook URL {base}{integration.webhook_path}"
        )

        User = get_user_model()
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(username="admin").first()
        if user is None:
            User.objects.create_superuser("admin", "admin@localhost", password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Log in at {base}/admin/ as user 'admin' with password {password} "
                "(a new password is generated every time this runs)"
            )
        )
