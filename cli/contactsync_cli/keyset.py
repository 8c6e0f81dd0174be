"""A region's keys as one set of named entries, and the changes a rotation makes to it.

The names and formats are the worker's (contactsync_worker.keyring): every entry holds the
base64 text of 32 random bytes; ``pseudonym``, ``pseudonym-previous`` and ``requests.key`` are
reserved, every other name is a payload key id, and the greatest id in lexical order
encrypts. Nothing here reads or writes files: contactsync_cli.keyfiles does, in either form
(a Secret manifest or a directory).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from contactsync_worker.keyring import (
    KEY_BYTES,
    PREVIOUS_PSEUDONYM_KEY,
    PSEUDONYM_KEY,
    REQUESTS_KEY,
    RESERVED_NAMES,
    Keyring,
    KeyringError,
    decode_secret_key,
)

# Two rotations on one day get 2026-12-02, 2026-12-02-02, 2026-12-02-03...: the suffix is
# padded so that ids of one day still sort by age, and every one sorts before the next day's.
_SAME_DAY_LIMIT = 99
_DATE_ID = re.compile(r"(\d{4}-\d{2}-\d{2})(?:-\d{2})?")
_COUNTER_ID = re.compile(r"(.*?)(\d+)")


class KeySetError(ValueError):
    """The keys cannot be read as a keys set, or a change to them is refused."""


@dataclass(frozen=True)
class KeySet:
    """Entry name → its content as stored (base64 text of the key, as bytes)."""

    entries: Mapping[str, bytes]

    @property
    def payload_ids(self) -> list[str]:
        return sorted(name for name in self.entries if name not in RESERVED_NAMES)

    @property
    def newest_id(self) -> str:
        return max(self.payload_ids)

    def with_changes(self, added: Mapping[str, bytes], removed: Collection[str] = ()) -> KeySet:
        entries = {k: v for k, v in self.entries.items() if k not in removed}
        entries.update(added)
        return KeySet(entries)


@dataclass(frozen=True)
class Change:
    """A changed keys set and what a person should know about the change."""

    keys: KeySet
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One line of ``contactsync keys list``: a name and its role, never its content."""

    name: str
    role: str


def parse(entries: Mapping[str, bytes], where: str) -> KeySet:
    """The keys set in ``entries``, once the worker's own loaders accept every entry."""
    keys = KeySet(dict(entries))
    if not keys.payload_ids:
        raise KeySetError(f"{where} holds no payload key: a keys set needs one to encrypt with")
    try:
        Keyring.from_mapping(keys.entries)
        for name in RESERVED_NAMES & keys.entries.keys():
            decode_secret_key(name, keys.entries[name])
    except KeyringError as exc:
        raise KeySetError(f"{where}: {exc}") from exc
    return keys


