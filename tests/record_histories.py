"""Record the workflow histories that tests/unit/test_workflow_replay.py replays.

Run from the repository root::

    .venv/bin/python -m tests.record_histories

It starts its own Temporal dev server and Radicale in a temporary directory, runs the real
worker in this process (as the integration tests do), runs each scenario below as a real
workflow, and writes every history as ``tests/histories/<workflow id>.json``. The payloads in
them are encrypted with the throwaway test key in ``tests/histories/keys/`` (made on the
first run, reused after), so the replay test can decode them and no contact data is stored
in clear: every history is checked for that before anything is written.

Re-record only on purpose: a history that no longer replays is exactly what the replay
test exists to catch, so re-recording to make it pass hides a break for running workflows.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.exceptions import ApplicationError

from contactsync_api.workflows import (
    ERASURE_WORKFLOW,
    PURGE_WORKFLOW,
    RETENTION_WORKFLOW,
    SUPPRESSION_LIFT_WORKFLOW,
    SYNC_WORKFLOW,
    ErasureRequest,
    ErasureResult,
    PurgeResult,
    RegionRunRequest,
    RetentionResult,
    SubjectIds,
    SuppressionLiftRequest,
    SuppressionLiftResult,
    SyncInput,
    SyncSummary,
)
from contactsync_worker.authorization import ERASE, LIFT, NO_SUBJECT, PURGE, request_key, sign
from contactsync_worker.codec import ENCODING, EncryptionCodec
from contactsync_worker.keyring import Keyring
from tests.carddav_sync import CORPUS, VCARD, carddav_region, vcard
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer, running_radicale
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles

ROOT = Path(__file__).parents[1]
HISTORIES = ROOT / "tests" / "histories"
KEYS = HISTORIES / "keys"
KEY_ID = "k0001"  # the id carddav_region gives its key, so the region uses this one
REQUEST = RegionRunRequest("tests", "phonebook", "local")
MAX_HISTORY_BYTES = 200_000

# Four valid cards of different shapes and one the worker must quarantine.
FIRST_CARDS = (
    "alice-liddell-v3.vcf",
    "bob-builder-v3-photo.vcf",
    "zoe-angstrom-v4-folded.vcf",
    "yamada-taro-v4-cjk.vcf",
    "broken-unsupported-version.vcf",  # the one broken card Radicale accepts
)
ERASED_EMAIL = "zoe.angstrom@universitet.example"

# Shorter strings could turn up by chance in base64 or ciphertext.
_MIN_MARKER = 8
_MARKER_LINE = re.compile(r"^(?:FN|N|EMAIL|UID|TEL|ORG)[^:\r\n]*:(.+?)\r?$", re.M)

R = TypeVar("R")


class RecordingError(RuntimeError):
    """A scenario did not behave as recorded histories must, or a history leaks data."""


def unencrypted_payloads(events: Iterable[Message]) -> list[str]:
    """Where a payload sits in history without the codec's encryption, as field paths."""
    found: list[str] = []
    for index, event in enumerate(events):
        found += [f"event[{index}]{path}" for path in _plain_payloads(event, "")]
    return found


def _plain_payloads(message: Message, path: str) -> Iterator[str]:
    if isinstance(message, Payload):
        if message.metadata.get("encoding") != ENCODING:
            yield path
        return
    for descriptor, value in message.ListFields():
        entry = descriptor.message_type
        if entry is None:  # a scalar field
            continue
        here = f"{path}.{descriptor.name}"
        if entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for key, item in value.items():
                    yield from _plain_payloads(item, f"{here}[{key!r}]")
        elif descriptor.is_repeated:
            for position, item in enumerate(value):
                yield from _plain_payloads(item, f"{here}[{position}]")
        else:
            yield from _plain_payloads(value, here)


def check_no_contact_data(name: str, history: WorkflowHistory, markers: set[str]) -> None:
    """No marker in the JSON nor in the raw protobuf bytes, and every payload encrypted."""
    text = history.to_json()
    raw = History(events=history.events).SerializeToString()
    leaked = sorted(m for m in markers if m in text or m.encode() in raw)
    if leaked:
        raise RecordingError(f"{name}: history holds contact data in clear: {leaked}")
    plain = unencrypted_payloads(history.events)
    if plain:
        raise RecordingError(f"{name}: payloads not encrypted by the codec: {plain}")
    if len(text.encode()) > MAX_HISTORY_BYTES:
        raise RecordingError(f"{name}: history is {len(text.encode())} bytes")


