"""Where ``contactsync run`` keeps what must outlive one run, and the checks that keep it
private.

The state directory holds, per ContactSync (``NAMESPACE/NAME/``): the keys of the payload
codec, the pseudonym key and the request-signing seed (created once, never shown), each
region's state store, the embedded Temporal dev server's database and, with ``--demo``,
the demo server's books. Who can read it can read every synced contact's pseudonyms and
decrypt the workflow histories, so the directory must be the user's own and closed to
everyone else: a directory that is not is refused, never silently repaired.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from contactsync_worker.keyring import PSEUDONYM_KEY, REQUESTS_KEY

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# The payload key the first run creates; a rotation adds a key whose id sorts after it.
FIRST_PAYLOAD_KEY = "k0001"
KEY_FILES = (FIRST_PAYLOAD_KEY, PSEUDONYM_KEY, REQUESTS_KEY)
KEY_BYTES = 32  # AES-256, the pseudonym HMAC key and an Ed25519 seed alike


class StateDirError(ValueError):
    """The state directory cannot be used safely; the message names the path and the fix."""


def default_state_dir(env: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/contactsync``, else ``~/.local/state/contactsync``."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_STATE_HOME")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "contactsync"


@dataclass(frozen=True)
class ResourceState:
    """The state of one ContactSync, under ``STATE/NAMESPACE/NAME``."""

    root: Path

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def temporal_database(self) -> Path:
        return self.root / "temporal.sqlite"

    @property
    def demo_dir(self) -> Path:
        return self.root / "demo"

    def region_dir(self, region: str) -> Path:
        return self.root / "regions" / region


def open_state(root: Path) -> Path:
    """The state directory, created owner-only if missing; refused if it is a link, not the
    user's own, or open to group or others."""
    root = root.expanduser()
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        root.mkdir(mode=PRIVATE_DIR)
    _check_private(root, directory=True)
    return root.resolve()


def resource_state(root: Path, namespace: str, name: str) -> ResourceState:
    """One ContactSync's state under ``root`` (from :func:`open_state`), with its keys
    created on first use. Every directory and key file on the way is checked."""
    state = ResourceState(root / namespace / name)
    for directory in (root / namespace, state.root, state.keys_dir):
        _private_dir(directory)
    _ensure_keys(state.keys_dir)
    return state


def private_dir(path: Path) -> Path:
    """A directory under the state directory (a region's store, the demo's books)."""
    _private_dir(path.parent)
    _private_dir(path)
    return path


def _private_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR)
    _check_private(path, directory=True)


def _ensure_keys(keys_dir: Path) -> None:
    """Each key file once, 32 random bytes in base64 as the worker reads them
    (contactsync_worker.keyring, .pseudonym_keys, .authorization). An existing key is
    never replaced: pseudonyms, histories and signatures depend on it."""
    for name in KEY_FILES:
        path = keys_dir / name
        if not path.exists():
            text = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
            # O_EXCL: two runs starting at once must not both write, one over the other.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
        _check_private(path, directory=False)


def _check_private(path: Path, *, directory: bool) -> None:
    info = path.lstat()
    kind = "directory" if directory else "file"
    if stat.S_ISLNK(info.st_mode):
        raise StateDirError(f"state {kind} {path} is a symbolic link; use the real path")
    if directory and not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"state directory {path} is not a directory")
    if not directory and not stat.S_ISREG(info.st_mode):
        raise StateDirError(f"state file {path} is not a regular file")
    if info.st_uid != os.getuid():
        raise StateDirError(
            f"state {kind} {path} belongs to user id {info.st_uid}, not to you "
            f"({os.getuid()}): use a state directory of your own"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        wanted = PRIVATE_DIR if directory else PRIVATE_FILE
        raise StateDirError(
            f"state {kind} {path} is open to others (mode {mode:o}): it holds keys; "
            f"chmod {wanted:o} {path}"
        )
