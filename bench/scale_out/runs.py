"""The runs: each set-up's workers started and ready (polling, as deployed) before a full
sync is timed from the workflow's start to its result; the set-ups alternate run by run;
every run is checked before its time counts. Then the guard check on the last two-worker
run's region (bench.scale_out.guard)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from tests.worker_process import WorkerProcess, worker_process

from bench.scale_out import checks, guard, history, usage
from bench.scale_out.proxy import LatencyProxy
from bench.scale_out.region import NAMESPACE, ONE, REGION, TWO, RunRegion, Setup, run_region
from contactsync_api.errors import ErrorType
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary

# A full sync of the default book takes well under a minute; one that does not end is a hang.
RUN_TIMEOUT = 1800.0


class RunFailed(RuntimeError):
    """A run did the wrong thing: its time would be a wrong figure."""


@dataclass(frozen=True)
class WorkerShare:
    worker: str  # worker-1, worker-2: the order they were started in
    identity: str  # as Temporal recorded it: region, host, pid
    page_activities: int
    pages: int


@dataclass(frozen=True)
class Sample:
    setup: str
    run: int  # 0: the warm-up, not in the medians
    seconds: float  # workflow start to result
    summary: dict[str, Any]
    rows: int
    duplicate_emails: int
    workers: list[WorkerShare]
    # Page activities scheduled and not closed, at most (the history records an activity's
    # start only when it ends, so not how many ran at once).
    most_scheduled: int
    retried: int  # page activities that took more than one attempt
    history_events: int
    requests: dict[str, int]  # what passed the proxy, by kind
    most_requests_at_once: int  # in the proxy at the same time, at most
    cpu_seconds: dict[str, float]


@dataclass
class Bench:
    root: Path
    cards: int
    seed: int
    book_url: str  # Radicale itself
    proxied_url: str  # the same book through the latency proxy: what the source reads
    dav_credentials: dict[str, str]
    proxy: LatencyProxy
    temporal_address: str
    dsn: str
    servers: dict[str, list[int]]  # name -> pids, for the CPU figures
    regions: dict[str, RunRegion] = field(default_factory=dict)  # the last run's, by set-up

    def region(self, setup: Setup, run: int) -> RunRegion:
        region = run_region(
            self.root,
            setup,
            run,
            book_url=self.proxied_url,
            temporal_address=self.temporal_address,
            dsn=self.dsn,
            dav_credentials=self.dav_credentials,
        )
        self.regions[setup.name] = region
        return region

    @asynccontextmanager
    async def workers(self, region: RunRegion, setup: Setup) -> AsyncIterator[list[WorkerProcess]]:
        """The set-up's worker processes, each ready (its /readyz answers: it polls)."""
        async with AsyncExitStack() as stack:
            started = [
                await stack.enter_async_context(
                    worker_process(region.files, region.files.root / f"worker-{n}.log")
                )
                for n in range(1, setup.workers + 1)
            ]
            try:
                yield started
            except BaseException:
                for worker in started:
                    print(f"--- {worker.log_path}\n{worker.log_tail()}", file=sys.stderr)
                raise

    async def run_once(self, setup: Setup, run: int) -> Sample:
        region = self.region(setup, run)
        async with self.workers(region, setup) as workers:
            client = await region.files.client()
            pids = {"workers": [w.process.pid for w in workers], **self.servers}
            self.proxy.take()
            before = usage.snapshot(pids)
            started = time.perf_counter()
            handle = await start_sync(client, region)
            summary = await asyncio.wait_for(handle.result(), RUN_TIMEOUT)
            seconds = time.perf_counter() - started
            cpu = usage.spent(before, usage.snapshot(pids))
            traffic = self.proxy.take()
        work = await history.page_work(client, handle)
        written = await checks.written(self.dsn, region.table)
        found = checks.problems(self.cards, summary, written, traffic.requests)
        if found:
            raise RunFailed(f"{setup.name} run {run}: " + "; ".join(found))
        return Sample(
            setup=setup.name,
            run=run,
            seconds=round(seconds, 3),
            summary=asdict(summary),
            rows=written.rows,
            duplicate_emails=written.duplicate_emails,
            workers=shares(work, workers),
            most_scheduled=work.most_scheduled,
            retried=work.retried,
            history_events=work.events,
            requests=traffic.requests,
            most_requests_at_once=traffic.most_in_flight,
            cpu_seconds=cpu,
        )

    async def run_all(
        self, setups: Sequence[Setup], runs: int, warm_up: bool, say: Callable[[str], None]
    ) -> list[Sample]:
        """``runs`` runs of each set-up, the order turned by one every run (with two set-ups:
        swapped), after an untimed one-worker run with ``warm_up``."""
        samples: list[Sample] = []
        plan = [(0, ONE)] if warm_up else []
        for run in range(1, runs + 1):
            turn = (run - 1) % len(setups)
            plan += [(run, setup) for setup in (*setups[turn:], *setups[:turn])]
        for run, setup in plan:
            sample = await self.run_once(setup, run)
            samples.append(sample)
            label = "warm-up" if run == 0 else f"run {run}/{runs}"
            say(f"{label} {setup.name:>11}: {sample.seconds:6.2f} s; {describe(sample)}")
        return samples

    async def guard_check(self, say: Callable[[str], None]) -> dict[str, Any]:
        """Restart the last two-worker run's workers on its region (its scope and table,
        synced in full), fold 30% of the cards, sync: the guard must stop the run."""
        region = self.regions.get(TWO.name)
        if region is None:
            raise RuntimeError("the guard check follows the two-worker runs")
        auth = (self.dav_credentials["username"], self.dav_credentials["password"])
        folded = await guard.fold(self.book_url, auth, self.cards, self.seed)
        say(f"guard check: {folded:,} cards now fold another card's contact; syncing")
        async with self.workers(region, TWO) as workers:
            client = await region.files.client()
            handle = await start_sync(client, region)
            outcome, message = "completed", ""
            try:
                await asyncio.wait_for(handle.result(), RUN_TIMEOUT)
            except WorkflowFailureError as failure:
                cause = failure.cause
                if isinstance(cause, ApplicationError) and cause.type:
                    outcome = cause.type
                else:
                    outcome = type(cause).__name__
                message = str(cause)
        work = await history.page_work(client, handle)
        written = await checks.written(self.dsn, region.table)
        least = guard.least_rows(self.cards)
        found = []
        if outcome != ErrorType.MASS_DELETE_BLOCKED.value:
            found.append(f"the run ended {outcome}, not {ErrorType.MASS_DELETE_BLOCKED.value}")
        if written.rows < least:
            found.append(f"{written.rows} rows left, fewer than the guard allows ({least})")
        if written.duplicate_emails:
            found.append(f"{written.duplicate_emails} emails written more than once")
        return {
            "region": region.name,
            "folded_cards": folded,
            "outcome": outcome,
            "message": message,
            "rows_left": written.rows,
            "least_rows_allowed": least,
            "duplicate_emails": written.duplicate_emails,
            "workers": [asdict(s) for s in shares(work, workers)],
            "most_scheduled": work.most_scheduled,
            "problems": found,
        }


async def start_sync(client: Client, region: RunRegion) -> WorkflowHandle[Any, SyncSummary]:
    return await client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(RegionRunRequest(NAMESPACE, region.name, REGION)),
        id=f"{region.name}-{uuid.uuid4().hex[:8]}",
        task_queue=region.files.task_queue,
        result_type=SyncSummary,
    )


def shares(work: history.PageWork, workers: list[WorkerProcess]) -> list[WorkerShare]:
    """Each worker's page activities and pages, named by the order it was started in."""
    names = {str(w.process.pid): f"worker-{n}" for n, w in enumerate(workers, 1)}
    return [
        WorkerShare(
            worker=names.get(identity.rpartition("/")[2], "another worker"),
            identity=identity,
            page_activities=count,
            pages=work.pages[identity],
        )
        for identity, count in sorted(work.activities.items())
    ]


def describe(sample: Sample) -> str:
    """One line of who did what: ``worker-1 3 activities / 6 pages, ...``."""
    parts = [f"{s.worker} {s.page_activities} act. / {s.pages} pages" for s in sample.workers]
    return (
        ", ".join(parts) + f"; at most {sample.most_scheduled} page activities scheduled and "
        f"{sample.most_requests_at_once} requests at once"
    )
