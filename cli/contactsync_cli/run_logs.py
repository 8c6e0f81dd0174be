"""The logs of a local run: the worker's JSON lines (contactsync_worker.logs), or plain text
for a person at a terminal; on stderr, so stdout holds only the run's report.

A local run logs warnings and errors (a source that refused, a record set aside); ``--debug``
adds the worker's own information and debug lines and the tracebacks of crashes, as frames
and exception types. Third-party records never carry their exceptions' words, in either
format (contactsync_worker.logs.ThirdPartyDetailFilter), nor a library's words the worker
quoted in a line of its own.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

from contactsync_worker.logs import JsonFormatter, ThirdPartyDetailFilter, stack

FORMATS = ("json", "text")
_OWN = ("contactsync_worker", "contactsync_operator", "contactsync_cli")
# "(ConnectError: the library's words)" in a worker's message: the class is kept.
_QUOTED_ERROR = re.compile(r"\(([A-Z][A-Za-z0-9_]*): [^()]*\)")


def without_library_words(text: str) -> str:
    """``text`` with each "(SomeError: what the library said)" cut to "(SomeError)"."""
    return _QUOTED_ERROR.sub(r"(\1)", text)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message [error Type]``, and the frames of a crash with --debug."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        line = f"{when} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        error_type = getattr(record, "error_type", None)
        if record.exc_info and record.exc_info[0] is not None:
            error_type = record.exc_info[0].__name__
        if error_type:
            line += f" [error {error_type}]"
        if record.exc_info and record.exc_info[1] is not None:
            line += "\n" + stack(record.exc_info[1])
        return line


class NoLibraryWords(logging.Filter):
    """The worker's own lines may quote a library's error ("request failed (ConnectError:
    ...)"); a local run keeps the error's class only, as in its error line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = without_library_words(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class NoTraceback(logging.Filter):
    """Without --debug a crash is logged by its exception's type, without the frames."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            record.error_type = record.exc_info[0].__name__
            record.exc_info = None
            record.exc_text = None
        return True


def configure(log_format: str, debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    handler.addFilter(ThirdPartyDetailFilter())
    handler.addFilter(NoLibraryWords())
    if not debug:
        handler.addFilter(NoTraceback())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if debug else logging.WARNING)
    for name in _OWN:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
