from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from scoring.services import totals_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the maintained daily and monthly totals from the ledger (after changing "
        "TIME_ZONE, or after loading ledger rows in bulk)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{totals_rebuild()} daily totals written, and their monthly sums")
