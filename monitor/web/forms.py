"""Small parsers from HTML form fields to the values the alerting models take (pure).

``items("a, b\\nc")`` → ``("a", "b", "c")``; ``until(form, now)`` reads a silence's end from either a
duration (``2h``, ``1d``) or a ``datetime-local`` value (read as UTC); ``problem(exc)`` is the first
validation error as one readable line (``field: message``) for the page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

_DUR = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def items(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(x.strip() for x in re.split(r"[,\n]", value) if x.strip()))


def duration(value: str) -> timedelta:
    m = _DUR.match(value.strip())
    if not m:
        raise ValueError(f"duration: expected e.g. 2h, 1d, 30m, 1w; got {value!r}")
    return timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


def local_time(value: str) -> datetime:
    """A ``datetime-local`` (or ISO 8601) value; without an offset it is UTC."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"time: expected YYYY-MM-DDTHH:MM (UTC), got {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def until(ends_at: str, for_: str, now: datetime) -> datetime:
    if ends_at.strip():
        return local_time(ends_at)
    return now + duration(for_ or "2h")


def problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        return f"{loc}: {msg}" if loc else msg
    return str(exc)


def local_value(dt: datetime | None) -> str:
    """A UTC time as a ``datetime-local`` input value."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if dt is not None else ""
