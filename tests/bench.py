"""`make bench`: the production shape on this machine, measured against floors in the same run.

Starts PostgreSQL-backed gunicorn (4 sync workers) and Celery workers (2 processes, Redis on port
6391, acks_late) on a database of their own (pointagram_bench); load comes from wrk in a second
process. Prints figures, then one line per ratio:

    ratio ingest_throughput X    project / floor (bare view: parse JSON, one INSERT)
    ratio ingest_p99 X           project / floor
    ratio processing_throughput X  project / floor (one trivial task per event)
    ratio leaderboard_month X    project request time / plain GROUP BY query time, 1M rows
    ratio profile_page X         project request time / plain GROUP BY query time
    ratio competition_standings X  project request time (a running competition's standings over
                                 10,000 players) / plain GROUP BY query time, same window
    rss_mb web X
    rss_mb worker X
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

import tests.chaos as chaos
from tests.chaos import BIN, PG, ROOT, Process, free_port, port_open, sh, wait

DB = os.environ.get("BENCH_DB", "pointagram_bench")
REDIS_PORT = 6391
WEB_PORT = free_port()
FLOOR_PORT = free_port()
EVENTS = int(os.environ.get("BENCH_EVENTS", "3000"))
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
SECONDS = os.environ.get("BENCH_SECONDS", "10")
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "pointagram_site.settings",
    "DATABASE_URL": f"{PG}/{DB}",
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
    "WEBHOOK_SPOOL_DIR": str(ROOT / "var" / "bench-spool"),
    # Production keeps database connections open between requests (the floors too).
    "DATABASE_CONN_MAX_AGE": "60",
    # Plain HTTP on loopback: cookies must not be Secure-only.
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}
LUA = """
counter = 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function request()
  counter = counter + 1
  local id = tid * 10000000 + counter
  local body = string.format([[{"data": {"id": %d, "status": "won", "value": 120, "owner_id": 1001,
    "currency": "EUR", "title": "Deal #new", "won_time": "2024-05-01T10:00:00Z",
    "update_time": "2024-05-01T10:00:00Z"}, "previous": {"status": "open"},
    "meta": {"action": "change", "entity": "deal", "entity_id": "%d", "id": "bench-%d",
    "timestamp": "2024-05-01T10:00:00Z", "version": "2.0"}}]], id, id, id)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def setup_database() -> Any:
    import psycopg

    chaos.ENV.clear()  # the helpers shared with `make chaos` run with this file's environment
    chaos.ENV.update(ENV)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    sh(str(BIN / "python"), "manage.py", "migrate", "--noinput")
    os.environ.update(ENV)
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, body jsonb)")
        cursor.execute("CREATE TABLE bench_floor_jobs (id bigint PRIMARY KEY, done boolean)")
    from integrations.config_file import integration_import
    from players.services import player_upsert

    steps = []
    for n, (points, point_type, flt) in enumerate([
        ("value", "", {"field": "value", "operator": "gt", "values": ["0"]}),
        ("10", "", {"field": "value", "operator": "gt", "values": ["100"]}),
        ("", "stage", {"field": "stage", "operator": "not_empty", "values": []}),
        ("value", "", {"field": "currency", "operator": "in", "values": ["EUR", "USD"]}),
        ("1", "", {"field": "title", "operator": "contains", "values": ["deal"]}),
    ]):  # fmt: skip
        steps.append({
            "kind": "points", "name": f"Step {n}", "source_type": "deal",
            "series": "Stages" if point_type else f"Series {n}", "points": points,
            "point_type": point_type, "player_id": "owner_id", "player_id_prefix": "pd:",
            "tags": ["status", "#title"], "comment": "title",
            "filters": [{"field": "status", "values": ["won"]}, flt],
        })  # fmt: skip
    integration, _ = integration_import(data={
        "name": "Bench", "type": "pipedrive", "steps": steps,
        "series": [{"name": "Stages", "point_types": [{"name": "Demo", "points": 5},
                                                        {"name": "Closing", "points": 20}]}],
    })  # fmt: skip
    for n in range(20):
        player_upsert(external_id=f"pd:{1001 + n}", name=f"Seller {n}", email="")
    return integration


def wrk(url: str, seconds: str = SECONDS) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise SystemExit(f"bench: cannot read {label}% from wrk:\n{out}")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if "Socket errors" in out or rps == 0:  # what wrk saw, so a failed side can be told apart
        print(f"wrk against {url.split('/hooks/')[0]}: {out.strip()[-400:]}", flush=True)
    return {
        "rps": rps,
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0,
    }


