"""``contactsync run FILE``: the ContactSyncs of a manifest on this machine, no cluster.

Also ``contactsync local``, the throwaway run it replaced: kept as an alias so existing
scripts go on working, with a note that says what to use instead.

The report goes to stdout, logs to stderr (JSON as the worker's, or text), and a failure ends
with one line on stderr, ``contactsync run: <what and where>``, and an exit code of its kind
(contactsync_cli.exit_codes; docs/cli.md lists them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contactsync_api.manifest import ContactSync, ManifestError, load_contact_syncs
from contactsync_cli import run_logs
from contactsync_cli.exit_codes import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNAVAILABLE,
)

if TYPE_CHECKING:
    from contactsync_cli.local_dry_run import DryRunOptions
    from contactsync_cli.local_run import RunOptions

# A person at a terminal waits for a wrong host to fail: few attempts, a short pause (the
# worker's own defaults, 8 attempts from 2 s apart, ride out a server restart in a cluster).
LOCAL_SOURCE_ATTEMPTS = 2
LOCAL_SOURCE_RETRY_SECONDS = 1.0


def _say(line: str) -> None:
    print(line, flush=True)


def _error(line: str) -> None:
    print(f"contactsync run: {line}", file=sys.stderr, flush=True)


def register(commands: Any) -> None:
    """Add ``run`` and its alias ``local`` to the subcommands."""
    run = commands.add_parser(
        "run",
        help="run the ContactSyncs of a manifest on this machine (embedded Temporal), "
        "keeping state between runs",
        description="Sync every region of each ContactSync in FILE once, or keep syncing on "
        "its schedule with --follow. State (keys, state stores, the dev server's database) "
        "is kept in --state-dir, so the next run is incremental.",
    )
    run.add_argument("file", type=Path, metavar="FILE")
    _shared_arguments(run)
    run.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where state is kept, one directory per NAMESPACE/NAME (default: "
        "$XDG_STATE_HOME/contactsync or ~/.local/state/contactsync); must be yours, mode 700",
    )
    run.add_argument(
        "--follow",
        action="store_true",
        help="after the first sync, keep syncing on the manifest's schedule until SIGINT/SIGTERM",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="report what each region's sync would create, update and delete in each "
        "destination, and write nothing (no Temporal server, no destination contacted)",
    )
    run.add_argument(
        "--show-changes",
        action="store_true",
        help="with --dry-run: list each change by contact id and field names, no values",
    )
    run.add_argument(
        "--show-values",
        action="store_true",
        help="with --dry-run: list each change with its values (contact data on your screen)",
    )
    run.add_argument(
        "--log-format",
        choices=run_logs.FORMATS,
        default="json",
        help="logs on stderr: JSON lines as the worker writes them (default), or text",
    )
    run.add_argument(
        "--debug",
        action="store_true",
        help="log the worker's information and debug lines, and tracebacks of crashes",
    )
    local = commands.add_parser(
        "local", help="deprecated: contactsync run with a throwaway --state-dir"
    )
    local.add_argument("file", type=Path, metavar="FILE")
    _shared_arguments(local)


def _shared_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secrets-dir",
        type=Path,
        metavar="DIR",
        help="credentials: one directory per Secret name, one file per key "
        "(default: STATE_DIR/secrets)",
    )
    parser.add_argument(
        "--demo",
        type=Path,
        metavar="DIR",
        help="serve the manifest's loopback CardDAV URLs from a local Radicale whose sources "
        "start with the vCards in DIR",
    )


def run(args: argparse.Namespace) -> int:
    if args.command == "local":
        print(
            "contactsync local is deprecated: use contactsync run (it keeps state in "
            "--state-dir); this run's state is thrown away",
            file=sys.stderr,
        )
        with tempfile.TemporaryDirectory(prefix="contactsync-local-") as directory:
            throwaway = argparse.Namespace(
                **vars(args),
                state_dir=Path(directory) / "state",
                follow=False,
                dry_run=False,
                show_changes=False,
                show_values=False,
                log_format="json",
                debug=False,
            )
            return _run(throwaway)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from contactsync_cli.local import LocalModeError, describe_resource
    from contactsync_cli.state_dir import StateDirError, default_state_dir, open_state
    from contactsync_worker.settings import WorkerConfigError, tuning_from_env

    run_logs.configure(args.log_format, args.debug)
    # Whatever the run creates (the dev server's database, state stores, logs) is the
    # user's alone, as the state directory is.
    os.umask(0o077)
    resources = _resources(args.file)
    if resources is None:
        return EXIT_INVALID
    dry = args.dry_run
    if (args.show_changes or args.show_values) and not dry:
        _error("--show-changes and --show-values go with --dry-run")
        return EXIT_INVALID
    if dry and args.follow:
        _error("--dry-run reports one sync; drop --follow")
        return EXIT_INVALID
    if args.demo is not None and args.secrets_dir is not None:
        _error("--demo provides the demo server's credentials; drop --secrets-dir")
        return EXIT_INVALID
    try:
        tuning = tuning_from_env(
            os.environ,
            source_attempts=LOCAL_SOURCE_ATTEMPTS,
            source_retry_seconds=LOCAL_SOURCE_RETRY_SECONDS,
        )
        state_root = open_state(args.state_dir or default_state_dir())
    except (WorkerConfigError, StateDirError) as exc:
        _error(str(exc))
        return EXIT_INVALID
    except OSError as exc:
        _error(f"cannot create the state directory {exc.filename}: {exc.strerror}")
        return EXIT_INVALID
    for resource in resources:
        describe_resource(resource, _say)
    from contactsync_cli.local_run import RunOptions

    options = RunOptions(state_root, args.secrets_dir, args.demo, args.follow, tuning)
    try:
        if dry:
            shown = _dry_run_options(args)
            return asyncio.run(_dry_run_all(resources, options, shown))
        return asyncio.run(_run_all(resources, options))
    except LocalModeError as exc:
        _error(str(exc))
        return EXIT_UNAVAILABLE
    except StateDirError as exc:
        _error(str(exc))
        return EXIT_INVALID
    except KeyboardInterrupt:  # a second signal: stop now, without waiting for the workers
        _error("interrupted")
        return EXIT_INTERRUPTED


def _resources(path: Path) -> list[ContactSync] | None:
    try:
        return load_contact_syncs(path)
    except ManifestError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        _error(f"{path} is not a valid ContactSync manifest")
    except OSError as exc:
        _error(f"{path}: {exc.strerror}")
    return None


async def _run_all(resources: list[ContactSync], options: RunOptions) -> int:
    """Each ContactSync in turn (with --follow, all at once); the exit code of the first
    region that failed, in the manifest's order, else of an interruption, else 0."""
    from contactsync_cli.local_run import LocalRunError, run_contact_sync
    from contactsync_cli.region_watch import RegionOutcome, report_outcome

    stop = asyncio.Event()
    _on_signals(stop)
    outcomes: list[RegionOutcome] = []
    try:
        if options.follow:
            runs = [run_contact_sync(r, options, _say, stop) for r in resources]
            for found in await asyncio.gather(*runs):
                outcomes += found
        else:
            for resource in resources:
                if stop.is_set():
                    break
                outcomes += await run_contact_sync(resource, options, _say, stop)
    except LocalRunError as exc:
        _error(str(exc))
        return exc.exit_code
    for outcome in outcomes:
        report_outcome(outcome, _say, _error)
    failed = [o.failure.exit_code for o in outcomes if o.failure is not None]
    if failed:
        return failed[0]
    if any(o.interrupted for o in outcomes) or (stop.is_set() and not options.follow):
        return EXIT_INTERRUPTED
    return EXIT_OK


def _dry_run_options(args: argparse.Namespace) -> DryRunOptions:
    from contactsync_cli.local_dry_run import DryRunOptions

    return DryRunOptions(changes=args.show_changes, values=args.show_values)


async def _dry_run_all(
    resources: list[ContactSync], options: RunOptions, shown: DryRunOptions
) -> int:
    """Each ContactSync's dry run in turn; the exit code of the first that a run would end
    with, else 0."""
    from contactsync_cli.local_dry_run import dry_run_contact_sync
    from contactsync_cli.local_run import LocalRunError

    codes = []
    try:
        for resource in resources:
            codes.append(await dry_run_contact_sync(resource, options, shown, _say, _error))
    except LocalRunError as exc:
        _error(str(exc))
        return exc.exit_code
    return next((code for code in codes if code != EXIT_OK), EXIT_OK)


def _on_signals(stop: asyncio.Event) -> None:
    """The first SIGINT or SIGTERM stops the run cleanly; a second one stops it at once."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        stop.set()
        _say("Stopping: ending the running syncs and the workers (again to stop at once)")
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, first)
