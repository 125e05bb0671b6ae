"""The Celery settings we rely on really reach Celery (a misspelled name is silently ignored)."""

from __future__ import annotations

from celery.app.defaults import NAMESPACES, flatten
from django.conf import settings

from pointagram_site.celery import app


def test_reliability_settings_hold() -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 900
    # A task still running when the visibility timeout ends would be handed to a second worker.
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert conf.task_soft_time_limit < conf.task_time_limit


def test_every_celery_setting_is_a_name_celery_knows() -> None:
    known = {f"CELERY_{pair[0].upper()}" for pair in flatten(NAMESPACES)}
    ours = {name for name in dir(settings) if name.startswith("CELERY_")}

    assert ours, "no CELERY_ settings found"
    assert ours - known == set()


def test_broker_comes_from_the_environment() -> None:
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_always_eager is (not settings.CELERY_BROKER_URL)
