from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.config_file import ConfigError, integration_import_report


class Command(BaseCommand):
    help = "Create or update an integration (matched by name) from a JSON file (DESIGN §8)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="path of the JSON file, or - for standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            if path == "-":
                import sys

                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from None
        try:
            report = integration_import_report(data=data)
        except ConfigError as exc:
            lines = "\n".join(f"  - {p}" for p in exc.problems)
            raise CommandError(
                f"{path} was refused, nothing changed ({len(exc.problems)} problem(s)):\n{lines}"
            ) from None
        integration = report.integration
        verb = "created" if report.created else "updated"
        steps = integration.steps.count()
        self.stdout.write(f"{verb} integration '{integration.name}' ({steps} steps)")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
