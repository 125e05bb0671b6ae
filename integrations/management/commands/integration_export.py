from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.config_file import integration_export
from integrations.models import Integration


class Command(BaseCommand):
    help = 'Print an integration as JSON (DESIGN §8); secrets show as "***" unless asked for.'

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="the integration's name")
        parser.add_argument("--with-secrets", action="store_true", help="print secrets as stored")

    def handle(self, *args: Any, **options: Any) -> None:
        integration = Integration.objects.filter(name=options["name"]).first()
        if integration is None:
            names = ", ".join(Integration.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"no integration named {options['name']!r} (there are: {names})")
        data = integration_export(integration=integration, with_secrets=options["with_secrets"])
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