async def check_markers_are_real(recorder: Recorder) -> None:
    """The leak check proves something only if the markers are what payloads would show:
    the erasure's input, decrypted with the test key, must name the erased email."""
    codec = EncryptionCodec(Keyring.from_mapping({KEY_ID: stored_key()}))
    started = recorder.histories["erasure"].events[0].workflow_execution_started_event_attributes
    [plain] = await codec.decode(started.input.payloads)
    if ERASED_EMAIL not in recorder.markers or ERASED_EMAIL.encode() not in plain.data:
        raise RecordingError("erasure: its decrypted input does not name the erased subject")


def stored_key() -> str:
    """Base64 of the throwaway test key: the stored one, or a new one on the first run."""
    path = KEYS / KEY_ID
    if not path.exists():
        KEYS.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text()


@dataclass
class Recorder:
    temporal: TemporalDevServer
    radicale: RadicaleServer
    dav: httpx.AsyncClient
    workdir: Path
    markers: set[str] = field(default_factory=set)
    histories: dict[str, WorkflowHistory] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @asynccontextmanager
    async def region(
        self, name: str, **options: Any
    ) -> AsyncIterator[tuple[WorkerFiles, str, str]]:
        """A running worker for one region whose payloads use the stored test key."""
        root = self.workdir / name
        (root / "keys").mkdir(parents=True)
        (root / "keys" / KEY_ID).write_text(stored_key())
        async with carddav_region(root, self.radicale, self.temporal, **options) as running:
            yield running

    async def put(self, book: str, name: str, card: bytes) -> None:
        response = await self.dav.put(f"{book}{name}", content=card, headers=VCARD)
        if response.status_code not in (201, 204):
            raise RecordingError(f"PUT {name}: {response.status_code} {response.text}")
        for value in _MARKER_LINE.findall(card.decode()):
            self.markers.update(v for v in (value, *value.split(";")) if len(v) >= _MIN_MARKER)

    async def delete(self, book: str, name: str) -> None:
        response = await self.dav.delete(f"{book}{name}")
        if response.status_code not in (200, 204):
            raise RecordingError(f"DELETE {name}: {response.status_code}")

    async def run(
        self,
        files: WorkerFiles,
        workflow_id: str | None,
        workflow: str,
        argument: object,
        result_type: type[R],
    ) -> R:
        """Run one workflow to its end; record its history under ``workflow_id`` if given."""
        client = await files.client()
        started = time.monotonic()
        handle = await client.start_workflow(
            workflow,
            argument,
            id=workflow_id or f"setup-{secrets.token_hex(6)}",
            task_queue=files.task_queue,
            result_type=result_type,
        )
        try:
            result: R = await handle.result()
            return result
        finally:
            if workflow_id is not None:
                self.seconds[workflow_id] = time.monotonic() - started
                self.histories[workflow_id] = await handle.fetch_history()

    async def run_failing(
        self, files: WorkerFiles, workflow_id: str, argument: SyncInput, error_type: str
    ) -> str:
        """Run a sync that must fail with ``error_type``; returns the failure's message."""
        try:
            result = await self.run(files, workflow_id, SYNC_WORKFLOW, argument, SyncSummary)
        except WorkflowFailureError as failure:
            cause: BaseException | None = failure.cause
            while cause is not None and not isinstance(cause, ApplicationError):
                cause = cause.__cause__
            if isinstance(cause, ApplicationError) and cause.type == error_type:
                return cause.message
            raise RecordingError(f"{workflow_id}: failed with {cause!r}") from failure
        raise RecordingError(f"{workflow_id}: expected {error_type}, got {result}")


def signed(
    files: WorkerFiles, kind: str, workflow_id: str, subject: SubjectIds = NO_SUBJECT
) -> RegionRunRequest:
    """REQUEST signed with the region's request key for the run ``workflow_id``, as
    ``contactsync erase`` and the operator sign theirs: workers refuse anything else."""
    seed = request_key(files.keys_dir)
    if seed is None:
        raise RecordingError(f"{files.keys_dir} holds no request key")
    signature = sign(seed, kind, REQUEST, workflow_id, datetime.now(UTC), subject)
    return dataclasses.replace(REQUEST, authorization=signature)


def expect(name: str, actual: object, wanted: object) -> None:
    if actual != wanted:
        raise RecordingError(f"{name}: expected {wanted}, got {actual}")


