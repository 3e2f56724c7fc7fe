"""Durations: "250ms", "2s", "1.5s", "5m", "1h" or a bare number of seconds, as int milliseconds.

The one place for the parsing and multiple-of rules, shared by the library and the CLI.
"""
from __future__ import annotations

import re

from .errors import UsageError

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")
EXAMPLES = "examples: 250ms, 2s, 1.5s, 5m"


def parse_duration(text: str | int | float) -> int:
    """Return *text* as whole milliseconds.

    >>> parse_duration("1.5s"), parse_duration("250ms"), parse_duration(2)
    (1500, 250, 2000)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        ms = float(text) * 1000
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise UsageError(f"{text!r} is not a duration ({EXAMPLES})")
        ms = float(match.group(1)) * _UNITS_MS[match.group(2) or "s"]
    if ms != int(ms) or ms <= 0:
        raise UsageError(f"{text!r} is not a positive whole number of milliseconds ({EXAMPLES})")
    return int(ms)


def format_duration(ms: int) -> str:
    """Render *ms* in the largest unit that divides it: 30000 -> "30s"."""
    for unit in ("h", "m", "s"):
        if ms % _UNITS_MS[unit] == 0:
            return f"{ms // _UNITS_MS[unit]}{unit}"
    return f"{ms}ms"


def require_multiple(what: str, ms: int, of_what: str, of_ms: int) -> None:
    """Refuse *ms* unless it is a multiple of *of_ms*, suggesting the nearest that are."""
    if ms % of_ms == 0:
        return
    lower = ms - ms % of_ms
    upper = lower + of_ms
    options = [format_duration(m) for m in (lower, upper) if m > 0]
    raise UsageError(
        f"{what} {format_duration(ms)} is not a multiple of {of_what} {format_duration(of_ms)}"
        f" (try {' or '.join(options)})"
    )


def require_same_slide(label: str, left_ms: int, right_ms: int) -> None:
    """Two streams combined batch by batch (union, joins, cogroup) must slide together."""
    if left_ms != right_ms:
        raise UsageError(f"{label}: the two streams have different slides ({left_ms} ms and {right_ms} ms);"
                         " window both the same way")
