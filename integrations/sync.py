"""Pull syncs: "Import users now" and "Backfill since DATE", one page per task.

Each page's records go through changes_apply, the same reconcile path as webhooks, so a backfill
that overlaps webhooks books nothing twice. A page is applied in one transaction together with
the run's progress and cursor: a worker that dies mid-page leaves the run where it was, and the
redelivered task applies the page again (booking nothing new).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from scoring.booking import Booking

from .models import Integration, SyncRun
from .services.apply import changes_apply
from .sources import SourceUnavailable

logger = logging.getLogger(__name__)

DONE = "__done__"


class SyncNotPossible(Exception):
    pass


def sync_start(*, integration: Integration, kind: str, since: datetime | None = None) -> SyncRun:
    """Create a run and queue its first page. Raises SyncNotPossible with the reason."""
    source = integration.source
    if source is None or source.sync is None:
        raise SyncNotPossible(f"{integration.get_type_display()} integrations cannot pull data")
    token = source.credential(source.pull_credential)
    if token is not None and not integration.credentials.get(token.key):
        raise SyncNotPossible(f"set {token.label} in the integration's credentials first")
    refused = source.url_problems(integration.credentials)  # saved before the rule was
    if refused:
        raise SyncNotPossible(next(iter(refused.values())))
    if kind == SyncRun.Kind.BACKFILL and since is None:
        raise SyncNotPossible("a backfill needs a date to start from")
    run = SyncRun.objects.create(integration=integration, kind=kind, since=since)
    sync_enqueue_on_commit(run_id=run.pk)
    return run


def sync_enqueue_on_commit(*, run_id: int) -> None:
    from .tasks import sync_page_task

    transaction.on_commit(lambda: sync_page_task.delay(run_id), robust=True)


def _listened(integration: Integration) -> set[str]:
    return {
        t.lower()
        for t in integration.steps.filter(enabled=True).values_list("source_type", flat=True)
    }


def sync_page(*, run_id: int) -> SyncRun | None:
    """Pull and apply the run's next page; queue the page after it. Returns the run."""
    run = SyncRun.objects.select_related("integration").filter(pk=run_id).first()
    if run is None or run.status in (SyncRun.Status.DONE, SyncRun.Status.FAILED):
        return run
    integration = run.integration
    module = integration.source.sync if integration.source else None
    if module is None:  # the type is no longer registered
        return _fail(run, f"{integration.get_type_display()} integrations cannot pull data")
    types = module.object_types(run.kind, _listened(integration))
    pending = [t for t in types if run.cursor.get(t) != DONE]
    if not pending:
        return _finish(run)
    object_type = pending[0]
    try:
        with module.api_client(integration) as client:
            page = module.page(
                integration, client, object_type, run.cursor.get(object_type), run.since
            )
    except SourceUnavailable as exc:
        return _fail(run, str(exc))

    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run_id)
        if locked.cursor.get(object_type) != run.cursor.get(object_type):
            return locked  # another worker applied this page meanwhile
        booking = Booking()
        verdict = changes_apply(
            integration=integration,
            changes=page.changes,
            event=None,
            received_at=timezone.now(),
            booking=booking,
        )
        booking.flush()
        locked.status = SyncRun.Status.RUNNING
        locked.done += len(page.changes)
        locked.pages += 1
        if page.total is not None and run.cursor.get(object_type) is None:
            locked.total = (locked.total or 0) + page.total  # the source told, on the first page
        locked.booked += sum(len(o.get("transactions", [])) for o in verdict.outcome)
        errors = [o["message"] for o in verdict.outcome if o.get("result") == "error"]
        locked.step_errors += len(errors)
        if errors:
            locked.error = "\n".join([*locked.error.splitlines(), *errors][-20:])
        locked.cursor = {**locked.cursor, object_type: page.next_cursor or DONE}
        locked.save()
        if len(pending) == 1 and page.next_cursor is None:
            return _finish(locked)
        sync_enqueue_on_commit(run_id=run_id)
    return locked


def _fail(run: SyncRun, error: str) -> SyncRun:
    run.status = SyncRun.Status.FAILED
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def _finish(run: SyncRun) -> SyncRun:
    run.status = SyncRun.Status.DONE
    run.finished_at = timezone.now()
    if run.total is None or run.total < run.done:
        run.total = run.done
    run.save(update_fields=["status", "finished_at", "total"])
    return run


def syncs_schedule(*, overlap_minutes: int = 10, first_days: int = 1) -> list[SyncRun]:
    """Celery beat's entry point: for every enabled integration that can pull, import users
    and backfill since the last backfill started (minus an overlap), or `first_days` ago."""
    started = []
    for integration in Integration.objects.filter(enabled=True):
        if integration.source is None or integration.source.sync is None:
            continue
        last = integration.syncs.filter(
            kind=SyncRun.Kind.BACKFILL, status=SyncRun.Status.DONE
        ).first()
        since = last.created_at if last else timezone.now() - timedelta(days=first_days)
        since -= timedelta(minutes=overlap_minutes)
        for kind, when in ((SyncRun.Kind.USERS, None), (SyncRun.Kind.BACKFILL, since)):
            try:
                started.append(sync_start(integration=integration, kind=kind, since=when))
            except SyncNotPossible as exc:
                logger.info("not syncing %s: %s", integration, exc)
    return started
