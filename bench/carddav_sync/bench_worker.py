"""``contactsync worker`` with the bench's overrides, which the worker itself has no switch
for, on purpose; with none set it is that command unchanged.

- ``CONTACTSYNC_BENCH_PLAIN=1``: no payload codec, for the measure of what encryption costs
  (the worker's decoder refuses plain payloads so that only holders of the region's keys can
  drive it). Failures are still moved into payloads; nothing else changes.
- ``CONTACTSYNC_BENCH_READ_TIMEOUT=S``: HTTP clients wait S seconds for a server's answer
  instead of the transport's default, for books a server takes longer than that to list.

Run as ``python -m bench.carddav_sync.bench_worker`` with a worker's environment; the
one-shot process (``oneshot``) applies the same overrides.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from functools import partial
from unittest import mock

import httpx
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from contactsync_worker import main as worker_main
from contactsync_worker import transport
from contactsync_worker.keyring import Keyring

PLAIN = "CONTACTSYNC_BENCH_PLAIN"
READ_TIMEOUT = "CONTACTSYNC_BENCH_READ_TIMEOUT"


def plain_converter(keyring: Keyring | None = None) -> DataConverter:
    """The worker's data converter (contactsync_worker.codec.data_converter) minus its codec."""
    return dataclasses.replace(
        DataConverter.default,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


@contextmanager
def overridden(env: Mapping[str, str]) -> Iterator[None]:
    """The overrides ``env`` asks for, in force inside the block. The worker looks both
    functions up by module attribute when it calls them, so swapping them there is enough."""
    with ExitStack() as stack:
        if env.get(PLAIN) == "1":
            stack.enter_context(mock.patch.object(worker_main, "data_converter", plain_converter))
        if seconds := env.get(READ_TIMEOUT):
            timeout = httpx.Timeout(float(seconds), connect=transport.DEFAULT_TIMEOUT.connect)
            client = partial(transport.http_client, timeout=timeout)
            stack.enter_context(mock.patch.object(transport, "http_client", client))
        yield


def main() -> int:
    from contactsync_cli.main import main as contactsync  # the one-shot needs none of it

    with overridden(os.environ):
        return contactsync(["worker"])


if __name__ == "__main__":
    sys.exit(main())
