"""A Qimen WMS sandbox on a real server, for the tests that route orders to a WMS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hub.asgi_server import serve_in_thread
from plugins.warehouse.sandbox import QimenWmsSandbox


@contextmanager
def served_wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    """A Qimen WMS sandbox with ``SKU-1`` and ``SKU-2`` in stock, on a real server; and its URL."""
    sandbox = QimenWmsSandbox()
    sandbox.set_stock("SKU-1", 10)
    sandbox.set_stock("SKU-2", 10)
    with serve_in_thread(sandbox.app) as base_url:
        yield sandbox, base_url
