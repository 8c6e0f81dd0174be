"""``contactsync report FILE``: a record of processing activities for each ContactSync in a
manifest, as Markdown for people or JSON for machines (docs/cli.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("markdown", "json")


def register(commands: Any) -> None:
    """Add the subcommand to the parser's subparsers (``commands``)."""
    report = commands.add_parser(
        "report",
        help="a record of processing activities (GDPR Art. 30) for each ContactSync in a file",
    )
    report.add_argument("file", type=Path, help="a manifest of one or more ContactSyncs")
    report.add_argument(
        "--format", choices=FORMATS, default="markdown", help="markdown (default) or json"
    )
    report.add_argument(
        "--out", type=Path, metavar="PATH", help="write the record here instead of stdout"
    )


def run(args: argparse.Namespace) -> int:
    from contactsync_api.manifest import ManifestError, load_contact_syncs
    from contactsync_cli.main import EXIT_INVALID
    from contactsync_cli.processing_record import build_report
    from contactsync_cli.processing_record.markdown import render

    path: Path = args.file
    try:
        resources = load_contact_syncs(path)
    except ManifestError as exc:
        # Word for word what `contactsync check` prints.
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"{path}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    report = build_report(str(path), resources)
    text = report.to_json() if args.format == "json" else render(report)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text)
    except OSError as exc:
        print(f"contactsync report: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    return 0
