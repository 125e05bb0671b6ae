"""The floors `make bench` measures the project against, in the same run and settings.

- ingest: a bare Django view that parses the JSON body and does one INSERT (WSGI app `app`);
- processing: a Celery task that runs two SQL statements (`floor_task`);
- for reference, a request that does nothing (`ping/`): the least any page costs over HTTP.
"""

from __future__ import annotations

import json
import os
from typing import Any

from celery import shared_task
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pointagram_site.settings")


@csrf_exempt
def floor_view(request: HttpRequest) -> JsonResponse:
    payload = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (body) VALUES (%s) RETURNING id", [json.dumps(payload)]
        )
        row = cursor.fetchone()
    return JsonResponse({"id": row[0] if row else None}, status=202)


def ping_view(request: HttpRequest) -> HttpResponse:
    """No database, no work: what any request costs over HTTP on this machine."""
    return HttpResponse("ok")


urlpatterns = [path("floor/", floor_view), path("ping/", ping_view)]


@shared_task(name="bench.floor_task")
def floor_task(n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM bench_floor_jobs WHERE id = %s", [n])
        cursor.execute("UPDATE bench_floor_jobs SET done = true WHERE id = %s", [n])


def _app() -> Any:
    application = get_wsgi_application()
    from django.conf import settings

    settings.ROOT_URLCONF = __name__
    return application


app = _app()
