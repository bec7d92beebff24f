"""The ``logistics`` plugin: registers the built-in courier connectors (Kuaidi100 tracking,
Kuaidi100 electronic waybills, and ``manual`` for labels bought elsewhere).

Nothing else: sandboxes are plain classes in ``plugins.logistics.sandbox``.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api import hookimpl
from plugins.logistics.kuaidi100.connector import Kuaidi100Courier
from plugins.logistics.kuaidi100.label import Kuaidi100LabelCourier
from plugins.logistics.manual import ManualCourier


@hookimpl
def register_couriers() -> list[type[Any]]:
    return [Kuaidi100Courier, Kuaidi100LabelCourier, ManualCourier]
