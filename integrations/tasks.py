from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="integrations.event_process")
def event_process_task(event_id: int) -> None:
    services.event_process(event_id=event_id)
