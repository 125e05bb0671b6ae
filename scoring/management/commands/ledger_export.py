from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.values import time_parse
from scoring.ledger_csv import ledger_queryset, ledger_write


def _time(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return time_parse(value)
    except ValueError:
        raise CommandError(f"--{name} {value!r} is not an ISO 8601 date/time") from None


class Command(BaseCommand):
    help = "Print the ledger as CSV, oldest first (DESIGN §8). Times are point times, in UTC."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--series", help="only this score series (by name)")
        parser.add_argument("--player", help="only this player (by external id, e.g. pd:42)")
        parser.add_argument("--since", help="point time at or after (ISO 8601)")
        parser.add_argument("--until", help="point time before (ISO 8601)")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = ledger_queryset(
            series=options["series"],
            player_external_id=options["player"],
            since=_time("since", options["since"]),
            until=_time("until", options["until"]),
        )
        ledger_write(self.stdout, rows.iterator(chunk_size=2000))
