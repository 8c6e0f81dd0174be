"""JSON logs without personal data.

Our own code logs ids, names of sources and counts only. The Temporal SDK logs a
failed activity's exception with its message and traceback; adapters translate
errors so messages carry no contact data, but as a second line of defence this
module keeps only the exception's type from third-party records.

An expected outcome (an error of the vocabulary) is one line whose ``error`` is its type
(``contactsync_worker.failures``). A crash of our own code keeps its traceback, as the
frames and the types of its exceptions: where it happened, without the messages, which
may quote what the failing code was given.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

_OWN = ("contactsync_worker", "contactsync_operator")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "severity": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        error_type = getattr(record, "error_type", None)
        if error_type:
            entry["error"] = str(error_type)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            if record.exc_info[1] is not None:
                entry["traceback"] = stack(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False)


def stack(error: BaseException) -> str:
    """The traceback of ``error`` and the errors it came from, oldest first, with each
    exception's type and no message."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts = []
    for link in reversed(chain):
        frames = traceback.format_list(traceback.extract_tb(link.__traceback__))
        parts.append("Traceback (most recent call last):\n" + "".join(frames) + type(link).__name__)
    return "\n\nwhich caused:\n\n".join(parts)


class ThirdPartyDetailFilter(logging.Filter):
    """Third-party records lose exception messages and tracebacks; the type stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(_OWN):
            return True
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_info = (record.exc_info[0], None, None)  # type: ignore[assignment]
            record.exc_text = None
        return True


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ThirdPartyDetailFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
