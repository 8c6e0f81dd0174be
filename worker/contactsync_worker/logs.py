"""JSON logs without personal data.

Our own code logs ids, names of sources and counts only. The Temporal SDK logs a
failed activity's exception with its message and traceback; adapters translate
errors so messages carry no contact data, but as a second line of defence this
module keeps only the exception's type from third-party records.
"""

from __future__ import annotations

import json
import logging
import sys
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
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


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
