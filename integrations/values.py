"""The value rules of DESIGN §4 and §9: field paths, ids, numbers, booleans, times."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MISSING: Any = object()

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def path_get(record: Any, path: str) -> Any:
    """Follow a dotted path (`user_id.id`, `custom_fields.<hash>.value`, `label_ids.0`).

    Returns MISSING when any part is absent.
    """
    value = record
    for part in path.strip().split("."):
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def is_empty(value: Any) -> bool:
    """Missing, null, "", [] or {} (whitespace-only text counts as empty too)."""
    if value is MISSING or value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list | dict):
        return len(value) == 0
    return False


def unwrap_id(value: Any) -> Any:
    """An object with an `id` key stands for that id (Pipedrive v1 `user_id` is such an object)."""
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


_INTEGRAL_TEXT = re.compile(r"^-?\d+\.0*$")


def as_text(value: Any) -> str:
    """A value as text: trimmed; `true`/`false`; `100.0` as `100`; an object with an id as
    that id; empty values as ""."""
    value = unwrap_id(value)
    if is_empty(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def id_text(value: Any) -> str:
    """Ids compare as trimmed text; `12415231`, `"12415231"` and `12415231.0` are one id."""
    text = as_text(value)
    if _INTEGRAL_TEXT.match(text):
        return text.split(".", 1)[0]
    return text


def as_number(value: Any) -> Decimal | None:
    """A finite number from a number or numeric text; None for anything else."""
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def points_round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def time_or_none(value: Any) -> datetime | None:
    """time_parse, with None for a value that is not a time (record fields of pulled data)."""
    try:
        return time_parse(value)
    except ValueError:
        return None


def time_parse(value: Any) -> datetime | None:
    """A point in time from epoch seconds or milliseconds, or ISO 8601 text (`Z` or an offset;
    `2018-04-11 09:50:13` and dates without a zone are UTC, as Pipedrive sends them).

    Returns None for empty values; raises ValueError for anything else that is not a time.
    """
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date/time")
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds (HubSpot's occurredAt)
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} is not a date/time") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a date/time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    raise ValueError(f"{value!r} is not a date/time")
