"""``contactsync worker``: one region's Temporal worker, configured as contracts.runtime says.

It polls only its region's task queue, keeps state in the region's store, and shuts down
gracefully: on SIGTERM it stops polling and lets running activities finish.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, TLSConfig
from temporalio.service import RPCError
from temporalio.worker import Worker

from contactsync_worker import authorization, credentials, health, logs
from contactsync_worker.activities import RegionActivities
from contactsync_worker.audit import AuditAction, AuditEvent
from contactsync_worker.checkpoints import checkpoint_key
from contactsync_worker.codec import data_converter
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.keyring import Keyring
from contactsync_worker.pseudonym_keys import PseudonymKeys, load_pseudonym_keys
from contactsync_worker.settings import WorkerConfigError, WorkerSettings, settings_from_env
from contactsync_worker.store import StateStore
from contactsync_worker.store.sqlite import SqliteStore
from contactsync_worker.transport import (
    InsecureTransportError,
    check_egress,
    check_egress_postgres,
    postgres_conninfo,
)
from contactsync_worker.workflows import WORKFLOWS

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = timedelta(seconds=50)  # inside the pod's 60 s termination grace period
# Under the kubelet's default probe timeout of one second.
READY_CHECK_TIMEOUT = timedelta(seconds=0.8)


def load_keyring(settings: WorkerSettings) -> Keyring:
    if settings.keys_dir is None:
        raise WorkerConfigError(
            "no payload keys: set CONTACTSYNC_KEYS_DIR to the mounted keys Secret"
        )
    return Keyring.from_directory(settings.keys_dir)


async def adopt_pseudonym_key(
    settings: WorkerSettings, keyring: Keyring, store: StateStore
) -> PseudonymKeys:
    """The region's pseudonym key, after the store agreed to it (re-keyed from the previous
    key during a rotation, audited); see contactsync_worker.pseudonym_keys."""
    assert settings.keys_dir is not None  # load_keyring checked it
    keys = load_pseudonym_keys(settings.keys_dir, keyring, settings.region)
    if not keys.dedicated:
        log.warning(
            "no 'pseudonym' key in the keys Secret: pseudonyms derive from the oldest payload "
            "key %s, which must then never be retired; add a dedicated key (docs/worker.md)",
            min(keyring),
        )
    previous = keys.previous.fingerprint if keys.previous else None
    if await store.adopt_pseudonym_key(settings.scope, keys.current.fingerprint, previous):
        log.warning(
            "pseudonym key rotated from %s to %s: the next sync reads every source whole",
            previous,
            keys.current.fingerprint,
        )
        await store.append_audit(
            settings.scope,
            [
                AuditEvent(
                    AuditAction.PSEUDONYM_KEY_ROTATED,
                    detail={"from": previous, "to": keys.current.fingerprint},
                )
            ],
        )
    return keys


def store_conninfo(settings: WorkerSettings) -> Callable[[], Awaitable[str]] | None:
    """How to reach the region's PostgreSQL state store (None: the store is SQLite): the
    connection string, read for every connection so a rotated password needs no restart."""
    store = settings.config.region.store
    if store is None or store.postgres is None:
        return None
    spec = store.postgres

    async def conninfo() -> str:
        ref = spec.dsn_secret_ref
        dsn = credentials.read_secret(ref.name, ref.key, secrets_dir=settings.secrets_dir)
        bundle = credentials.ca_bundle_for(
            spec.ca_bundle_secret_ref, secrets_dir=settings.secrets_dir
        )
        info = postgres_conninfo(dsn.reveal(), allow_insecure=spec.allow_insecure, ca_bundle=bundle)
        await check_egress_postgres(info, settings.config.egress)
        return info

    return conninfo


async def open_store(settings: WorkerSettings) -> StateStore:
    conninfo = store_conninfo(settings)
    if conninfo is not None:
        try:
            await conninfo()  # a worker that cannot use its store does not start
        except InsecureTransportError as exc:
            raise WorkerConfigError(f"state store: {exc}") from None
        from contactsync_worker.store.postgres import PostgresStore  # only this store needs it

        return await PostgresStore.open(conninfo)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return await SqliteStore.open(state_file(settings.state_dir))


async def check_temporal_egress(settings: WorkerSettings) -> None:
    """A frontend the region names is the manifest's choice, so the platform's egress policy
    decides whether the workers may dial it; the operator's default frontend is the platform's
    own choice and is not checked."""
    temporal = settings.config.region.temporal
    if temporal is None or temporal.address is None:
        return
    host, _, port = settings.temporal_address.rpartition(":")
    if not port.isdigit():
        return  # not host:port; the Temporal client reports it
    try:
        await check_egress(host.strip("[]"), int(port), settings.config.egress)
    except InsecureTransportError as exc:
        raise WorkerConfigError(f"Temporal frontend: {exc}") from None


def temporal_tls(tls_dir: Path | None) -> TLSConfig | bool:
    """TLS from a directory laid out as the Temporal TLS Secret (ca.crt, tls.crt, tls.key)."""
    if tls_dir is None:
        return False

    def read(name: str) -> bytes | None:
        path = tls_dir / name
        return path.read_bytes() if path.exists() else None

    return TLSConfig(
        server_root_ca_cert=read("ca.crt"),
        client_cert=read("tls.crt"),
        client_private_key=read("tls.key"),
    )


def temporal_api_key(path: Path | None) -> str | None:
    return path.read_text().strip() if path else None


def requests_public_key(settings: WorkerSettings) -> str | None:
    """The key that verifies purge and erasure requests: the operator's, from the region's
    config; else, where the worker holds the whole keys Secret (local runs), its own."""
    if settings.config.requests_public_key:
        return settings.config.requests_public_key
    seed = authorization.request_key(settings.keys_dir) if settings.keys_dir else None
    return authorization.public_key_text(seed) if seed else None


def worker_identity(settings: WorkerSettings) -> str:
    """How Temporal names this worker in histories: the region, the pod (its host name) and
    the process, so the activities of a sync worked by several replicas say which did what."""
    return f"contactsync-worker/{settings.region}/{socket.gethostname()}/{os.getpid()}"


async def connect(settings: WorkerSettings, keyring: Keyring) -> Client:
    tls = temporal_tls(settings.temporal_tls_dir)
    api_key = temporal_api_key(settings.temporal_api_key_file)
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls or bool(api_key),
        api_key=api_key,
        data_converter=data_converter(keyring),
        identity=worker_identity(settings),
    )


async def run(
    settings: WorkerSettings, stop: asyncio.Event | None = None, *, handle_signals: bool = True
) -> None:
    """Run until ``stop`` is set (or, with ``handle_signals``, until SIGTERM or SIGINT)."""
    stop = stop or asyncio.Event()
    keyring = load_keyring(settings)
    store = await open_store(settings)
    keys = await adopt_pseudonym_key(settings, keyring, store)
    names = keys.current
    region = RegionRuntime(
        settings.config,
        store,
        names,
        settings.secrets_dir,
        checkpoint_key=checkpoint_key(keys.secret, settings.region),
        requests_public_key=requests_public_key(settings),
        previous_pseudonyms=keys.previous,
    )
    await check_temporal_egress(settings)
    client = await connect(settings, keyring)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=RegionActivities(
            region,
            settings.source_attempts,
            settings.source_retry_seconds,
            settings.max_source_pages,
            settings.page_budget_seconds,
            settings.page_concurrency,
        ).all(),
        graceful_shutdown_timeout=SHUTDOWN_GRACE,
        identity=worker_identity(settings),
        max_concurrent_activities=settings.max_concurrent_activities,
    )
    running = False

    async def ready() -> bool:
        return running and await temporal_reachable(client)

    server = await health.serve(settings.metrics_port, ready, settings.metrics_host)
    if handle_signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    try:
        async with worker:
            running = True
            log.info("worker for region %s polling %s", settings.region, settings.task_queue)
            await stop.wait()
            running = False
            log.info("stopping: finishing running activities")
    finally:
        await server.cleanup()
        await region.aclose()
        await store.aclose()


async def temporal_reachable(client: Client) -> bool:
    """Whether the frontend answers its health check now; a probe must not hang on it."""
    try:
        return await asyncio.wait_for(
            client.service_client.check_health(), READY_CHECK_TIMEOUT.total_seconds()
        )
    except (RPCError, TimeoutError, RuntimeError):
        return False


def main() -> int:
    logs.configure()
    try:
        settings = settings_from_env()
    except WorkerConfigError as exc:
        log.error("cannot start: %s", exc)
        return 2
    asyncio.run(run(settings))
    return 0


def state_file(state_dir: Path) -> Path:
    return state_dir / "state.sqlite"
