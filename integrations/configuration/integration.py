"""Integrations: name, type, webhook secret, credentials and paths, checked and written.

Credentials are the fields the type's source declares (sources/registry.py). Given credentials
are laid over the stored ones: "***" keeps a stored value, "" clears it, and a key not given
keeps its value. The generic webhook's paths are stored under credentials["paths"].
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from integrations.models import Integration
from integrations.sources.registry import Source, source_for, sources

from .problems import SECRET_MASK, ConfigurationInvalid, shown

_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{8,128}")
PATHS_KEY = "paths"  # where in Integration.credentials the paths are kept


def integration_problems(
    *,
    type: Any,
    name: Any = None,
    webhook_secret: Any = None,
    credentials: Any = None,
    paths: Any = None,
    integration: Integration | None = None,
) -> dict[str, str]:
    """What is wrong with an integration as given, by field. `integration`: the stored one
    being updated (None: a new one); for an update, None means "not given, unchanged"."""
    problems: dict[str, str] = {}
    if integration is None or name is not None:
        problem = _name_problem(name, integration)
        if problem:
            problems["name"] = problem
    source = source_for(type) if isinstance(type, str) else None
    if source is None:
        known = ", ".join(s.type for s in sources())
        problems["type"] = f"The type {shown(type)} is not a source type; known: {known}."
    elif integration is not None and integration.type != type:
        problems["type"] = (
            f"Integration {integration.name!r} is of type {integration.type}, not {type}: "
            "a type cannot change (create a new integration instead)."
        )
    if webhook_secret is not None and webhook_secret != SECRET_MASK:
        problem = _webhook_secret_problem(webhook_secret, integration)
        if problem:
            problems["webhook_secret"] = problem
    if source is None:
        return problems
    if integration is None or credentials is not None:
        problems.update(_credentials_problems(source, integration, credentials or {}))
    if integration is None or paths is not None:
        problems.update(_paths_problems(source, paths if paths is not None else {}))
    return problems


def _name_problem(name: Any, integration: Integration | None) -> str:
    if not isinstance(name, str) or not name.strip():
        return "An integration needs a name."
    others = Integration.objects.filter(name=name)
    if integration is not None:
        others = others.exclude(pk=integration.pk)
    if others.exists():
        return f"Another integration is already named {name!r}."
    return ""


def _webhook_secret_problem(secret: Any, integration: Integration | None) -> str:
    if not isinstance(secret, str) or not _WEBHOOK_SECRET.fullmatch(secret):
        return (
            f"The webhook secret {shown(secret)} is not URL-safe text of 8 to 128 characters "
            "(A-Z, a-z, 0-9, _ and -)."
        )
    others = Integration.objects.filter(webhook_secret=secret)
    if integration is not None:
        others = others.exclude(pk=integration.pk)
    if others.exists():
        return "Another integration already uses this webhook secret."
    return ""


def _credentials_problems(
    source: Source, integration: Integration | None, given: Any
) -> dict[str, str]:
    if not isinstance(given, Mapping):
        return {
            "credentials": f"Credentials are an object of {source.label} credential fields, "
            f"not {type(given).__name__} {shown(given)}."
        }
    merged = credentials_merged(source=source, stored=_stored(integration), given=given)
    unknown = {k: v for k, v in given.items() if source.credential(k) is None}
    # The values given are checked; those kept as stored only for what goes with what.
    checked = {k for k, v in given.items() if v != SECRET_MASK}
    found = source.credentials_problems({**merged, **unknown}, checked)
    return {f"credentials.{key}": message for key, message in found.items()}


def _paths_problems(source: Source, given: Any) -> dict[str, str]:
    if not isinstance(given, Mapping):
        return {"paths": f"Paths are an object of path fields, not {type(given).__name__}."}
    if not source.paths:
        if not given:
            return {}
        listed = ", ".join(map(str, given))
        return {"paths": f"{source.label} integrations have no paths (given {listed})."}
    return {f"paths.{key}": message for key, message in source.paths_problems(given).items()}


def _stored(integration: Integration | None) -> Mapping[str, Any]:
    stored = integration.credentials if integration is not None else {}
    return stored if isinstance(stored, Mapping) else {}  # old rows may hold anything


def credentials_merged(
    *, source: Source, stored: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    """The credentials to keep: the given ones over the stored ones ("***" keeps a stored
    value, "" clears it). Stored keys the source does not declare are dropped."""
    merged = {f.key: stored[f.key] for f in source.credentials if stored.get(f.key)}
    for key, value in given.items():
        if value == SECRET_MASK:
            continue
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _paths_kept(paths: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in paths.items() if value != ""}


def credentials_shown(*, integration: Integration, with_secrets: bool = False) -> dict[str, Any]:
    """The stored credentials as the API and export files show them: secrets as "***"."""
    source = integration.source
    stored = _stored(integration)
    if source is None:
        return {}
    return {
        f.key: stored[f.key] if with_secrets or not f.secret else SECRET_MASK
        for f in source.credentials
        if stored.get(f.key)
    }


def paths_shown(*, integration: Integration) -> dict[str, Any] | None:
    """The stored paths (None for a type without paths)."""
    source = integration.source
    if source is None or not source.paths:
        return None
    paths = _stored(integration).get(PATHS_KEY)
    return dict(paths) if isinstance(paths, Mapping) else {}


def _credentials_stored(
    source: Source,
    integration: Integration | None,
    credentials: Mapping[str, Any] | None,
    paths: Mapping[str, Any] | None,
) -> dict[str, Any]:
    stored = _stored(integration)
    kept = credentials_merged(source=source, stored=stored, given=credentials or {})
    if source.paths:
        if paths is not None:
            kept_paths: Any = _paths_kept(paths)
        else:
            kept_paths = stored.get(PATHS_KEY) if isinstance(stored.get(PATHS_KEY), Mapping) else {}
        if kept_paths:
            kept[PATHS_KEY] = dict(kept_paths)
    return kept


@transaction.atomic
def integration_create(
    *,
    name: str,
    type: str,
    enabled: bool = True,
    webhook_secret: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    paths: Mapping[str, Any] | None = None,
    default_setup: bool = True,
) -> Integration:
    """A new integration; with `default_setup`, its type's default series and steps.
    Raises ConfigurationInvalid naming every problem."""
    from .setup import integration_defaults_apply

    problems = integration_problems(
        name=name, type=type, webhook_secret=webhook_secret, credentials=credentials or {},
        paths=paths,
    )  # fmt: skip
    if problems:
        raise ConfigurationInvalid(problems)
    source = source_for(type)
    integration = Integration(name=name, type=type, enabled=enabled)
    if source is not None:  # it is: checked above
        integration.credentials = _credentials_stored(source, None, credentials, paths)
    if webhook_secret and webhook_secret != SECRET_MASK:
        integration.webhook_secret = webhook_secret
    integration.save()
    if default_setup:
        integration_defaults_apply(integration=integration)
    return integration


@transaction.atomic
def integration_update(
    *,
    integration: Integration,
    name: str | None = None,
    type: str | None = None,
    enabled: bool | None = None,
    webhook_secret: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    paths: Mapping[str, Any] | None = None,
) -> Integration:
    """Change what is given (None: unchanged) of an integration as stored. Raises
    ConfigurationInvalid naming every problem."""
    problems = integration_problems(
        name=name, type=integration.type if type is None else type,
        webhook_secret=webhook_secret, credentials=credentials, paths=paths,
        integration=integration,
    )  # fmt: skip
    if problems:
        raise ConfigurationInvalid(problems)
    if name is not None:
        integration.name = name
    if enabled is not None:
        integration.enabled = enabled
    if webhook_secret is not None and webhook_secret != SECRET_MASK:
        integration.webhook_secret = webhook_secret
    source = integration.source
    if source is not None and (credentials is not None or paths is not None):
        integration.credentials = _credentials_stored(source, integration, credentials, paths)
    integration.save()
    return integration
