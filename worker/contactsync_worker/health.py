"""The worker's HTTP endpoint for the kubelet and Prometheus: /healthz, /readyz, /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

SYNCED = Counter(
    "contactsync_worker_contacts_total",
    "Contacts handled, by outcome: created, updated, deleted, unchanged, skipped_no_consent, "
    "skipped_suppressed, quarantined.",
    ["outcome"],
)
BLOCKED_DELETES = Counter(
    "contactsync_worker_mass_deletes_blocked_total", "Syncs stopped by the mass-delete guard."
)
SOURCE_ERRORS = Counter(
    "contactsync_worker_source_errors_total", "Failed reads of a source, by source.", ["source"]
)
PAGE_SECONDS = Histogram(
    "contactsync_worker_page_seconds",
    "Time to fetch, filter, merge and write one page.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


async def serve(
    port: int,
    ready: Callable[[], Awaitable[bool]],
    host: str = "0.0.0.0",  # noqa: S104 - probed from outside the pod
) -> web.AppRunner:
    """Serve the probes and metrics on ``port``. /readyz asks ``ready`` on every probe, so the
    kubelet sees a worker that lost Temporal as not ready, not only one that never started."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        return (
            web.Response(text="ready")
            if await ready()
            else web.Response(status=503, text="not ready")
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
