"""Run a command and write its own wall time and resource usage as JSON to a file.

``python -S spawn.py RESULT -- COMMAND...``: the standard library only, no site packages, so
this launcher stays near 9 MiB. A child's peak RSS (ru_maxrss) starts at its parent's at
fork, and the benchmark's own process holds the whole project; forking from this small
process keeps that out of the figure.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(result: str, argv: list[str]) -> int:
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)  # noqa: S606 - argv as given, no shell
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    with open(result, "w") as out:
        json.dump(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_kib": usage.ru_maxrss,  # KiB on Linux
            },
            out,
        )
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    sys.exit(main(sys.argv[1], sys.argv[separator + 1 :]))
