"""Waking the drain: a task queued once after deliveries commit, not one per delivery."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def events_wake() -> None:
    """Make sure a drain task starts after this moment (so it sees every event committed
    before it), without queueing a task per delivery.

    A flag in Redis says a drain is queued and has not started yet; only the delivery that sets
    it queues a task. The drain clears the flag before it claims events, so an event committed
    before a failed attempt to set the flag is claimed by that queued drain. The flag expires:
    a task lost with its broker is queued again by a later delivery (and the sweeper catches
    what is left pending meanwhile)."""
    from ..tasks import events_drain_task

    if eager():
        events_drain_task.delay()
        return
    flags = _redis()
    if flags.set(WAKE_FLAG, "1", nx=True, ex=WAKE_FLAG_SECONDS):
        try:
            events_drain_task.delay()
        except Exception:
            flags.delete(WAKE_FLAG)
            raise


def events_wake_soon() -> None:
    """events_wake() from this process's waker thread within WAKE_DELAY (50 ms): deliveries
    arriving together share one wake (one Redis round trip) instead of paying one each. Called
    after the delivery's commit, so the wake that follows still comes after it. Eager mode
    (no broker) wakes at once, in this thread."""
    if eager():
        events_wake()
        return
    _waker.request()


def eager() -> bool:
    """Tasks run in this process (no broker): nothing to wake. Read once per process (Celery's
    configuration lookup costs a delivery more than the rest of the wake-up)."""
    global eager_cached
    if eager_cached is None:
        from celery import current_app

        eager_cached = bool(current_app.conf.task_always_eager)
    return eager_cached


eager_cached: bool | None = None


class _Waker:
    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._pid = 0

    def request(self) -> None:
        if self._pid != os.getpid():  # first use in this process (gunicorn forks workers)
            self._pid = os.getpid()
            self._wanted = threading.Event()
            threading.Thread(target=self._run, name="events-waker", daemon=True).start()
        if not self._wanted.is_set():  # already due: nothing to notify (a notify costs)
            self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            time.sleep(WAKE_DELAY)
            # Cleared before waking: a request from now on is served by the next round.
            self._wanted.clear()
            try:
                events_wake()
            except Exception:  # the sweeper queues what is left pending
                logger.exception("could not wake the event drain")


WAKE_DELAY = 0.05
_waker = _Waker()
WAKE_FLAG = f"pointagram:{settings.CELERY_TASK_DEFAULT_QUEUE}:drain-queued"
WAKE_FLAG_SECONDS = 30
_redis_client: Any = None


def _redis() -> Any:
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=5
        )
    return _redis_client


def wake_flag_clear() -> None:
    """A drain has started: the next delivery queues the next drain (see events_wake)."""
    if not eager():
        _redis().delete(WAKE_FLAG)
