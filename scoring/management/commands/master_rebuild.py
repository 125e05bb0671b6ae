from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.masters import master_rebuild
from scoring.models import ScoreSeries


class Command(BaseCommand):
    help = (
        "Re-derive a master score series from its links as they are now: every row of a linked "
        "series stands in the master as its points x the link's factor (rounded half-up per "
        "row), rows of series no longer linked stand for nothing. Only appends ledger rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("series", help="the master series' name (or id)")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["series"].strip()
        master = ScoreSeries.objects.filter(name__iexact=name).first()
        if master is None and name.isdigit():
            master = ScoreSeries.objects.filter(pk=int(name)).first()
        if master is None:
            raise CommandError(f"no score series named {name!r}")
        try:
            done = master_rebuild(master=master)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            f"{master.name}: {done.revoked} derived rows revoked, {done.booked} booked"
        )
