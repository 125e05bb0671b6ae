"""Calling a source's REST API: JSON GETs that respect rate limits and ride out brief outages."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import httpx

from . import SourceUnavailable

logger = logging.getLogger(__name__)

ATTEMPTS = 4
MAX_WAIT_SECONDS = 30.0


def api_path(*segments: str) -> str:
    """An API path from its segments, each quoted whole ("4500/../owners" stays one segment).
    An empty or dot segment is refused: no id may climb out of its collection."""
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"path segment {segment!r} is empty or a dot segment")
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def _wait_seconds(response: httpx.Response, attempt: int) -> float:
    retry_after = response.headers.get("Retry-After", "")
    try:
        wait = float(retry_after)
    except ValueError:
        wait = 2.0**attempt
    return min(max(wait, 0.0), MAX_WAIT_SECONDS)


def _endpoint(client: httpx.Client, url: str) -> str:
    """The URL called, without its query: what errors name (never an answer's body, which
    may hold what the source or a host it should not have been keeps to itself)."""
    return str(client.build_request("GET", url).url.copy_with(query=None))


def api_get(client: httpx.Client, url: str, params: Any = None) -> httpx.Response | None:
    """GET a JSON resource. Returns the response, or None for 404 (the object is gone).

    429 waits for Retry-After; 5xx and network errors are retried with backoff; after
    ATTEMPTS tries, or on a redirect (not followed) or another 4xx, raises SourceUnavailable
    naming the endpoint and status.
    """
    endpoint = _endpoint(client, url)
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(min(2.0**attempt * 0.25, MAX_WAIT_SECONDS))
            continue
        if response.status_code == 404:
            return None
        if response.status_code == 429 or response.status_code >= 500:
            last = f"HTTP {response.status_code}"
            wait = (
                _wait_seconds(response, attempt)
                if response.status_code == 429
                else (min(2.0**attempt * 0.25, MAX_WAIT_SECONDS))
            )
            logger.info("%s answered %s; retrying in %.1fs", endpoint, response.status_code, wait)
            time.sleep(wait)
            continue
        if 300 <= response.status_code < 400:
            raise SourceUnavailable(
                f"GET {endpoint} answered HTTP {response.status_code} (redirects are not followed)"
            )
        if response.status_code >= 400:
            raise SourceUnavailable(f"GET {endpoint} answered HTTP {response.status_code}")
        return response
    raise SourceUnavailable(f"GET {endpoint} failed {ATTEMPTS} times (last: {last})")
