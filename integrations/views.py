from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Integration
from .services.ingest import (
    Authenticated,
    IntegrationChanged,
    TooManyChanges,
    integration_for_secret,
    webhook_receive,
)
from .sources.registry import Source
from .spool import spool_replay_soon, spool_write

logger = logging.getLogger(__name__)

_BYTES = re.compile(r"[0-9]{1,18}")


@csrf_exempt  # sources authenticate by the secret URL (and signatures), not by a session
@require_POST
def webhook(request: HttpRequest, secret: str) -> HttpResponse:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not _BYTES.fullmatch(declared):  # servers check it; '²' would pass str.isdigit()
        return JsonResponse(
            {"error": f"Content-Length {declared[:40]!r} is not a number of bytes"}, status=400
        )
    if int(declared) > limit:
        return _too_large(int(declared), limit)
    body = _body(request, limit + 1)
    if len(body) > limit:
        return _too_large(len(body), limit)

    def authenticate(integration: Integration) -> str:
        source = integration.source  # a type no longer registered stores, then fails visibly
        return source.adapter.authenticate(integration, request, body) if source else ""

    for attempt in range(3):
        found = integration_for_secret(secret, authenticate=authenticate, fresh=attempt > 0)
        if found.database_down:  # and this process never saw the URL
            return _spool(secret, body, request, verified=False)
        if found.integration is None:
            return JsonResponse({"error": "no integration has this webhook URL"}, status=404)
        if found.error:
            return _refused(found)
        try:
            receipt = webhook_receive(
                integration=found.integration, body=body, headers=request.headers, guarded=True
            )
            break
        except IntegrationChanged:
            # Changed since this process read it (credentials, type, a new URL): read it again
            # and authenticate the delivery against what it is now.
            continue
        except TooManyChanges as exc:
            return _answer(found.integration.source, 413, {"error": str(exc)})
        except DatabaseError:
            return _spool(secret, body, request, verified=True, source=found.integration.source)
    else:
        return JsonResponse({"error": "the integration keeps changing; try again"}, status=503)
    spool_replay_soon()
    source = found.integration.source
    if receipt.error:
        return _answer(
            source,
            400,
            {"error": receipt.error, "event_id": receipt.event_id, "status": "failed"},
        )
    return _answer(source, 202, {"event_id": receipt.event_id})


def _body(request: HttpRequest, most: int) -> bytes:
    """The body, at most `most` bytes. Django reads a request without Content-Length as empty;
    a chunked one has none: it is read from the server's stream when the server says that
    stream ends with the body (wsgi.input_terminated: gunicorn does, and decodes the chunks)."""
    if request.META.get("CONTENT_LENGTH") or not request.META.get("wsgi.input_terminated"):
        return request.read(most)
    stream = request.META["wsgi.input"]
    parts, size = [], 0
    while size < most:
        part = stream.read(most - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _answer(source: Source | None, status: int, data: dict[str, Any]) -> HttpResponse:
    """The answer in the source's own terms (Salesforce wants a SOAP Ack), else JSON."""
    if source is not None and source.answer is not None:
        return source.answer(status, data)
    return JsonResponse(data, status=status)


def _refused(found: Authenticated) -> HttpResponse:
    source = found.integration.source if found.integration is not None else None
    response = _answer(source, 401, {"error": found.error})
    if source is not None and source.challenge:
        response["WWW-Authenticate"] = source.challenge
    return response


def _spool(
    secret: str,
    body: bytes,
    request: HttpRequest,
    *,
    verified: bool,
    source: Source | None = None,
) -> HttpResponse:
    """The database is down: keep the delivery in the local spool, answer 202."""
    try:
        spool_id = spool_write(secret=secret, body=body, headers=request.headers, verified=verified)
    except OSError:
        logger.exception("database down and the spool cannot be written")
        return JsonResponse(
            {"error": "cannot store deliveries right now; try again later"}, status=503
        )
    logger.warning("database unavailable: delivery spooled as %s", spool_id)
    return _answer(source, 202, {"spooled": spool_id})


def _too_large(size: int, limit: int) -> JsonResponse:
    return JsonResponse(
        {"error": f"body is {size} bytes; the limit is {limit} bytes (WEBHOOK_MAX_BODY_BYTES)"},
        status=413,
    )
