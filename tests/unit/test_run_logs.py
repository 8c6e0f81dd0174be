"""The logs of ``contactsync run``: JSON or text on stderr, a crash's frames only with --debug,
and never a library's own words."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from contactsync_cli import run_logs


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    own = {name: logging.getLogger(name).level for name in run_logs._OWN}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, own_level in own.items():
        logging.getLogger(name).setLevel(own_level)


def crash(email: str = "alice@example.org") -> None:
    book: dict[str, int] = {}
    try:
        book[email]
    except KeyError:
        logging.getLogger("contactsync_worker.activities").exception("page of source hr crashed")


def test_json_lines_keep_the_workers_fields_and_cut_a_quoted_library_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_logs.configure("json", debug=False)
    logging.getLogger("contactsync_worker.failures").warning(
        "page of source %s failed with %s: %s",
        "hr",
        "SourceUnreachable",
        "REPORT request failed (ConnectError: [Errno 111] Connection refused)",
        extra={"error_type": "SourceUnreachable"},
    )
    logging.getLogger("contactsync_worker.activities").info("not shown without --debug")
    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["severity"] == "warning"
    assert entry["error"] == "SourceUnreachable"
    assert entry["message"] == (
        "page of source hr failed with SourceUnreachable: REPORT request failed (ConnectError)"
    )


def test_a_crash_is_its_type_without_debug_and_its_frames_with_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_logs.configure("text", debug=False)
    crash()
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith(
        "error contactsync_worker.activities: page of source hr crashed [error KeyError]"
    )

    run_logs.configure("text", debug=True)
    crash()
    text = capsys.readouterr().err
    assert "Traceback (most recent call last)" in text
    assert "in crash" in text
    assert "alice" not in text  # frames and types, never the exception's words
