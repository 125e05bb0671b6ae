from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services
from .models import Integration
from .sources import adapter_for


@csrf_exempt  # sources authenticate by the secret URL (and signatures), not by a session
@require_POST
def webhook(request: HttpRequest, secret: str) -> JsonResponse:
    integration = Integration.objects.filter(webhook_secret=secret).first()
    # The secret has 256 random bits; the final comparison is constant-time.
    if integration is None or not hmac.compare_digest(integration.webhook_secret, secret):
        return JsonResponse({"error": "no integration has this webhook URL"}, status=404)

    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _too_large(int(declared), limit)
    body = request.read(limit + 1)
    if len(body) > limit:
        return _too_large(len(body), limit)

    auth_error = adapter_for(integration.type).authenticate(integration, request, body)
    if auth_error:
        response = JsonResponse({"error": auth_error}, status=401)
        if integration.type == Integration.Type.PIPEDRIVE:
            response["WWW-Authenticate"] = 'Basic realm="webhook"'
        return response

    receipt = services.webhook_receive(integration=integration, body=body, headers=request.headers)
    if receipt.error:
        return JsonResponse(
            {"error": receipt.error, "event_id": receipt.event.pk, "status": "failed"}, status=400
        )
    return JsonResponse({"event_id": receipt.event.pk}, status=202)


def _too_large(size: int, limit: int) -> JsonResponse:
    return JsonResponse(
        {"error": f"body is {size} bytes; the limit is {limit} bytes (WEBHOOK_MAX_BODY_BYTES)"},
        status=413,
    )
