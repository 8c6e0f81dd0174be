"""When each ContactSync's resync timer first fires: spread over a period, not all at once.

Kopf starts a resource's timer when it first sees the resource, and each next tick comes one
period after the last ended. ContactSyncs applied together (a GitOps sync) or found together
(an operator start) would tick together for ever: in the scale benchmark, 300 reconciles every
minute within seconds of each other, queued behind the same few threads, took 13 s each on
average. A first delay between half a period and one and a half, fixed by the object's uid,
spreads them evenly and keeps the mean first delay at one period.
"""

from __future__ import annotations

import hashlib


def first_tick(uid: str, period: float) -> float:
    """Seconds from when the operator sees the object to its first resync."""
    digest = hashlib.sha256(uid.encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return period * (0.5 + fraction)
