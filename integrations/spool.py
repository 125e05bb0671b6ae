"""When PostgreSQL is down, deliveries are spooled to an fsynced local append-only file and
answered 202; a replayer moves them into the events table when PostgreSQL is back, once each.

Pipedrive retries a failing webhook for only about three minutes and then bans it and drops
events, so waiting for the database is not an option. Only when the spool cannot be written
either does the webhook answer 503.

Spool files live in WEBHOOK_SPOOL_DIR (per machine: run the replayer where the web processes
run; the web process itself replays when it finds spooled deliveries and the database answers).
A line holds the delivery, the SHA-256 of the webhook secret (never the secret), the headers we
keep, and whether its authentication was checked (against the integration as last read from the
database by this process).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Integration, WebhookEvent
from .sources.registry import headers_kept

logger = logging.getLogger(__name__)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def spool_dir() -> Path:
    path = Path(settings.WEBHOOK_SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def spool_write(*, secret: str, body: bytes, headers: Mapping[str, str], verified: bool) -> str:
    """Append one delivery durably (write, flush, fsync). Raises OSError when it cannot."""
    spool_id = uuid.uuid4().hex
    line = json.dumps(
        {
            "id": spool_id,
            "secret_sha256": secret_digest(secret),
            "received_at": timezone.now().isoformat(),
            "headers": {name: headers[name] for name in headers_kept(None) if name in headers},
            "body": base64.b64encode(body).decode(),
            "verified": verified,
        }
    )
    directory = spool_dir()
    used = sum(p.stat().st_size for p in directory.glob("*.jsonl"))
    if used + len(line) > settings.WEBHOOK_SPOOL_MAX_BYTES:
        # Unknown URLs cannot be told from known ones while the database is down: a cap keeps
        # a flood of them from filling the disk (the webhook then answers 503).
        raise OSError(
            f"the spool holds {used} bytes, its limit is {settings.WEBHOOK_SPOOL_MAX_BYTES}"
        )
    path = directory / f"spool-{os.getpid()}.jsonl"
    while True:
        with open(path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            # The replayer may have claimed (renamed) this file meanwhile: then write a new one.
            try:
                same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                continue
            if handle.tell() and not _ends_with_newline(path):
                handle.write("\n")  # a crash cut the last line: start ours on a line of its own
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            return spool_id


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def spool_pending() -> bool:
    directory = Path(settings.WEBHOOK_SPOOL_DIR)
    return directory.is_dir() and any(directory.glob("spool-*.jsonl"))


@dataclass
class ReplayResult:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0


def spool_replay() -> ReplayResult:
    """Move spooled deliveries into the events table and queue them. Safe to run anywhere, any
    number of times: each delivery is stored once (its spool id is unique)."""
    from .services.drain import event_enqueue_on_commit
    from .services.ingest import body_parse

    result = ReplayResult()
    directory = spool_dir()
    with open(directory / "replay.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return result  # another process is replaying
        by_digest = {secret_digest(i.webhook_secret): i for i in Integration.objects.all()}
        for path in sorted(directory.glob("spool-*.jsonl")):
            # Claim the file under its lock: a writer waiting for the lock sees the rename and
            # writes a fresh file; nothing is appended to a claimed file.
            with open(path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                path.rename(path.with_name(f"replaying-{uuid.uuid4().hex}-{path.name}"))
        for claimed in sorted(directory.glob("replaying-*.jsonl")):
            for raw in claimed.read_text(encoding="utf-8", errors="replace").splitlines():
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except ValueError:  # a line a crash cut short: keep it aside, go on
                    with open(directory / "unreadable.txt", "a", encoding="utf-8") as bad:
                        bad.write(raw + "\n")
                    logger.error("spool: an unreadable line was set aside in unreadable.txt")
                    result.rejected += 1
                    continue
                _replay_line(entry, by_digest, result, body_parse, event_enqueue_on_commit)
            claimed.unlink()
    if result.stored or result.rejected:
        logger.info("spool replay: %s stored, %s duplicates, %s rejected",
                    result.stored, result.duplicates, result.rejected)  # fmt: skip
    return result


def _replay_line(
    entry: dict[str, Any],
    by_digest: dict[str, Integration],
    result: ReplayResult,
    body_parse: Any,
    enqueue: Any,
) -> None:
    integration = by_digest.get(entry["secret_sha256"])
    if integration is None:
        logger.warning("spooled delivery %s: no integration has that webhook URL", entry["id"])
        result.rejected += 1
        return
    if not entry["verified"] and _needs_auth(integration):
        # Its credentials could not be checked while the database was down: refuse rather
        # than let an unauthenticated delivery in.
        logger.warning("spooled delivery %s for %s could not be authenticated", entry["id"],
                       integration)  # fmt: skip
        result.rejected += 1
        return
    if WebhookEvent.objects.filter(spool_id=entry["id"]).exists():
        result.duplicates += 1  # stored by an earlier replay that did not finish its file
        return
    body = base64.b64decode(entry["body"])
    problem = body_parse(integration.source, body)[1]
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            integration=integration, spool_id=entry["id"],
            received_at=datetime.fromisoformat(entry["received_at"]),
            headers=entry["headers"], body=body,
            status=WebhookEvent.Status.FAILED if problem else WebhookEvent.Status.PENDING,
            error=problem,
        )  # fmt: skip
        if not problem:
            enqueue(event_id=event.pk)
    result.stored += 1


def _needs_auth(integration: Integration) -> bool:
    # A type no longer registered cannot check anything: refuse its unverified deliveries.
    source = integration.source
    return source is None or source.needs_auth(integration.credentials or {})


_last_replay_check = 0.0


def spool_replay_soon() -> None:
    """Called by the webhook after a successful store: replay when something is spooled,
    at most every few seconds per process."""
    global _last_replay_check
    now = time.monotonic()
    if now - _last_replay_check < 5:
        return
    _last_replay_check = now
    if spool_pending():
        try:
            spool_replay()
        except Exception:  # a replay problem must not fail the delivery that triggered it
            logger.exception("spool replay failed; it will be tried again")
