"""Helpers shared by the tests: fixture files and waiting for another process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "integrations" / "sources"

T = TypeVar("T")


def fixture_path(name: str) -> Path:
    """A payload kept in the repo: 'pipedrive/v2-deal-change.json' is the Pipedrive source's
    (integrations/sources/pipedrive/tests/fixtures/), anything else is under tests/fixtures/."""
    source, _, rest = name.partition("/")
    beside_adapter = SOURCES / source / "tests" / "fixtures" / rest
    if rest and beside_adapter.is_file():
        return beside_adapter
    return ROOT / "tests" / "fixtures" / name


def fixture_bytes(name: str) -> bytes:
    return fixture_path(name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def wait_for(predicate: Callable[[], T | None], *, timeout: float = 30.0, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def step_update(integration: Any, name: str, **changes: Any) -> Any:
    """Change fields of the integration's step called `name`, as an admin would, and save."""
    step = integration.steps.get(name=name)
    for field, value in changes.items():
        setattr(step, field, value)
    step.save()
    return step
