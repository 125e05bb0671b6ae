from __future__ import annotations

from celery import shared_task

from .competitions import competitions_advance


@shared_task(name="scoring.competitions_advance")
def competitions_advance_task() -> None:
    """Beat: start, end (freezing standings and winners, once) and renew competition rounds."""
    competitions_advance()
