"""The state directory of ``contactsync run``: created private, keys made once, and refused
when anyone else could read it."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from contactsync_cli.state_dir import (
    StateDirError,
    default_state_dir,
    open_state,
    private_dir,
    resource_state,
)
from contactsync_worker.keyring import Keyring
from contactsync_worker.pseudonym_keys import load_pseudonym_keys


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_follows_xdg_state_home_and_falls_back_to_the_home_directory() -> None:
    assert default_state_dir({"XDG_STATE_HOME": "/srv/state"}) == Path("/srv/state/contactsync")
    fallback = Path.home() / ".local" / "state" / "contactsync"
    assert default_state_dir({}) == fallback
    assert default_state_dir({"XDG_STATE_HOME": "relative"}) == fallback  # the spec ignores it


def test_a_new_state_directory_and_its_keys_are_the_owners_alone(tmp_path: Path) -> None:
    root = open_state(tmp_path / "nested" / "state")
    state = resource_state(root, "default", "book")

    for directory in (root, root / "default", state.root, state.keys_dir):
        assert mode(directory) == 0o700
    names = {p.name for p in state.keys_dir.iterdir()}
    assert names == {"k0001", "pseudonym", "requests.key"}
    for key in state.keys_dir.iterdir():
        assert mode(key) == 0o600
        assert len(base64.b64decode(key.read_text())) == 32
    # The worker reads them as it reads a mounted keys Secret.
    keyring = Keyring.from_directory(state.keys_dir)
    assert list(keyring) == ["k0001"]
    assert load_pseudonym_keys(state.keys_dir, keyring, "local").dedicated


def test_keys_are_made_once_and_never_replaced(tmp_path: Path) -> None:
    root = open_state(tmp_path / "state")
    first = resource_state(root, "default", "book")
    keys = {p.name: p.read_bytes() for p in first.keys_dir.iterdir()}
    again = resource_state(open_state(tmp_path / "state"), "default", "book")
    assert {p.name: p.read_bytes() for p in again.keys_dir.iterdir()} == keys


@pytest.mark.parametrize("wider", [0o750, 0o705, 0o777])
def test_a_state_directory_open_to_others_is_refused_not_repaired(
    tmp_path: Path, wider: int
) -> None:
    root = tmp_path / "state"
    root.mkdir()
    root.chmod(wider)
    with pytest.raises(StateDirError, match=rf"open to others \(mode {wider:o}\).*chmod 700"):
        open_state(root)
    assert mode(root) == wider


def test_a_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    root = open_state(tmp_path / "state")
    state = resource_state(root, "default", "book")
    (state.keys_dir / "pseudonym").chmod(0o640)
    with pytest.raises(StateDirError, match=r"pseudonym is open to others.*chmod 600"):
        resource_state(root, "default", "book")


def test_a_subdirectory_open_to_others_is_refused(tmp_path: Path) -> None:
    root = open_state(tmp_path / "state")
    state = resource_state(root, "default", "book")
    region = private_dir(state.region_dir("eu"))
    region.chmod(0o755)
    with pytest.raises(StateDirError, match="eu is open to others"):
        private_dir(state.region_dir("eu"))


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(StateDirError, match="is a symbolic link"):
        open_state(link)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir(mode=0o700)
    os.chown(root, 65534, 65534)
    with pytest.raises(StateDirError, match="belongs to user id 65534, not to you"):
        open_state(root)