def warm_up(url: str, requests: int = 40) -> None:
    """Sequential deliveries until the web workers have each loaded the app (ids of their own)."""
    with httpx.Client(timeout=120) as client:
        for n in range(requests):
            body = {"data": {"id": 90_000_000 + n, "status": "open", "owner_id": 1001},
                    "meta": {"action": "change", "entity": "deal", "entity_id": str(n),
                             "id": f"warm-{n}", "version": "2.0"}}  # fmt: skip
            client.post(url, json=body).raise_for_status()


def rss_mb(proc: Process) -> float:
    """Peak RSS (VmHWM) of the process's children: gunicorn workers, Celery pool processes."""
    assert proc.proc is not None
    peaks = []
    for child in Path("/proc").iterdir():
        if not child.name.isdigit():
            continue
        try:
            status = (child / "status").read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{proc.proc.pid}$", status, re.M):
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                peaks.append(int(match.group(1)) / 1024)
    return max(peaks) if peaks else 0.0


def drain_seconds(publish: Any, done: Any, count: int) -> float:
    start = time.monotonic()
    publish()
    wait(lambda: done() >= count, 600, "the queue to drain")
    return time.monotonic() - start


def processing(integration: Any) -> tuple[float, float]:
    import json

    from django.db import connection
    from django.utils import timezone

    from integrations.models import WebhookEvent
    from integrations.tasks import events_drain_task
    from tests.bench_floor import floor_task

    now = time.time()
    events = WebhookEvent.objects.bulk_create(
        WebhookEvent(integration=integration, received_at=timezone.now(),
                     body=json.dumps({
                         "data": {"id": n, "status": "won", "value": 50 + n % 900, "owner_id": 1001 + n % 20,
                                  "currency": "EUR", "stage": "Demo" if n % 2 else "Closing",
                                  "title": f"Deal {n} #bench", "update_time": "2024-05-01T10:00:00Z"},
                         "meta": {"action": "change", "entity": "deal", "entity_id": str(n),
                                  "id": f"p-{n}-{now}", "version": "2.0"}}).encode())
        for n in range(EVENTS)
    )  # fmt: skip
    ids = [e.pk for e in events]

    def project_done() -> int:
        connection.close()
        return WebhookEvent.objects.filter(pk__in=ids).exclude(status="pending").count()

    # As deliveries do: wake the drain (a full batch queues the next one, for the other worker).
    project = drain_seconds(events_drain_task.delay, project_done, EVENTS)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor_jobs SELECT g, false FROM generate_series(1, %s) g", [EVENTS]
        )

    def floor_done() -> int:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM bench_floor_jobs WHERE done")
            return int(cursor.fetchone()[0])

    floor = drain_seconds(
        lambda: [floor_task.delay(n) for n in range(1, EVENTS + 1)], floor_done, EVENTS
    )
    return EVENTS / project, EVENTS / floor


def ledger_data() -> tuple[int, int]:
    """1M ledger rows, 10,000 players, 5 series over a year; totals as the service keeps them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO players_player (name, email, status, created_at) "
            "SELECT 'Player ' || g, '', 'offline', now() FROM generate_series(1, 10000) g"
        )
        cursor.execute(
            "INSERT INTO scoring_scoreseries (name) SELECT 'Bench ' || g FROM generate_series(1, 5) g"
        )
        cursor.execute("SELECT min(id) FROM players_player WHERE name LIKE 'Player %%'")
        first_player = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM scoring_scoreseries WHERE name LIKE 'Bench %%'")
        first_series = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO scoring_transaction (player_id, series_id, points, comment, point_time, "
            "created_at, kind, source_object) SELECT %s + (g::bigint * 7919) %% 10000, %s + g %% 5, "
            "(g %% 97) + 1, '', now() - ((g %% 365) || ' days')::interval - ((g %% 24) || ' hours')::interval, "
            "now(), 'award', '' FROM generate_series(1, %s) g",
            [first_player, first_series, ROWS],
        )
        cursor.execute("ANALYZE")
    from scoring.services import totals_rebuild

    totals_rebuild()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return first_player, first_series


def competition_bench(first_series: int) -> tuple[int, Any]:
    """A running competition over the bench's first series, open to everyone (the 10,000
    players), from 13:37 thirty days ago until tomorrow's 09:15 (partial days at both ends);
    and the plain GROUP BY over the ledger for the same series and window."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from scoring.competitions import CompetitionInput, competition_save
    from scoring.models import ScoreSeries

    now = timezone.localtime()
    start = (now - timedelta(days=30)).replace(hour=13, minute=37, second=0, microsecond=0)
    end = (now + timedelta(days=1)).replace(hour=9, minute=15, second=0, microsecond=0)
    series = ScoreSeries.objects.get(pk=first_series)
    competition = competition_save(competition=None, data=CompetitionInput(
        name="Bench race", kind="leaderboard", series=[series], start=start, end=end))  # fmt: skip

    def plain_query() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT player_id, SUM(points) FROM scoring_transaction WHERE series_id = %s "
                           "AND point_time >= %s AND point_time < %s GROUP BY player_id ORDER BY 2 DESC",
                           [first_series, start, end])  # fmt: skip
            cursor.fetchall()

    return competition.pk, plain_query