async def main_region(recorder: Recorder) -> None:
    """(a) first sync with a broken card, (b) one change and one deletion, then (e) erasure,
    lift of its suppression, retention and purge of the same region."""
    async with recorder.region("main") as (files, source, _):
        for name in FIRST_CARDS:
            await recorder.put(source, name, (CORPUS / name).read_bytes())
        first = await recorder.run(
            files, "first-sync", SYNC_WORKFLOW, SyncInput(REQUEST), SyncSummary
        )
        expect("first-sync", (first.created, first.quarantined), (4, 1))

        alice = (CORPUS / "alice-liddell-v3.vcf").read_text()
        changed = alice.replace("FN:Alice Liddell", "FN:Alice P. Liddell")
        await recorder.put(source, "alice-liddell-v3.vcf", changed.encode())
        await recorder.delete(source, "bob-builder-v3-photo.vcf")
        second = await recorder.run(
            files, "second-sync", SYNC_WORKFLOW, SyncInput(REQUEST), SyncSummary
        )
        expect("second-sync", (second.created, second.updated, second.deleted), (0, 1, 1))

        subject = SubjectIds(email=ERASED_EMAIL)
        erasure = ErasureRequest(signed(files, ERASE, "erasure", subject), email=ERASED_EMAIL)
        erased = await recorder.run(files, "erasure", ERASURE_WORKFLOW, erasure, ErasureResult)
        expect("erasure", erased.contacts_erased, 1)
        lift = SuppressionLiftRequest(
            signed(files, LIFT, "suppression-lift", subject), email=ERASED_EMAIL
        )
        lifted = await recorder.run(
            files, "suppression-lift", SUPPRESSION_LIFT_WORKFLOW, lift, SuppressionLiftResult
        )
        expect("suppression-lift", lifted.erasures_lifted, 1)
        await recorder.run(files, "retention", RETENTION_WORKFLOW, REQUEST, RetentionResult)
        purge = signed(files, PURGE, "purge")
        purged = await recorder.run(files, "purge", PURGE_WORKFLOW, purge, PurgeResult)
        expect("purge", purged.destination_deletes, 2)


async def mass_delete_region(recorder: Recorder) -> None:
    """(c) half the source gone at once, with a 20% limit: the guard stops the sync."""
    deletes = {"propagate": True, "maxDeletePercent": 20}
    async with recorder.region("mass-delete", deletes=deletes) as (files, source, _):
        for n in range(10):
            card = vcard(f"mass-uid-{n:04d}", f"Massimo Person {n}", f"massimo{n}@example.org")
            await recorder.put(source, f"c{n}.vcf", card)
        setup = await recorder.run(files, None, SYNC_WORKFLOW, SyncInput(REQUEST), SyncSummary)
        expect("mass-delete setup", setup.created, 10)
        for n in range(5):
            await recorder.delete(source, f"c{n}.vcf")
        message = await recorder.run_failing(
            files, "mass-delete-blocked", SyncInput(REQUEST), "MassDeleteBlocked"
        )
        if "limit 20%" not in message:
            raise RecordingError(f"mass-delete-blocked: unexpected message {message!r}")


async def unreachable_region(recorder: Recorder) -> None:
    """(d) a source nobody listens on, retried twice quickly: SourceUnreachable (recorded
    before the type had a name of its own: SourceUnavailable)."""
    fast = {"CONTACTSYNC_SOURCE_ATTEMPTS": "2", "CONTACTSYNC_SOURCE_RETRY_SECONDS": "0.2"}
    dead = f"http://127.0.0.1:{free_port()}/nobody/book/"
    async with recorder.region("unreachable", extra_env=fast, source_book=dead) as (files, _, _):
        await recorder.run_failing(
            files, "source-unavailable", SyncInput(REQUEST), "SourceUnreachable"
        )


async def record(workdir: Path) -> Recorder:
    temporal = TemporalDevServer(workdir / "temporal").start()
    try:
        (workdir / "radicale").mkdir()
        with running_radicale(workdir / "radicale") as radicale:
            auth = (radicale.username, radicale.password)
            async with httpx.AsyncClient(auth=auth, timeout=10.0) as dav:
                recorder = Recorder(temporal, radicale, dav, workdir)
                await main_region(recorder)
                await mass_delete_region(recorder)
                await unreachable_region(recorder)
                await check_markers_are_real(recorder)
                return recorder
    finally:
        temporal.stop()


def write(recorder: Recorder) -> None:
    """Check every history first, then write them. Other files stay: histories of an older
    workflow shape, kept under another name, go on proving that shape still replays."""
    for name, history in recorder.histories.items():
        check_no_contact_data(name, history, recorder.markers)
    HISTORIES.mkdir(exist_ok=True)
    for name, history in sorted(recorder.histories.items()):
        path = HISTORIES / f"{name}.json"
        path.write_text(history.to_json() + "\n")
        print(
            f"{path.relative_to(ROOT)}: {len(history.events)} events, "
            f"{path.stat().st_size} bytes, {recorder.seconds[name]:.1f}s"
        )
    print(f"checked for {len(recorder.markers)} contact-data markers: none in clear")


def main() -> None:
    # Scenarios (c) and (d) fail activities on purpose; their tracebacks are noise here.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="contactsync-record-"))
    try:
        write(asyncio.run(record(workdir)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
