"""Sign-in throttling (django-axes, configured in settings): whose address a sign-in comes
from, and what a locked-out sign-in is answered."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR; behind TRUSTED_PROXIES proxies that each append the address they saw to
    X-Forwarded-For, the address the outermost of them saw. Entries further left were written
    by the client and are not believed (or anyone could pick a fresh address per guess)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < proxies:  # not forwarded the way the setting says: trust only the socket
        return remote
    return hops[-proxies]


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 with what happened, how long it lasts and how an admin unlocks it."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    cooloff = settings.AXES_COOLOFF_TIME
    return render(
        request,
        "registration/login_locked.html",
        {
            "username": username,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": int(cooloff.total_seconds() // 60) if cooloff else None,
        },
        status=429,
    )