def competition_only() -> int:
    """`python -m tests.bench competition`: just the competition line, in this process (the
    standings selector, not over HTTP), on a database of its own (BENCH_DB)."""
    setup_database()
    _, first_series = ledger_data()
    from scoring.models import Competition
    from scoring.standings import competition_standings

    competition_id, plain_query = competition_bench(first_series)
    competition = Competition.objects.prefetch_related("series", "participants").get(
        pk=competition_id
    )
    rows = len(competition_standings(competition))
    standings = timed(lambda: competition_standings(competition))
    floor_query = timed(plain_query)
    print(
        f"{ROWS} ledger rows; competition standings of {rows} players median {standings[0]:.1f} ms "
        f"p95 {standings[1]:.1f} ms; plain GROUP BY median {floor_query[0]:.1f} ms"
    )
    print(f"ratio competition_standings_in_process {standings[0] / floor_query[0]:.2f}")
    return 0


def timed(fn: Any, runs: int = 20) -> tuple[float, float]:
    times = []
    fn()  # warm
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> int:
    integration = setup_database()
    sh("redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--daemonize", "yes")  # fmt: skip
    os.environ.update(ENV)
    web = Process("bench-web", str(BIN / "gunicorn"), "pointagram_site.wsgi", "--workers", "4",
                  "--bind", f"127.0.0.1:{WEB_PORT}")  # fmt: skip
    floor_web = Process("bench-floor", str(BIN / "gunicorn"), "tests.bench_floor:app", "--workers", "4",
                        "--bind", f"127.0.0.1:{FLOOR_PORT}")  # fmt: skip
    worker = Process("bench-worker", str(BIN / "celery"), "-A", "pointagram_site", "worker",
                     "--concurrency", "2", "--loglevel", "WARNING", "--include", "tests.bench_floor")  # fmt: skip
    procs = [web, floor_web, worker]
    try:
        web.start()
        floor_web.start()
        wait(lambda: port_open(WEB_PORT) and port_open(FLOOR_PORT), 60, "gunicorn")
        # Ingest alone: no worker competes for the two cores (its tasks are measured next).
        # Each side is warmed up first: a gunicorn worker's first requests load the app and open
        # its database and broker connections, a one-off cost that is not throughput.
        project_url = f"http://127.0.0.1:{WEB_PORT}{integration.webhook_path}"
        floor_url = f"http://127.0.0.1:{FLOOR_PORT}/floor/"
        # A worker loads the app on its first request (seconds on a busy machine, longer than
        # wrk's 2 s timeout): have every worker answer once before wrk's own warm-up.
        warm_up(project_url)
        wrk(project_url, seconds="3")
        ingest = wrk(project_url)
        wrk(floor_url, seconds="3")
        ingest_floor = wrk(floor_url)
        # What ingest stored and queued is not measured here: the drains would take it too.
        sh("redis-cli", "-p", str(REDIS_PORT), "flushall")
        from integrations.models import WebhookEvent

        WebhookEvent.objects.filter(status="pending").update(status="ignored")
        worker.start()
        time.sleep(5)  # the worker connects
        project_eps, floor_eps = processing(integration)
        first_player, first_series = ledger_data()

        from django.contrib.auth.models import User
        from django.db import connection
        from rest_framework.authtoken.models import Token

        from scoring.selectors import period_bounds

        user = User.objects.create_user("bench", is_staff=True, password="bench-pass-123")
        token = Token.objects.create(user=user).key
        since, until = period_bounds("month")
        client = httpx.Client(base_url=f"http://127.0.0.1:{WEB_PORT}", timeout=60)
        login = client.get("/admin/login/")
        client.post("/admin/login/", data={"username": "bench", "password": "bench-pass-123",
                    "csrfmiddlewaretoken": login.cookies.get("csrftoken", "")},
                    headers={"Referer": f"http://127.0.0.1:{WEB_PORT}/admin/login/"})  # fmt: skip
        board = timed(lambda: client.get(f"/api/v1/leaderboards/{first_series}/?period=month&limit=50",
                                         headers={"Authorization": f"Token {token}"}).raise_for_status())  # fmt: skip
        profile = timed(lambda: client.get(f"/players/{first_player}/").raise_for_status())
        competition_id, competition_floor = competition_bench(first_series)
        standings = timed(lambda: client.get(f"/api/v1/competitions/{competition_id}/",
                                             headers={"Authorization": f"Token {token}"}).raise_for_status())  # fmt: skip
        standings_floor = timed(competition_floor)

        def plain_query() -> None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT player_id, SUM(points) FROM scoring_transaction WHERE series_id = %s "
                               "AND point_time >= %s AND point_time < %s GROUP BY player_id ORDER BY 2 DESC",
                               [first_series, since, until])  # fmt: skip
                cursor.fetchall()

        floor_query = timed(plain_query)
        # For reference: the board as the selector reads it in this process (no HTTP, no
        # auth), and a request that does nothing at all, over HTTP, on the same gunicorn.
        from scoring.models import ScoreSeries
        from scoring.selectors import leaderboard

        bench_series = ScoreSeries.objects.get(pk=first_series)
        selector = timed(
            lambda: leaderboard(series=bench_series, since=since, until=until, limit=50)
        )
        ping_client = httpx.Client(base_url=f"http://127.0.0.1:{FLOOR_PORT}", timeout=60)
        ping = timed(lambda: ping_client.get("/ping/").raise_for_status())
        web_rss, worker_rss = rss_mb(web), rss_mb(worker)
    finally:
        for proc in procs:
            proc.kill()
        sh("redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave", check=False)

    print(
        f"machine: {os.cpu_count()} cores; wrk -t2 -c16 -d{SECONDS}s; {EVENTS} events; {ROWS} ledger rows"
    )
    print(
        f"ingest  project {ingest['rps']:.0f} req/s p50 {ingest['p50']:.2f} ms p99 {ingest['p99']:.2f} ms "
        f"(non-2xx {ingest['errors']:.0f}); floor {ingest_floor['rps']:.0f} req/s "
        f"p50 {ingest_floor['p50']:.2f} ms p99 {ingest_floor['p99']:.2f} ms"
    )
    print(f"processing  project {project_eps:.0f} events/s; floor {floor_eps:.0f} tasks/s")
    print(
        f"leaderboard month  median {board[0]:.1f} ms p95 {board[1]:.1f} ms; profile median {profile[0]:.1f} ms "
        f"p95 {profile[1]:.1f} ms; plain GROUP BY median {floor_query[0]:.1f} ms p95 {floor_query[1]:.1f} ms"
    )
    print(
        f"for reference: board selector in process median {selector[0]:.2f} ms "
        f"({selector[0] / floor_query[0]:.2f} of the plain query); an empty HTTP request "
        f"median {ping[0]:.2f} ms ({ping[0] / floor_query[0]:.2f} of the plain query)"
    )
    print(f"ratio ingest_throughput {ingest['rps'] / ingest_floor['rps']:.2f}")
    print(f"ratio ingest_p99 {ingest['p99'] / ingest_floor['p99']:.2f}")
    print(f"ratio processing_throughput {project_eps / floor_eps:.2f}")
    print(f"ratio leaderboard_month {board[0] / floor_query[0]:.2f}")
    print(f"ratio profile_page {profile[0] / floor_query[0]:.2f}")
    print(
        f"competition standings (10,000 players, partial days at both ends) median {standings[0]:.1f} ms; "
        f"plain GROUP BY over the ledger, same window, median {standings_floor[0]:.1f} ms"
    )
    print(f"ratio competition_standings {standings[0] / standings_floor[0]:.2f}")
    print(f"rss_mb web {web_rss:.0f}")
    print(f"rss_mb worker {worker_rss:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(competition_only() if sys.argv[1:] == ["competition"] else main())
