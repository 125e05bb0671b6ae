from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from integrations.models import Integration

DEMO_INTEGRATION = "Pipedrive (demo)"


class Command(BaseCommand):
    help = (
        "Load the demo data (idempotent: running it again changes nothing) and give the 'admin' "
        "login a new generated password, printed once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the site runs")

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["url"].rstrip("/")
        integration, created = Integration.objects.get_or_create(
            name=DEMO_INTEGRATION, defaults={"type": Integration.Type.PIPEDRIVE}
        )
        self.stdout.write(
            f"Demo integration {'created' if created else 'already there'}: {integration.name}, "
            f"webhook URL {base}{integration.webhook_path}"
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
