"""A fake waybill provider for tests: a ``CourierConnector`` that issues waybill numbers by key, as
Cainiao, the Douyin e-waybill and Kuaidi100 do, with faults to script.

``FakeWaybillProvider.issued`` is the provider's own book (key → waybill); asked again with a key
it knows, it answers the same number (``reused=True``). ``faults`` are raised in turn by the next
calls; ``"timeout_after_issue"`` issues the number and then raises a timeout (the answer lost on
the way back), ``"refuse"`` raises the partner's final refusal. Register it with
``running_hub(..., extra_plugins=[WaybillProviderPlugin()])`` and a ``[couriers.<name>]`` account
of platform ``fakewaybill``. State is per class (shared by every account), reset with ``reset()``.
Not a sandbox of any real provider's wire format.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from contracts.connectors import Capability
from contracts.waybills import Waybill, WaybillLabel, WaybillRequest
from hub.errors import PermanentError, RetryableError
from hub.plugin_api import hookimpl

PLATFORM = "fakewaybill"


class FakeWaybillSettings(BaseModel):
    courier_code: str = "zto"
    prefix: str = "7800"


class FakeWaybillProvider:
    """Issues ``<prefix><n>`` once per key; ``cancel_waybill`` answers False for numbers in ``collected``."""

    platform: ClassVar[str] = PLATFORM
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CREATE_WAYBILL})
    Settings = FakeWaybillSettings

    issued: ClassVar[dict[str, Waybill]] = {}
    requests: ClassVar[list[WaybillRequest]] = []
    faults: ClassVar[list[str | Exception]] = []
    cancelled: ClassVar[list[str]] = []
    collected: ClassVar[set[str]] = set()
    _numbers: ClassVar[itertools.count[int]] = itertools.count(1)

    def __init__(self, context: Any) -> None:
        self.settings: FakeWaybillSettings = context.settings
        self.name = context.name

    @classmethod
    def reset(cls) -> None:
        cls.issued.clear()
        cls.requests.clear()
        cls.faults.clear()
        cls.cancelled.clear()
        cls.collected.clear()

    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        type(self).requests.append(request)
        fault = self.faults.pop(0) if self.faults else None
        if isinstance(fault, Exception):
            raise fault
        if fault == "refuse":
            raise PermanentError("isv.business-failed: waybill subscription balance is 0 (余额不足)")
        if fault == "unavailable":
            raise RetryableError("isp.service-error: provider busy")
        known = self.issued.get(request.key)
        if known is not None:
            if fault == "timeout_after_issue":
                raise httpx.ReadTimeout("the provider did not answer in time")
            return known.model_copy(update={"reused": True})
        number = f"{self.settings.prefix}{next(self._numbers):08d}"
        waybill = Waybill(
            key=request.key, provider=PLATFORM, courier_code=request.courier_code, waybill_number=number,
            print_data={"waybill_code": number, "template": "standard-100x150", "signature": "fake"},
            label=WaybillLabel(sort_code="300-A12 05", package_center="杭州转运中心"),
        )
        self.issued[request.key] = waybill
        if fault == "timeout_after_issue":
            raise httpx.ReadTimeout("the provider did not answer in time")
        return waybill

    async def cancel_waybill(self, courier_code: str, waybill_number: str) -> bool:
        if waybill_number in self.collected:
            return False
        if waybill_number not in self.cancelled:
            type(self).cancelled.append(waybill_number)
        return True

    async def aclose(self) -> None:
        return None


class WaybillProviderPlugin:
    """Registers ``FakeWaybillProvider`` as courier platform ``fakewaybill``."""

    @hookimpl
    def register_couriers(self) -> list[type[Any]]:
        return [FakeWaybillProvider]


#: A sender address for test warehouses (``[warehouses.<name>] address``).
WAREHOUSE_ADDRESS = {"name": "杭州仓", "phone": "057188880000", "province": "浙江省", "city": "杭州市",
                     "district": "余杭区", "street": "仓前街道 1 号"}


async def make_parcels(hub: Any, order_id: int, *, courier_account: str, courier_code: str = "zto",
                       warehouse: str = "main", count: int = 1, weight_grams: int | None = 1200) -> list[int]:
    """A delivery order of all ``order_id``'s lines from ``warehouse`` and ``count`` pending parcels
    for it, as the fulfilment flow makes them; returns the parcel ids (in ``seq`` order)."""
    from sqlalchemy import select

    from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OrderLineRow, ParcelRow, utcnow

    async with hub.database().transaction() as session:
        lines = list((await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == order_id)
                                            .order_by(OrderLineRow.id))).scalars())
        delivery = DeliveryOrderRow(code=f"DO-{order_id}-{next(_codes)}", order_id=order_id, warehouse=warehouse,
                                    kind="own", status="pending", courier_code=courier_code, data={},
                                    attempts=0, created_by="test", created_at=utcnow())
        session.add(delivery)
        await session.flush()
        session.add_all([DeliveryLineRow(delivery_order_id=delivery.id, order_id=order_id,
                                         line_external_id=line.external_id, merchant_sku=line.merchant_sku,
                                         quantity=line.quantity) for line in lines])
        parcels = [ParcelRow(key=f"wb-{delivery.code}-{seq}", delivery_order_id=delivery.id, order_id=order_id,
                             seq=seq, courier_code=courier_code, courier_account=courier_account, status="pending",
                             print_data={}, weight_grams=weight_grams, attempts=0, created_at=utcnow())
                   for seq in range(1, count + 1)]
        session.add_all(parcels)
        await session.flush()
        return [p.id for p in parcels]


_codes = itertools.count(1)
