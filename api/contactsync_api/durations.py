"""Duration strings as users write them (``15m``, ``1h30m``, ``400d``), kept as typed.

The spec stores the user's string unchanged so GitOps tools see no drift; the
operator converts it only where it needs a number.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)(ms|d|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class DurationError(ValueError):
    pass


def to_timedelta(text: str) -> timedelta:
    """``1h30m`` → 1:30:00. Refuses anything but a sequence of number+unit parts."""
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise DurationError(f"{text!r} is not a duration like 15m, 1h30m or 7d")
    return timedelta(seconds=total)