def new_key() -> bytes:
    """A fresh key as an entry holds it: base64 of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES))


def generate(today: date) -> KeySet:
    """A complete keys set: one payload key, the pseudonym key and the request key."""
    return KeySet(
        {
            next_payload_id((), today): new_key(),
            PSEUDONYM_KEY: new_key(),
            REQUESTS_KEY: new_key(),
        }
    )


def next_payload_id(existing: Collection[str], today: date) -> str:
    """An id that sorts after every id in ``existing``: today's date if it does.

    Otherwise a suffixed date (a second rotation today, or ids dated later than today by a
    clock ahead of this one), or, for ids that are counters such as ``k0001``, the next count.
    """
    newest = max(existing, default="")
    days = [today.isoformat()]
    dated = _DATE_ID.fullmatch(newest)
    if dated and dated.group(1) > days[0]:
        days.append(dated.group(1))
    for day in days:
        for candidate in _same_day_ids(day):
            if candidate > newest:
                return candidate
    counter = _COUNTER_ID.fullmatch(newest)
    if counter and not dated:
        prefix, digits = counter.groups()
        candidate = f"{prefix}{int(digits) + 1:0{len(digits)}d}"
        if candidate > newest:
            return candidate
    raise KeySetError(
        f"no new key id sorts after the newest one, {newest!r}: the newest id in lexical order "
        "encrypts, so a new key needs a greater one (ids are dates such as "
        f"{today.isoformat()}, or padded counters such as k0001)"
    )


def _same_day_ids(day: str) -> list[str]:
    return [day] + [f"{day}-{n:02d}" for n in range(2, _SAME_DAY_LIMIT + 1)]


def add_payload_key(keys: KeySet, today: date) -> Change:
    key_id = next_payload_id(keys.payload_ids, today)
    previous = keys.newest_id
    return Change(
        keys.with_changes({key_id: new_key()}),
        (
            f"added payload key {key_id}: it encrypts once the workers, the operator and any "
            f"codec server hold it; {previous} and older keys still decrypt",
        ),
    )


def rotate_pseudonym(keys: KeySet) -> Change:
    """A new ``pseudonym`` key; the current one moves to ``pseudonym-previous``."""
    if PREVIOUS_PSEUDONYM_KEY in keys.entries:
        raise KeySetError(
            f"the keys still hold {PREVIOUS_PSEUDONYM_KEY} from an earlier rotation: once every "
            "worker of the region has re-keyed its store (its pseudonym_key_rotated audit "
            f"event) and a sync has run since, remove it (--retire {PREVIOUS_PSEUDONYM_KEY}), "
            "then rotate again"
        )
    if PSEUDONYM_KEY not in keys.entries:
        # Without a dedicated key, pseudonyms derive from the oldest payload key, and the
        # worker takes that derived key as the previous one: there is nothing to move.
        return Change(
            keys.with_changes({PSEUDONYM_KEY: new_key()}),
            (
                f"added a dedicated {PSEUDONYM_KEY} key; the key derived from payload key "
                f"{keys.payload_ids[0]} is the previous one, so keep {keys.payload_ids[0]} until "
                "the workers have re-keyed their stores",
            ),
        )
    return Change(
        keys.with_changes(
            {PSEUDONYM_KEY: new_key(), PREVIOUS_PSEUDONYM_KEY: keys.entries[PSEUDONYM_KEY]}
        ),
        (
            f"moved {PSEUDONYM_KEY} to {PREVIOUS_PSEUDONYM_KEY} and made a new {PSEUDONYM_KEY}: "
            "after the roll-out each worker re-keys its store and the next sync reads every "
            f"source whole; then remove {PREVIOUS_PSEUDONYM_KEY}",
        ),
    )


def retire(keys: KeySet, key_id: str) -> Change:
    """The keys without payload key ``key_id`` (or the finished rotation's previous
    pseudonym key), unless something still needs it."""
    if key_id == PREVIOUS_PSEUDONYM_KEY and key_id in keys.entries:
        return Change(
            keys.with_changes({}, removed={key_id}),
            (
                f"removed {key_id}: a worker whose store was not re-keyed yet now refuses to "
                f"run; {PSEUDONYM_KEY} stays",
            ),
        )
    if key_id in RESERVED_NAMES:
        what = "the request key" if key_id == REQUESTS_KEY else "a pseudonym key"
        raise KeySetError(
            f"{key_id} is {what}, not a payload key: --retire drops old payload keys and "
            f"{PREVIOUS_PSEUDONYM_KEY}"
        )
    if key_id not in keys.entries:
        raise KeySetError(
            f"there is no payload key {key_id}; the payload keys are {', '.join(keys.payload_ids)}"
        )
    if key_id == keys.newest_id:
        raise KeySetError(
            f"{key_id} is the newest payload key, the one that encrypts: rotate first, and "
            "retire it once no workflow history still needs it"
        )
    if PSEUDONYM_KEY not in keys.entries and key_id == keys.payload_ids[0]:
        raise KeySetError(
            f"{key_id} is the oldest payload key and the keys hold no {PSEUDONYM_KEY} key, so "
            f"pseudonyms derive from {key_id}; rotate with --pseudonym, let the workers re-key "
            "their stores, then retire it"
        )
    return Change(
        keys.with_changes({}, removed={key_id}),
        (
            f"retired payload key {key_id}: histories encrypted with it no longer decode; "
            f"{keys.newest_id} still encrypts",
        ),
    )


def describe(keys: KeySet) -> list[Entry]:
    """Every entry's role, payload keys oldest first; never a key's content."""
    newest = keys.newest_id
    lines = [
        Entry(key_id, "payload key, encrypts" if key_id == newest else "payload key, decrypts")
        for key_id in keys.payload_ids
    ]
    if PSEUDONYM_KEY in keys.entries:
        lines.append(Entry(PSEUDONYM_KEY, "reserved: the pseudonym key"))
    else:
        lines.append(
            Entry(
                PSEUDONYM_KEY,
                f"missing: pseudonyms derive from payload key {keys.payload_ids[0]}, which "
                "must stay",
            )
        )
    if PREVIOUS_PSEUDONYM_KEY in keys.entries:
        lines.append(
            Entry(
                PREVIOUS_PSEUDONYM_KEY,
                "reserved: the pseudonym key before the last rotation; remove it once the "
                "workers have re-keyed their stores",
            )
        )
    if REQUESTS_KEY in keys.entries:
        lines.append(
            Entry(REQUESTS_KEY, "reserved: signs purges and erasures; workers never get it")
        )
    else:
        lines.append(Entry(REQUESTS_KEY, "missing: purges and erasures of this region are refused"))
    return lines
