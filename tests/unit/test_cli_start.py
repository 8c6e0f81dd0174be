"""Every start of ``contactsync`` builds the parser of every command, the worker's pod
included: building it must not import what only one command's work needs."""

from __future__ import annotations

import json
import subprocess
import sys

# What a command imports when it runs, never for its options: the operator's planner and the
# Kubernetes client (render), the Temporal client (render, run), the codec server's HTTP
# server.
HEAVY = (
    "kubernetes",
    "temporalio",
    "aiohttp",
    "contactsync_operator.planner",
    "contactsync_cli.rendering",
)


def test_building_the_parser_imports_no_commands_work() -> None:
    probe = (
        "import json, sys\n"
        "from contactsync_cli.main import build_parser\n"
        "build_parser()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
