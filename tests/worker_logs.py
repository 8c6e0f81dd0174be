"""The worker's log as a pod writes it: the JSON lines of ``contactsync_worker.logs``, captured
from a worker running in this process."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from contactsync_worker.logs import JsonFormatter, ThirdPartyDetailFilter


@contextmanager
def worker_log() -> Iterator[list[dict[str, Any]]]:
    """Each line logged while the block runs, parsed, in the list yielded (filled when the
    block ends): the handler ``logs.configure`` installs, at the level it sets."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ThirdPartyDetailFilter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())
