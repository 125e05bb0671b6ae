"""What a source type is, declared once: the registry the rest of the code asks.

Each source is one sub-package whose `__init__.py` defines `SOURCE = Source(...)`: its label, its
credential fields, how a delivery proves where it comes from, its sign-in help, the credential
pulls need, its sync client, its default steps and the hosts its API calls may reach. Adding a
source is one folder plus one line in REGISTERED below; nothing outside `integrations/sources/`
names a type (a test checks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from django.conf import settings

from . import SourceAdapter
from .outbound import url_problem

if TYPE_CHECKING:
    from django.http import HttpResponse

# One line per source: the package holding its SOURCE. The first is the default type.
REGISTERED = (
    "integrations.sources.pipedrive",
    "integrations.sources.hubspot",
    "integrations.sources.webhook",
    "integrations.sources.custom",
    "integrations.sources.salesforce",
    "integrations.sources.zendesk",
)

FieldKind = Literal["text", "url", "header", "path"]
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Field:
    """One credential (or, for the generic webhook, one path) an admin fills in.

    Values are text. A secret is write-only: never shown back, `"***"` in files and the API,
    and left blank in the admin to keep what is stored."""

    key: str
    label: str
    help: str = ""
    kind: FieldKind = "text"
    secret: bool = False
    required: bool = False
    # Once set, every delivery must prove it (a signature, a password): a delivery spooled
    # while the database was down, and so never checked, is refused on replay.
    signs_in: bool = False
    min_length: int = 0
    max_length: int = 500
    # This field needs that one as well (a basic-auth user needs its password).
    goes_with: str = ""
    # Required unless that field is set instead (an object type path, or a fixed source type).
    unless: str = ""
    placeholder: str = ""
    # A "url": the hosts calls to it may reach over https (OUTBOUND_ALLOWED_HOSTS adds more).
    # Filled from its source's outbound_hosts.
    hosts: tuple[str, ...] = ()
    # A regular expression the whole value must match (a value that builds a host name), and
    # what is wrong otherwise, in words: "must be letters, digits and hyphens only".
    pattern: str = ""
    pattern_problem: str = ""

    def problem(self, value: Any) -> str:
        """What is wrong with a value an admin gave, naming the field and the value ("" = ok)."""
        if not isinstance(value, str):
            return f"{self.label} must be text, not {_shown(value)}"
        shown = "the value given" if self.secret else repr(value)
        if _CONTROL.search(value):
            return f"{self.label}: {shown} holds a control character"
        if len(value) > self.max_length:
            return f"{self.label}: {shown} is longer than {self.max_length} characters"
        if value and len(value) < self.min_length:
            return f"{self.label} needs at least {self.min_length} characters"
        if value and value != value.strip():
            return f"{self.label}: {shown} starts or ends with a space"
        if not value:
            return ""
        if self.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return f"{self.label}: {value!r} is not an http(s) URL with a host"
            if parts.query or parts.fragment or parts.username or parts.password:
                return (
                    f"{self.label}: {value!r} must be a plain base URL "
                    "(no query, fragment or login)"
                )
            refused = url_problem(value, self.hosts)
            if refused:
                return f"{self.label}: {refused}"
        if self.kind == "header" and not _HEADER.fullmatch(value):
            return f"{self.label}: {value!r} is not an HTTP header name (letters, digits, -)"
        if self.pattern and not re.fullmatch(self.pattern, value):
            return f"{self.label}: {shown} {self.pattern_problem or 'does not have the right form'}"
        return ""


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:40]!r}"


@dataclass(frozen=True)
class Source:
    type: str  # stored on the integration: pipedrive, hubspot, ...
    label: str
    adapter: SourceAdapter
    credentials: tuple[Field, ...] = ()
    # Generic webhooks: where in each event the steps find the object type, id, action, time.
    paths: tuple[Field, ...] = ()
    sign_in_help: str = ""  # shown on the integration page, next to its webhook URL
    example_delivery: str = ""  # shown on the integration page when it helps (paths)
    challenge: str = ""  # the WWW-Authenticate header of a 401
    # Headers of its deliveries worth keeping beside the common ones (never a signature).
    kept_headers: tuple[str, ...] = ()
    pull_credential: str = ""  # the credential pulls need ("" = this type cannot pull)
    sync: Any = None  # module with api_client, object_types, page (see sources/*/sync.py)
    defaults: Mapping[str, Any] | None = None  # default series and steps, as in an import file
    api_only: bool = False  # no deliveries: points come through the API
    # The hosts its API calls may reach, over https only: "api.hubapi.com", "*.pipedrive.com"
    # (any subdomain). OUTBOUND_ALLOWED_HOSTS adds hosts for every source (sources/outbound.py).
    outbound_hosts: tuple[str, ...] = ()
    # The most changes one delivery may hold, when the source documents it (HubSpot: 100);
    # otherwise WEBHOOK_MAX_CHANGES. More is refused on arrival (413), before any work.
    max_changes: int | None = None
    # How a delivery's raw body becomes the payload `adapter.split` reads: (payload, "") or
    # (None, why it is refused). None: JSON (services.ingest.body_parse, with its checks).
    parser: Callable[[bytes], tuple[Any, str]] | None = None
    # The HTTP answer to a delivery of this type, from the status and the JSON the default
    # answer would carry (202 {"event_id": N}, 400/401 {"error": ...}). None: that JSON.
    answer: Callable[[int, dict[str, Any]], HttpResponse] | None = None
    # Deliveries carry the records the steps read (HubSpot's carry ids only: records are
    # fetched from its API), so stored deliveries show which fields a record has.
    records_in_deliveries: bool = True

    def __post_init__(self) -> None:
        # A URL credential accepts the source's hosts: Field.problem alone then says it all.
        fields = tuple(
            replace(f, hosts=self.outbound_hosts) if f.kind == "url" and not f.hosts else f
            for f in self.credentials
        )
        object.__setattr__(self, "credentials", fields)

    def change_limit(self) -> tuple[int, str]:
        """The most changes one delivery may hold, and where that limit comes from."""
        limit = settings.WEBHOOK_MAX_CHANGES
        if self.max_changes is not None and self.max_changes <= limit:
            return self.max_changes, f"{self.label} sends at most {self.max_changes}"
        return limit, "WEBHOOK_MAX_CHANGES"

    def credential(self, key: str) -> Field | None:
        return next((f for f in self.credentials if f.key == key), None)

    @property
    def secret_keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.credentials if f.secret)

    def needs_auth(self, credentials: Mapping[str, Any]) -> bool:
        """Deliveries must authenticate (a signing credential is set)."""
        return any(credentials.get(f.key) for f in self.credentials if f.signs_in)

    def credentials_problems(
        self, values: Mapping[str, Any], checked: Collection[str] | None = None
    ) -> dict[str, str]:
        """Every problem with a whole set of credentials, by key (unknown keys included).
        `checked`: the keys whose values are checked (None: all); the others are as stored, a
        value saved before a rule was is not held against an edit of something else."""
        return _problems(self.credentials, values, self, "credential", checked)

    def url_problems(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The URL credentials among these values that calls may not go to, by key."""
        problems: dict[str, str] = {}
        for f in self.credentials:
            value = values.get(f.key)
            if f.kind == "url" and value:
                problem = f.problem(value)
                if problem:
                    problems[f.key] = problem
        return problems

    def paths_problems(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Every problem with a whole set of paths, by key (unknown keys included). A type
        without paths knows none: every key given is unknown."""
        return _problems(self.paths, values, self, "path")


def _problems(
    fields: tuple[Field, ...],
    values: Mapping[str, Any],
    source: Source,
    what: str,
    checked: Collection[str] | None = None,
) -> dict[str, str]:
    problems: dict[str, str] = {}
    known = {f.key: f for f in fields}
    for key in values:
        if key not in known:
            listed = ", ".join(sorted(known)) or "none"
            problems[key] = f"unknown {what} {key!r} for type {source.type}; known: {listed}"
    for f in fields:
        value = values.get(f.key, "")
        problem = f.problem(value) if checked is None or f.key in checked else ""
        other = known.get(f.goes_with or f.unless)
        other_label = other.label if other else (f.goes_with or f.unless)
        if not problem and f.required and not value and not (f.unless and values.get(f.unless)):
            instead = f" (or {other_label})" if f.unless else ""
            problem = f"{f.label}{instead} is required for {source.label} integrations"
        if not problem and value and f.goes_with and not values.get(f.goes_with):
            problem = f"{f.label} is set: set {other_label} too"
        if problem:
            problems[f.key] = problem
    return problems


_sources: dict[str, Source] = {}


def _load() -> dict[str, Source]:
    if not _sources:
        for package in REGISTERED:
            source: Source = import_module(package).SOURCE
            _sources[source.type] = source
    return _sources


def sources() -> list[Source]:
    return list(_load().values())


def source_for(type_: str) -> Source | None:
    return _load().get(type_)


def source_choices() -> list[tuple[str, str]]:
    """The integration type's choices (the model field calls this each time it lists them)."""
    return [(s.type, s.label) for s in _load().values()]


def headers_kept(source: Source | None) -> tuple[str, ...]:
    """The headers stored with a delivery: the common ones and its source's; with no source
    known (a spooled delivery), every source's. Never Authorization or a signature."""
    if source is not None:
        return COMMON_HEADERS + source.kept_headers
    return COMMON_HEADERS + tuple(h for s in _load().values() for h in s.kept_headers)


COMMON_HEADERS = ("Content-Type", "User-Agent", "X-Request-Id")


def source_default() -> str:
    return next(iter(_load()))


@contextmanager
def source_registered(source: Source) -> Iterator[Source]:
    """A source registered for a while (the toy source of the tests)."""
    _load()
    if source.type in _sources:
        raise ValueError(f"a source of type {source.type!r} is already registered")
    _sources[source.type] = source
    try:
        yield source
    finally:
        _sources.pop(source.type, None)


@dataclass(frozen=True)
class NoDeliveries:
    """An API-only type: its deliveries carry no changes."""

    reason: str = field(default="this type takes no deliveries")

    def authenticate(self, integration: Any, request: Any, body: bytes) -> str:
        return ""

    def split(self, integration: Any, payload: Any) -> list[Any]:
        return []
