"""`make chaos`: crash, broker outage and database outage against real processes on this machine.

Starts gunicorn, a Celery worker and Celery beat on a database of their own (pointagram_chaos)
and a Redis of their own (port 6390), sends Pipedrive v2 "deal won" deliveries for distinct
deals, breaks something in the middle, waits for the system to settle, and prints per scenario:

    chaos <scenario> sent=N stored=N processed=N doubled=N lost=N

doubled: deals booked more than once; lost: deliveries whose points are not in the ledger.
Exits non-zero when any is not 0. The database outage restarts this machine's PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = "postgres://postgres@127.0.0.1:5432"
DB = "pointagram_chaos"
REDIS_PORT = 6390
PLAYERS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WEB_PORT = free_port()
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "pointagram_site.settings",
    "DATABASE_URL": f"{PG}/{DB}",
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "SECRET_KEY": "chaos-" + uuid.uuid4().hex * 2,
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "EVENTS_SWEEP_SECONDS": "3",
    "SWEEP_AFTER_SECONDS": "5",
    "SPOOL_REPLAY_SECONDS": "3",
    "WEBHOOK_SPOOL_DIR": str(ROOT / "var" / "chaos-spool"),
    "LOG_LEVEL": "WARNING",
}
LOGS = ROOT / "var" / "chaos"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, env=ENV, cwd=ROOT)


def wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"chaos: timed out waiting for {what}")
        time.sleep(0.3)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Process:
    def __init__(self, name: str, *args: str) -> None:
        self.name, self.args = name, args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"{self.name}.log", "ab")  # noqa: SIM115 (kept open by the child)
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=ENV, stdout=log, stderr=log,
                                     start_new_session=True)  # fmt: skip

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)


def redis_start() -> None:
    sh("redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--daemonize", "yes")  # fmt: skip
    wait(lambda: port_open(REDIS_PORT), 20, "redis")


def redis_stop() -> None:
    sh("redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave", check=False)
    wait(lambda: not port_open(REDIS_PORT), 20, "redis to stop")


def postgres(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    sh("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action)
    if action == "start":
        wait(lambda: port_open(5432), 60, "postgres")


def django_setup() -> Any:
    os.environ.update(ENV)
    import django

    django.setup()
    return django


def fresh_database() -> str:
    import psycopg
    from django.db import connection

    connection.close()  # the last scenario's database is about to go
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    sh(str(BIN / "python"), "manage.py", "migrate", "--noinput")
    from integrations.config_file import integration_import
    from players.services import player_upsert

    integration, _ = integration_import(data={"name": "Pipedrive (chaos)", "type": "pipedrive"})
    for n in range(PLAYERS):
        player_upsert(external_id=f"pd:{1000 + n}", name=f"Seller {n}", email="")
    return integration.webhook_path


def deal_delivery(deal_id: int, value: int, owner: int) -> bytes:
    import json

    stamp = "2024-05-01T10:00:00Z"
    return json.dumps({
        "data": {"id": deal_id, "status": "won", "value": value, "owner_id": owner,
                 "title": f"Deal {deal_id}", "won_time": stamp, "update_time": stamp},
        "previous": {"status": "open"},
        "meta": {"action": "change", "entity": "deal", "entity_id": str(deal_id),
                 "id": str(uuid.uuid4()), "timestamp": stamp, "version": "2.0"},
    }).encode()  # fmt: skip


class Load:
    def __init__(self, path: str) -> None:
        self.url = f"http://127.0.0.1:{WEB_PORT}{path}"
        self.expected: dict[int, int] = {}
        self.answers: list[int] = []
        self.next_deal = 1

    def send(self, count: int, duplicates: float = 0.0) -> None:
        batch = []
        for _ in range(count):
            deal, value = self.next_deal, random.randint(1, 5000)
            self.next_deal += 1
            body = deal_delivery(deal, value, 1000 + deal % PLAYERS)
            self.expected[deal] = value
            batch.append(body)
            if random.random() < duplicates:
                batch.append(body)  # the source retried: the same delivery again
        random.shuffle(batch)
        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
            for status in pool.map(lambda b: self._post(client, b), batch):
                self.answers.append(status)

    def _post(self, client: httpx.Client, body: bytes) -> int:
        try:
            return client.post(self.url, content=body,
                               headers={"Content-Type": "application/json"}).status_code  # fmt: skip
        except httpx.HTTPError:
            return 0


def settled(load: Load, timeout: float) -> dict[str, int]:
    from django.db import close_old_connections, connection
    from django.db.models import Count, Sum

    from integrations.models import WebhookEvent
    from scoring.models import Transaction

    def done() -> bool:
        connection.close()
        try:
            pending = WebhookEvent.objects.filter(status="pending").count()
            stored = WebhookEvent.objects.count()
        except Exception:
            return False
        spooled = any(Path(ENV["WEBHOOK_SPOOL_DIR"]).glob("*.jsonl"))
        return pending == 0 and not spooled and stored >= len(load.answers)

    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(1)
    close_old_connections()
    rows = {
        int(r["source_object"].split(":")[1]): r
        for r in Transaction.objects.values("source_object").annotate(
            total=Sum("points"), awards=Count("id")
        )
    }
    doubled = sum(1 for r in rows.values() if r["awards"] > 1)
    lost = sum(1 for deal, value in load.expected.items()
               if deal not in rows or rows[deal]["total"] != value)  # fmt: skip
    return {
        "sent": len(load.answers),
        "stored": WebhookEvent.objects.count(),
        "processed": WebhookEvent.objects.filter(status__in=["processed", "ignored"]).count(),
        "doubled": doubled,
        "lost": lost,
        "refused": sum(1 for a in load.answers if a != 202),
    }


def scenario(name: str, run: Callable[[Load, dict[str, Process]], None]) -> dict[str, int]:
    path = fresh_database()
    redis_start()
    procs = {
        "web": Process("web", str(BIN / "gunicorn"), "pointagram_site.wsgi", "--workers", "2",
                       "--bind", f"127.0.0.1:{WEB_PORT}"),
        "worker": Process("worker", str(BIN / "celery"), "-A", "pointagram_site", "worker",
                          "--concurrency", "2", "--loglevel", "WARNING"),
        "beat": Process("beat", str(BIN / "celery"), "-A", "pointagram_site", "beat",
                        "--loglevel", "WARNING", "--schedule", str(LOGS / f"beat-{name}")),
    }  # fmt: skip
    try:
        for proc in procs.values():
            proc.start()
        wait(lambda: port_open(WEB_PORT), 60, "gunicorn")
        load = Load(path)
        run(load, procs)
        figures = settled(load, timeout=180)
    finally:
        for proc in procs.values():
            proc.kill()
        redis_stop()
    line = " ".join(f"{k}={figures[k]}" for k in ("sent", "stored", "processed", "doubled", "lost"))
    print(f"chaos {name} {line}", flush=True)
    if figures["refused"]:
        print(f"  ({figures['refused']} deliveries were not answered 202)", flush=True)
    return figures


def worker_crash(load: Load, procs: dict[str, Process]) -> None:
    load.send(400, duplicates=0.1)
    time.sleep(1.0)  # the worker is in the middle of the batch
    procs["worker"].kill(signal.SIGKILL)
    load.send(100)
    procs["worker"].start()


def broker_outage(load: Load, procs: dict[str, Process]) -> None:
    load.send(100)
    redis_stop()
    load.send(150, duplicates=0.1)  # no broker: stored and answered 202 all the same
    redis_start()
    load.send(50)


def database_outage(load: Load, procs: dict[str, Process]) -> None:
    load.send(150)  # every web process has now read the integration
    postgres("stop")
    try:
        load.send(150, duplicates=0.1)  # spooled and answered 202
    finally:
        postgres("start")
    load.send(100)


def main() -> int:
    random.seed(int(os.environ.get("CHAOS_SEED", "7")))
    django_setup()
    chosen = sys.argv[1:] or ["worker_crash", "broker_outage", "database_outage"]
    runs = {"worker_crash": worker_crash, "broker_outage": broker_outage,
            "database_outage": database_outage}  # fmt: skip
    results = [scenario(name, runs[name]) for name in chosen]
    bad = [r for r in results if r["doubled"] or r["lost"] or r["refused"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
