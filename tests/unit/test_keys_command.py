"""``contactsync keys``: what it writes is read as is by the worker's and the operator's own
loaders, it writes only where it overwrites nothing, and it prints no key material."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from contactsync_cli import keys as keys_command
from contactsync_cli.main import EXIT_INVALID, main
from contactsync_operator.region_keys import RegionKeys, parse_keys_secret
from contactsync_worker import authorization
from contactsync_worker.commands import region_checkpoint_key
from contactsync_worker.keyring import Keyring
from contactsync_worker.pseudonym_keys import load_pseudonym_keys

REGION = "eu-central-1"


def material(directory: Path) -> list[str]:
    return [path.read_text() for path in directory.iterdir()]


def secret_data(manifest: dict[str, object]) -> dict[str, bytes]:
    data = manifest["data"]
    assert isinstance(data, dict)
    return {name: base64.b64decode(value, validate=True) for name, value in data.items()}


def generate_dir(tmp_path: Path) -> Path:
    keys_dir = tmp_path / "keys"
    assert main(["keys", "generate", "--region", REGION, "--out", str(keys_dir)]) == 0
    return keys_dir


def test_the_exit_code_for_invalid_input_is_the_commands() -> None:
    assert keys_command.EXIT_INVALID == EXIT_INVALID


def test_a_generated_directory_is_what_the_worker_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = generate_dir(tmp_path)
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in keys_dir.iterdir()} == {0o600}

    keyring = Keyring.from_directory(keys_dir)
    assert len(keyring) == 1
    pseudonyms = load_pseudonym_keys(keys_dir, keyring, REGION)
    assert pseudonyms.dedicated
    assert pseudonyms.previous is not None  # the derived key, as for every dedicated key
    assert authorization.request_key(keys_dir) is not None
    assert len(region_checkpoint_key(keys_dir, REGION)) == 32

    printed = capsys.readouterr()
    for value in material(keys_dir):
        assert value not in printed.out + printed.err


def test_a_directory_that_holds_anything_is_not_written_into(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "notes.txt").write_text("mine")
    assert main(["keys", "generate", "--region", REGION, "--out", str(keys_dir)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith(f"contactsync keys generate: {keys_dir} already exists")
    assert err.count("\n") == 1
    assert [p.name for p in keys_dir.iterdir()] == ["notes.txt"]


def test_a_generated_manifest_is_a_v1_secret_the_operator_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["keys", "generate", "--region", REGION, "--namespace", "contacts"]
    assert main([*args, "--contactsync", "phonebook"]) == 0
    manifest = yaml.safe_load(capsys.readouterr().out)
    assert manifest["apiVersion"] == "v1"
    assert manifest["kind"] == "Secret"
    assert manifest["type"] == "Opaque"
    assert manifest["metadata"] == {
        "name": f"contactsync-keys-{REGION}",
        "namespace": "contacts",
        "labels": {"contactsync.dev/use": "phonebook"},
    }
    data = secret_data(manifest)
    assert {"pseudonym", "requests.key"} < data.keys()
    keys = parse_keys_secret(REGION, manifest["metadata"]["name"], data)
    assert isinstance(keys, RegionKeys), keys
    assert keys.request_key is not None
    assert keys.keyring.newest_id not in {"pseudonym", "requests.key"}


def test_a_manifest_file_is_private_and_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.yaml"
    args = ["keys", "generate", "--region", REGION, "--manifest", str(path)]
    assert main(args) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert main(args) == EXIT_INVALID
    assert path.read_text() == first
    assert "already exists" in capsys.readouterr().err


def test_rotating_a_manifest_keeps_its_metadata_and_keys_and_adds_a_newer_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.yaml"
    assert main(["keys", "generate", "--region", REGION, "--manifest", str(path)]) == 0
    # As `kubectl get secret -o yaml` gives it: server fields, and kubectl's copy of the keys.
    fetched = yaml.safe_load(path.read_text())
    fetched["metadata"] |= {
        "resourceVersion": "42",
        "uid": "0b1c",
        "labels": {"contactsync.dev/use": "phonebook"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
    }
    path.write_text(yaml.safe_dump(fetched))
    before = secret_data(fetched)

    assert main(["keys", "rotate", "--manifest", str(path)]) == 0
    rotated = yaml.safe_load(path.read_text())
    assert rotated["metadata"] == {
        "name": f"contactsync-keys-{REGION}",
        "labels": {"contactsync.dev/use": "phonebook"},
    }
    after = secret_data(rotated)
    [added] = after.keys() - before.keys()
    assert {k: v for k, v in after.items() if k != added} == before
    assert Keyring.from_mapping(after).newest_id == added
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotating_a_directory_writes_a_directory_and_a_second_pseudonym_rotation_waits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = generate_dir(tmp_path)
    pseudonym = (keys_dir / "pseudonym").read_text()
    assert main(["keys", "rotate", "--dir", str(keys_dir), "--pseudonym"]) == 0
    assert (keys_dir / "pseudonym-previous").read_text() == pseudonym
    assert len(Keyring.from_directory(keys_dir)) == 2
    assert {stat.S_IMODE(p.stat().st_mode) for p in keys_dir.iterdir()} == {0o600}
    capsys.readouterr()

    unchanged = sorted(material(keys_dir))
    assert main(["keys", "rotate", "--dir", str(keys_dir), "--pseudonym"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "--retire pseudonym-previous" in err
    assert err.count("\n") == 1
    assert sorted(material(keys_dir)) == unchanged


def test_retiring_the_newest_key_is_refused_and_an_old_one_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = generate_dir(tmp_path)
    [oldest] = Keyring.from_directory(keys_dir)
    assert main(["keys", "rotate", "--dir", str(keys_dir)]) == 0
    newest = Keyring.from_directory(keys_dir).newest_id
    assert main(["keys", "rotate", "--dir", str(keys_dir), "--retire", newest]) == EXIT_INVALID
    assert "the newest payload key" in capsys.readouterr().err
    assert main(["keys", "rotate", "--dir", str(keys_dir), "--retire", oldest]) == 0
    assert list(Keyring.from_directory(keys_dir)) == [newest]


def test_listing_names_every_entry_and_prints_no_key_material(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys_dir = generate_dir(tmp_path)
    path = tmp_path / "keys.yaml"
    assert main(["keys", "generate", "--region", REGION, "--manifest", str(path)]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--dir", str(keys_dir)]) == 0
    assert main(["keys", "list", "--manifest", str(path)]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert len(lines) == 6
    assert sum("encrypts" in line for line in lines) == 2
    assert sum(line.startswith(("pseudonym ", "requests.key ")) for line in lines) == 4
    secrets = material(keys_dir) + [
        v.decode() for v in secret_data(yaml.safe_load(path.read_text())).values()
    ]
    for value in secrets:
        assert value not in printed.out + printed.err
    assert base64.b64encode(secrets[0].encode()).decode() not in printed.out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, ": cannot be read (No such file or directory)"),
        ("kind: ConfigMap\napiVersion: v1\n", "is not a v1 Secret manifest"),
        ("apiVersion: v1\nkind: Secret\ndata: [\n", "is not YAML"),
        ("apiVersion: v1\nkind: Secret\ndata: {k1: '%%%'}\n", "data entry 'k1' is not base64"),
        ("apiVersion: v1\nkind: Secret\nstringData: {k1: c2hvcnQ=}\n", "'k1' is 5 bytes long"),
    ],
)
def test_a_manifest_that_is_no_keys_secret_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, problem: str
) -> None:
    path = tmp_path / "keys.yaml"
    if content is not None:
        path.write_text(content)
    assert main(["keys", "list", "--manifest", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith(f"contactsync keys list: {path}")
    assert problem in err
    assert err.count("\n") == 1


def test_a_name_kubernetes_would_refuse_is_refused_before_any_key_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    assert main(["keys", "generate", "--region", "EU_1", "--out", str(out)]) == EXIT_INVALID
    assert "--region 'EU_1' is not a valid name" in capsys.readouterr().err
    assert not out.exists()
