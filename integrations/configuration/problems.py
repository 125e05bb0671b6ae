"""What every configuration service raises, and how problems name a value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A secret as the API and the import file show it; given back, it keeps the stored value.
SECRET_MASK = "***"  # noqa: S105  (the mask, not a secret)


class ConfigurationInvalid(Exception):
    """A configuration the engine could not run. `problems` maps a field ("name",
    "credentials.api_token", "values") to a message that names the field and the value."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


def shown(value: Any) -> str:
    """A value as a message quotes it: 'won', 10, true, ['a'], series 'Deals'."""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return repr(name)
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def prefixed(problems: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {f"{prefix}.{key}" if key else prefix: message for key, message in problems.items()}
