"""The ``warehouse`` plugin: registers the built-in warehouse connectors (manual, Qimen WMS).

Nothing else: the Qimen WMS emulator is a plain class in ``plugins.warehouse.sandbox``.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.warehouse.connector import ManualWarehouse, QimenWarehouse


@hookimpl
def register_warehouses() -> list[type[Any]]:
    return [ManualWarehouse, QimenWarehouse]
