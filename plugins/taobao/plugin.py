"""The ``taobao`` plugin: registers the Taobao channel connector, the Cainiao e-waybill courier
(same TOP protocol and seller session) and the TOP sandbox.

Nothing else: the connector, mapping, TMC consumer and emulator live in their own modules.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.taobao.cainiao import CainiaoWaybillCourier
from plugins.taobao.connector import TaobaoChannel
from plugins.taobao.sandbox import TaobaoSandbox


@hookimpl
def register_channels() -> list[type[Any]]:
    return [TaobaoChannel]


@hookimpl
def register_couriers() -> list[type[Any]]:
    return [CainiaoWaybillCourier]


@hookimpl
def register_sandboxes() -> list[type[Any]]:
    return [TaobaoSandbox]
