"""The ``douyin`` plugin: registers the Douyin shop channel connector, the Douyin e-waybill courier
account (``waybill``) and the sandbox that emulates both.

Nothing else: the protocol lives in ``client``/``push``, the translation in ``mapping``.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox
from plugins.douyin.waybill import DouyinWaybill


@hookimpl
def register_channels() -> list[type[Any]]:
    return [DouyinChannel]


@hookimpl
def register_couriers() -> list[type[Any]]:
    return [DouyinWaybill]


@hookimpl
def register_sandboxes() -> list[type[Any]]:
    return [DouyinSandbox]
