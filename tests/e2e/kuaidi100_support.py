"""The Kuaidi100 sandbox served over real HTTP for the end-to-end tests (tracking, labels, the
console's tracking screen). Import the ``kuaidi100`` fixture into a test module, or serve one
with ``served_kuaidi100`` where a test needs its own teardown. Not a test module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hub.asgi_server import serve_in_thread
from plugins.logistics.sandbox import Kuaidi100Sandbox


@contextmanager
def served_kuaidi100() -> Iterator[tuple[Kuaidi100Sandbox, str]]:
    """A fresh sandbox and the base URL it is served at, for as long as the block runs."""
    emulator = Kuaidi100Sandbox()
    with serve_in_thread(emulator.app) as base_url:
        yield emulator, base_url


@pytest.fixture
def kuaidi100() -> Iterator[tuple[Kuaidi100Sandbox, str]]:
    with served_kuaidi100() as served:
        yield served
