from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from scoring.ledger_csv import ledger_queryset, ledger_write


def _time(name: str, value: str | None) -> datetime | None:
    """ISO 8601 (`Z` or an offset; without a zone, UTC) or epoch seconds or milliseconds, as
    the point time columns of steps read them."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
            return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, tz=UTC)
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except (OverflowError, OSError, ValueError):
        raise CommandError(f"--{name} {value!r} is not an ISO 8601 date/time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
