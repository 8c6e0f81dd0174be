"""Time zone names, as the IANA time zone database knows them.

CEL has no time zone database, so the API server checks only a name's shape; the model
checks the name itself (``contactsync check``, and the operator, which reports a ContactSync
it refuses as Degraded with reason InvalidSpec instead of handing Temporal a schedule it would
refuse). The database is the ``tzdata`` package's where the system has none.
"""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_problem(name: str) -> str | None:
    """Why ``name`` is not a time zone, or None when it is one."""
    if name in known_time_zones():
        return None
    # Names are case-sensitive; a wrong case is the usual slip.
    close = sorted(zone for zone in known_time_zones() if zone.lower() == name.lower())
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        f"{name!r} is not a time zone of the IANA database, e.g. Europe/Berlin, "
        f"America/New_York or UTC{hint}"
    )
