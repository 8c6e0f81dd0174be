"""``contactsync worker`` without the payload codec: the bench's measure of what encryption
costs. Bench only: the worker itself has no switch for it, on purpose (its decoder refuses
plain payloads so that only holders of the region's keys can drive it).

Run as ``python -m bench.carddav_sync.plain_worker`` with a worker's environment; payloads
stay plain and nothing else changes (failures are still moved into payloads).
"""

from __future__ import annotations

import dataclasses
import sys
from unittest import mock

from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from contactsync_cli.main import main as contactsync
from contactsync_worker import main as worker_main
from contactsync_worker.keyring import Keyring


def plain_converter(keyring: Keyring | None = None) -> DataConverter:
    """The worker's data converter (contactsync_worker.codec.data_converter) minus its codec."""
    return dataclasses.replace(
        DataConverter.default,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def main() -> int:
    # The worker looks its converter up by name when it connects.
    with mock.patch.object(worker_main, "data_converter", plain_converter):
        return contactsync(["worker"])


if __name__ == "__main__":
    sys.exit(main())
