"""Storing a delivery: the body checks, the guarded INSERT, the receipt the webhook answers with.

A delivery is authenticated against the integration as this process last read it (one query
fewer per delivery), then stored only if the integration is still that version, checked in the
INSERT itself. `integration_for_secret` keeps that copy, reading it again when it may be old.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ..models import Integration, WebhookEvent
from ..sources.registry import Source, headers_kept
from ..spool import secret_digest
from .wake import events_wake_soon


@dataclass(frozen=True)
class Receipt:
    event_id: int
    error: str  # empty when the delivery was accepted for processing
    stored: dict[str, Any]  # the values the delivery was stored with

    @property
    def event(self) -> WebhookEvent:
        """The stored event (built on demand: the webhook answers with its id alone)."""
        event = WebhookEvent(pk=self.event_id, **self.stored)
        event._state.adding = False
        return event


class IntegrationChanged(Exception):
    """The integration was changed (or its URL rotated) after the caller read it."""


class TooManyChanges(Exception):
    """The delivery holds more changes than its source may send at once; nothing was stored."""


def webhook_receive(
    *, integration: Integration, body: bytes, headers: Mapping[str, str], guarded: bool = False
) -> Receipt:
    """Store a delivery; have it processed once the row is committed.

    A body its source cannot read (not JSON, for most) is stored as `failed` with the reason,
    so an admin can see what the source sent, and is never processed. `guarded`: store it
    only if the integration is still as the caller read it (same secret, not changed since),
    in the same statement; otherwise raise IntegrationChanged and store nothing. A delivery
    with more changes than its source's limit raises TooManyChanges, storing nothing.
    """
    payload, error = body_parse(integration.source, body)
    if not error:
        too_many = changes_problem(integration, payload)
        if too_many:
            raise TooManyChanges(too_many)

    # `headers` is case-insensitive when it comes from request.headers.
    kept = {name: headers[name] for name in headers_kept(integration.source) if name in headers}
    stored = {
        "integration": integration,
        "received_at": timezone.now(),
        "headers": kept,
        "body": body,
        "status": WebhookEvent.Status.FAILED if error else WebhookEvent.Status.PENDING,
        "error": error,
    }
    # One INSERT, committed on its own (no BEGIN/COMMIT round trips on the hot path).
    if guarded:
        event_id = _event_insert_guarded(stored)
    else:
        event_id = WebhookEvent.objects.create(**stored).pk
    if not error:
        # After the commit: right away in autocommit, or when the caller's transaction commits.
        transaction.on_commit(events_wake_soon, robust=True)
    return Receipt(event_id=event_id, error=error, stored=stored)


def _event_insert_guarded(stored: dict[str, Any]) -> int:
    """INSERT the event only while the integration has the secret and version the caller
    authenticated the delivery against: one round trip on PostgreSQL. Returns its id."""
    integration: Integration = stored["integration"]
    if connection.vendor != "postgresql":
        current = Integration.objects.filter(
            pk=integration.pk,
            webhook_secret=integration.webhook_secret,
            updated_at=integration.updated_at,
        )
        if not current.exists():
            raise IntegrationChanged
        return WebhookEvent.objects.create(**stored).pk
    sql, variable = _guarded_insert_sql()
    # The values as the fields would prepare them, without a model instance per delivery.
    values = [
        integration.pk if f.name == "integration"
        else connection.ops.adapt_json_value(stored[f.name], f.encoder)
        if f.name == "headers"
        else stored[f.name]
        for f in variable
    ]  # fmt: skip
    connection.ensure_connection()
    # A prepared statement on a connection that is kept (CONN_MAX_AGE): PostgreSQL stops
    # planning the INSERT for every delivery. Django binds values client-side and never
    # prepares; this cursor is wrapped as Django wraps its own, so queries are still logged.
    raw = _PreparedCursor(connection.connection)
    raw.prepared = settings.DATABASES["default"].get("CONN_MAX_AGE", 0) != 0
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            sql, [*values, integration.pk, integration.webhook_secret, integration.updated_at]
        )
        row = cursor.fetchone()
    if row is None:
        raise IntegrationChanged
    return int(row[0])


class _PreparedCursor(psycopg.Cursor[Any]):
    prepared = False

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True if self.prepared else None)
        return super().execute(query, params, **kwargs)


# What a delivery sets; every other column of a new event holds its default.
_DELIVERY_FIELDS = ("integration", "received_at", "headers", "body", "status", "error")
_guarded_insert: tuple[str, list[Any]] | None = None


def _guarded_insert_sql() -> tuple[str, list[Any]]:
    """The INSERT ... SELECT of _event_insert_guarded, written once per process from the model:
    the defaults as literals, a parameter for each field a delivery sets."""
    global _guarded_insert
    if _guarded_insert is None:
        quote = connection.ops.quote_name
        fields = [f for f in WebhookEvent._meta.concrete_fields if not f.primary_key]
        blank = WebhookEvent()
        variable, values = [], []
        for f in fields:
            cast = f"CAST(%s AS {f.db_type(connection)!s})"
            if f.name in _DELIVERY_FIELDS:
                variable.append(f)
                values.append(cast)
            else:
                default = f.get_db_prep_save(getattr(blank, f.attname), connection)
                literal = connection.ops.compose_sql(cast, [default])  # type: ignore[attr-defined]
                values.append(literal.replace("%", "%%"))
        columns = ", ".join(quote(str(f.column)) for f in fields)
        _guarded_insert = (
            f"INSERT INTO {quote(WebhookEvent._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {', '.join(values)} FROM {quote(Integration._meta.db_table)} "
            "WHERE id = %s AND webhook_secret = %s AND updated_at = %s RETURNING id",
            variable,
        )
    return _guarded_insert


MAX_JSON_DEPTH = 64


def body_parse(source: Source | None, body: bytes) -> tuple[Any, str]:
    """A delivery's payload and "", or None and why it is not one we accept: the source's own
    parser (Salesforce's SOAP), else JSON."""
    if source is not None and source.parser is not None:
        return source.parser(body)
    return json_parse(body)


def changes_problem(integration: Integration, payload: Any) -> str:
    """Why the delivery holds too many changes to take, or "". Counted on the JSON already
    parsed: an array's items are its changes (one object is one)."""
    source = integration.source
    if source is None or not isinstance(payload, list):
        return ""
    limit, why = source.change_limit()
    if len(payload) <= limit:
        return ""
    return f"the delivery holds {len(payload)} changes; the limit is {limit} per delivery ({why})"


def json_problem(body: bytes) -> str:
    """Why a body is not a JSON delivery we accept, or "" when it is."""
    return json_parse(body)[1]


def json_parse(body: bytes) -> tuple[Any, str]:
    """The delivery's JSON and "", or None and why it is not a delivery we accept."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8 text: {exc}"
    except RecursionError:
        return None, f"body nests deeper than {MAX_JSON_DEPTH} levels"
    except ValueError as exc:
        return None, f"body is not valid JSON: {exc}"
    if _depth(payload) > MAX_JSON_DEPTH:
        return None, f"body nests deeper than {MAX_JSON_DEPTH} levels"
    # Only a body with such an escape can hold such text (JSON allows no raw NUL in a string,
    # and a raw surrogate is not UTF-8); the walk confirms, since an escaped backslash before
    # "u0000" is plain text.
    if _UNSTORABLE_ESCAPE.search(body):
        problem = _unstorable_text(payload)
        if problem:
            return None, problem
    return payload, ""


# PostgreSQL text holds neither NUL nor unpaired surrogates: a delivery carrying them could never
# be processed (DataError in the worker, retried until it gave up), so it is refused on arrival.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_text(payload: Any) -> str:
    """Why the payload cannot be stored as text, naming where, or "" when it can."""

    def problem(char: str, path: str, *, in_key: bool = False) -> str:
        what = "a NUL character" if char == "\x00" else "an unpaired surrogate"
        where = f"{'in a key ' if in_key else ''}at {path[:200] or 'the top level'}"
        return f"body holds {what} (\\u{ord(char):04x}) {where}: the database cannot store it"

    stack: list[tuple[Any, str]] = [(payload, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if found := _UNSTORABLE.search(item):
                return problem(found.group(), path)
        elif isinstance(item, dict):
            for key, value in item.items():
                if found := _UNSTORABLE.search(key):
                    return problem(found.group(), path, in_key=True)
                stack.append((value, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(item))
    return ""


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (a hostile body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


# The integrations this process last read from the database, by the SHA-256 of their secret.
# While the database is down, this copy authenticates deliveries before they are spooled.
_last_known: dict[str, Integration] = {}


@dataclass(frozen=True)
class Authenticated:
    """Whom a delivery is for and whether it may be stored."""

    integration: Integration | None  # None: no integration has this secret, or see below
    error: str = ""  # why the delivery is refused ("" when it is authentic)
    database_down: bool = False  # no copy of the integration here and the database is down


def integration_for_secret(
    secret: str, *, authenticate: Callable[[Integration], str], fresh: bool = False
) -> Authenticated:
    """The integration with this webhook secret, and the delivery checked against it by
    `authenticate` (which returns why it is refused, or "").

    From this process's copy when it has one; a delivery refused against the copy is checked
    again against the integration as the database holds it now (its credentials may have
    changed), or refused against the copy when the database is down. `fresh`: the copy is
    known to be old (the guarded INSERT said the integration changed): read it again."""
    known = None if fresh else _last_known.get(secret_digest(secret))
    # The secret has 256 random bits; the comparison is constant-time.
    if known is not None and hmac.compare_digest(known.webhook_secret, secret):
        error = authenticate(known)
        if not error:
            return Authenticated(known)
        try:
            integration = _integration_read(secret)
        except DatabaseError:
            return Authenticated(known, error)
    else:
        try:
            integration = _integration_read(secret)
        except DatabaseError:
            return Authenticated(None, database_down=True)
    if integration is None:
        return Authenticated(None)
    return Authenticated(integration, authenticate(integration))


def _integration_read(secret: str) -> Integration | None:
    """The integration with this webhook secret, from the database; kept as this process's
    copy. Raises DatabaseError."""
    integration = Integration.objects.filter(webhook_secret=secret).first()
    if integration is not None and not hmac.compare_digest(integration.webhook_secret, secret):
        integration = None
    digest = secret_digest(secret)
    if integration is None:
        _last_known.pop(digest, None)
    else:
        _last_known[digest] = integration
    return integration
