"""A check that the tests of the fake servers share: the lifecycle of a ``LocalFakeServer``."""

from __future__ import annotations

import contextlib
import http.client
import re
from typing import Iterator, TypeVar

import pytest

from tests.fakes._server import LocalFakeServer

_Fake = TypeVar("_Fake", bound=LocalFakeServer)


@contextlib.contextmanager
def started_then_stopped(fake_class: type[_Fake]) -> Iterator[_Fake]:
    """A new fake, started, for the block to check (e.g. its URLs); checks that it serves at
    http://127.0.0.1:PORT with no requests yet, that stop() closes the port, and that a second
    stop() is harmless."""
    server = fake_class().start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.requests == []
        yield server
    finally:
        server.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=2).request("GET", "/")
    server.stop()  # a second stop is harmless
