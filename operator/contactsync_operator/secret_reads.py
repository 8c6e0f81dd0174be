"""One namespace's Secrets as one reconcile reads them: each fetched once.

A region's reconcile checks that every Secret it mounts opted in, reads its keys, and reads
the ports of its PostgreSQL DSNs: seven reads of four Secrets for a typical region, and more
where regions share Secrets. Here each name is fetched once per reconcile. The next reconcile
fetches anew, so a Secret changed or deleted is seen as soon as before.
"""

from __future__ import annotations

from collections.abc import Callable

from contactsync_operator.kube import SecretMeta, StoredSecret

Fetch = Callable[[str], StoredSecret | None]


class SecretReads:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._seen: dict[str, StoredSecret | None] = {}

    def _secret(self, name: str) -> StoredSecret | None:
        if name not in self._seen:
            self._seen[name] = self._fetch(name)
        return self._seen[name]

    def data(self, name: str) -> dict[str, bytes] | None:
        """The Secret's decoded data, or None when it does not exist."""
        secret = self._secret(name)
        return None if secret is None else secret.data

    def meta(self, name: str) -> SecretMeta | None:
        """The Secret's labels, annotations and type, or None when it does not exist."""
        secret = self._secret(name)
        return None if secret is None else secret.meta
