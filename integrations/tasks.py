from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from .services.apply import event_process
from .services.drain import event_retry_note, events_drain, events_sweep
from .services.maintenance import events_prune
from .services.wake import eager
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
    try:
        event_process(event_id=event_id)
    except SourceUnavailable as exc:
        event_retry_note(event_id=event_id, error=f"will retry: {exc}")
        raise


@shared_task(
    name="integrations.events_drain",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=8,
)
def events_drain_task() -> None:
    """Process pending events in batches; a full batch queues the next drain first, so that
    every worker process takes part in a backlog."""
    if eager():  # in-process: drain batch after batch here, no recursion
        while events_drain() >= settings.EVENT_BATCH_SIZE:
            pass
        return
    events_drain(more=events_drain_task.delay)


@shared_task(name="integrations.sync_page")
def sync_page_task(run_id: int) -> None:
    from .sync import sync_page

    sync_page(run_id=run_id)


@shared_task(name="integrations.syncs_schedule")
def syncs_schedule_task() -> None:
    from .sync import syncs_schedule

    syncs_schedule()


@shared_task(name="integrations.events_sweep")
def events_sweep_task() -> None:
    events_sweep()


@shared_task(name="integrations.events_prune")
def events_prune_task() -> None:
    events_prune()


@shared_task(name="integrations.spool_replay")
def spool_replay_task() -> None:
    from .spool import spool_replay

    spool_replay()
