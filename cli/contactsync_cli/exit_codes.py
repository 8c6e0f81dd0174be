"""What ``contactsync`` exits with, for scripts to tell outcomes apart (docs/cli.md).

Every command exits 0 when it did what was asked; the others use the codes their outcomes
need. A value never changes once released: scripts test for them.
"""

from __future__ import annotations

EXIT_OK = 0
# The input cannot be used: a manifest the model refuses, an option that makes no sense, a
# state directory others may read, a Secret key the manifest needs missing from --secrets-dir.
EXIT_INVALID = 2
# A source or destination did not answer, refused the credentials, or does not hold what
# the manifest names (an address book, a file); or a tool the command needs is missing.
EXIT_UNAVAILABLE = 3
# A run would have deleted more of a destination than deletes.maxDeletePercent allows.
EXIT_MASS_DELETE_BLOCKED = 4
# A sync failed for any other reason (the state store, a worker that crashed, a time-out).
EXIT_SYNC_FAILED = 5
# SIGINT or SIGTERM stopped the command before it was done (128 + SIGINT, as shells say).
EXIT_INTERRUPTED = 130
