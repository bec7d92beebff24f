"""The ``aliexpress`` plugin: registers the AliExpress channel connector and its sandbox.

Nothing else happens at import time; the hub instantiates the classes per configured shop.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.aliexpress.connector import AliExpressChannel
from plugins.aliexpress.sandbox import AliExpressSandbox


@hookimpl
def register_channels() -> list[type[Any]]:
    return [AliExpressChannel]


@hookimpl
def register_sandboxes() -> list[type[Any]]:
    return [AliExpressSandbox]
