import signal
from types import FrameType

import pytest

pytest_plugins = [
    "tests.servers.control_fixtures",
    "tests.servers.data_fixtures",
]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A CI time-out or kill sends SIGTERM: turn it into an interrupt so the session
    # fixtures' teardown stops every server instead of leaving them running.
    signal.signal(signal.SIGTERM, _interrupt)
