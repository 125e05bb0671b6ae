from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services
from .sources import SourceUnavailable


@shared_task(
    name="integrations.event_process",
    # The database went away mid-task: the transaction rolled back, so try again later.
    # The source's API is down (HubSpot records): the event stays pending; try again later.
    autoretry_for=(OperationalError, InterfaceError, SourceUnavailable),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=8,
)
def event_process_task(event_id: int) -> None:
    services.event_process(event_id=event_id)
