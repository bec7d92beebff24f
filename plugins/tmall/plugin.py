"""The ``tmall`` plugin: registers the Tmall channel connector and its sandbox.

Nothing else: Tmall builds on the TOP client and mapping in ``plugins.taobao``.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.tmall.connector import TmallChannel
from plugins.tmall.sandbox import TmallSandbox


@hookimpl
def register_channels() -> list[type[Any]]:
    return [TmallChannel]


@hookimpl
def register_sandboxes() -> list[type[Any]]:
    return [TmallSandbox]
