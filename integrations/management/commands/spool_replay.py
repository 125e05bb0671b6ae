from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from integrations.spool import spool_replay


class Command(BaseCommand):
    help = "Move deliveries spooled while the database was down into the events table, once each."

    def handle(self, *args: Any, **options: Any) -> None:
        result = spool_replay()
        self.stdout.write(
            f"stored {result.stored}, already stored {result.duplicates}, refused {result.rejected}"
        )
