from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Integration
from .services.ingest import IntegrationChanged, webhook_receive
from .sources import adapter_for
from .spool import secret_digest, spool_replay_soon, spool_write

logger = logging.getLogger(__name__)


# The integrations this process last read from the database, by the SHA-256 of their secret.
# A delivery is authenticated against this copy and stored only if the integration is still
# that version (checked in the INSERT itself: ingest.webhook_receive(guarded=True)); while the
# database is down, it authenticates deliveries before they are spooled.
_last_known: dict[str, Integration] = {}


def _integration_read(secret: str) -> Integration | None:
    """The integration with this webhook secret, from the database. Raises DatabaseError."""
    integration = Integration.objects.filter(webhook_secret=secret).first()
    # The secret has 256 random bits; the final comparison is constant-time.
    if integration is not None and not hmac.compare_digest(integration.webhook_secret, secret):
        integration = None
    digest = secret_digest(secret)
    if integration is None:
        _last_known.pop(digest, None)
    else:
        _last_known[digest] = integration
    return integration


@csrf_exempt  # sources authenticate by the secret URL (and signatures), not by a session
@require_POST
def webhook(request: HttpRequest, secret: str) -> JsonResponse:
    database_down = False
    integration = _last_known.get(secret_digest(secret))
    cached = integration is not None
    if integration is None or not hmac.compare_digest(integration.webhook_secret, secret):
        cached = False
        try:
            integration = _integration_read(secret)
        except DatabaseError:
            database_down = True
            integration = None
        if integration is None and not database_down:
            return _unknown()

    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _too_large(int(declared), limit)
    body = request.read(limit + 1)
    if len(body) > limit:
        return _too_large(len(body), limit)

    if integration is None:  # the database is down and this process never saw the URL
        return _spool(secret, body, request, verified=False)
    for _ in range(3):
        auth_error = adapter_for(integration.type).authenticate(integration, request, body)
        if auth_error and cached and not database_down:
            # Checked against what this process read earlier: its credentials may have
            # changed since. Read it again and check once more before refusing.
            cached = False
            try:
                fresh = _integration_read(secret)
            except DatabaseError:  # it failed against the last known credentials: refuse
                fresh = integration
            if fresh is None:
                return _unknown()
            if fresh is not integration:
                integration = fresh
                continue
        if auth_error:
            response = JsonResponse({"error": auth_error}, status=401)
            if integration.type == Integration.Type.PIPEDRIVE:
                response["WWW-Authenticate"] = 'Basic realm="webhook"'
            return response
        if database_down:
            return _spool(secret, body, request, verified=True)
        try:
            receipt = webhook_receive(
                integration=integration, body=body, headers=request.headers, guarded=True
            )
            break
        except IntegrationChanged:
            # Changed since this process read it (credentials, type, a new URL): read it again
            # and authenticate the delivery against what it is now.
            found = _integration_reread(secret, body, request)
            if isinstance(found, JsonResponse):
                return found
            integration, cached = found, False
        except DatabaseError:
            return _spool(secret, body, request, verified=True)
    else:
        return JsonResponse({"error": "the integration keeps changing; try again"}, status=503)
    spool_replay_soon()
    if receipt.error:
        return JsonResponse(
            {"error": receipt.error, "event_id": receipt.event_id, "status": "failed"}, status=400
        )
    return JsonResponse({"event_id": receipt.event_id}, status=202)


def _integration_reread(
    secret: str, body: bytes, request: HttpRequest
) -> Integration | JsonResponse:
    """The integration as it is now, or the answer when it is gone (404) or cannot be read
    (the delivery is spooled, unverified)."""
    try:
        found = _integration_read(secret)
    except DatabaseError:
        return _spool(secret, body, request, verified=False)
    return _unknown() if found is None else found


def _unknown() -> JsonResponse:
    return JsonResponse({"error": "no integration has this webhook URL"}, status=404)


def _spool(secret: str, body: bytes, request: HttpRequest, *, verified: bool) -> JsonResponse:
    """The database is down: keep the delivery in the local spool, answer 202."""
    try:
        spool_id = spool_write(secret=secret, body=body, headers=request.headers, verified=verified)
    except OSError:
        logger.exception("database down and the spool cannot be written")
        return JsonResponse(
            {"error": "cannot store deliveries right now; try again later"}, status=503
        )
    logger.warning("database unavailable: delivery spooled as %s", spool_id)
    return JsonResponse({"spooled": spool_id}, status=202)


def _too_large(size: int, limit: int) -> JsonResponse:
    return JsonResponse(
        {"error": f"body is {size} bytes; the limit is {limit} bytes (WEBHOOK_MAX_BODY_BYTES)"},
        status=413,
    )
