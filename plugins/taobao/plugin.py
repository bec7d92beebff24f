"""The ``taobao`` plugin: registers the Taobao channel connector and its TOP sandbox.

Nothing else: the connector, mapping, TMC consumer and emulator live in their own modules.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.taobao.connector import TaobaoChannel
from plugins.taobao.sandbox import TaobaoSandbox


@hookimpl
def register_channels() -> list[type[Any]]:
    return [TaobaoChannel]


@hookimpl
def register_sandboxes() -> list[type[Any]]:
    return [TaobaoSandbox]
