"""Durations written by people: `90d`, `12h`, `15m`, `2s`, `1w` (and plain seconds)."""

from __future__ import annotations

import re

from ..errors import MlpipeError

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str, *, flag: str, minimum: float = 0.0) -> float:
    """Seconds in `text`; MlpipeError naming `flag` when it is not a duration or is below `minimum`."""
    match = _DURATION.match(str(text))
    if not match:
        raise MlpipeError(f"{flag}: {text!r} is not a duration.",
                          hint="Write a number with s, m, h, d or w, e.g. 30s, 15m, 90d.")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < minimum or seconds <= 0:
        raise MlpipeError(f"{flag}: {text!r} is too short.", hint=f"Use at least {format_duration(minimum or 1)}.")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact way to write `seconds` with one unit (`900` -> `15m`)."""
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"
