"""Helpers for ``tests/e2e/test_aftersales_flow_e2e.py``: reading after-sale cases over the hub's
API until they reach a status, deciding them, shipping a delivery order of the own warehouse over
the API (a first shipment or an exchange's replacement), bringing a channel's cases in (AliExpress
has no issue push: its after-sales poll is run), the stock ledger rows of a case and the order's
status as the platform holds it.

The hub, its API and the sandboxes are those of the fulfilment e2e harness
(``tests/e2e/test_fulfilment_flow_e2e.py``, ``hub.testing.fulfilment_world``); no tests here.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import select

from hub.db.tables import ParcelRow, StockLedgerRow
from hub.services.aftersales.settings import ReturnAddressConfig
from hub.services.fulfilment.waybills import WAITING_REASON
from hub.testing.fulfilment_world import BOUGHT_ELSEWHERE, PROVIDER_OF
from tests.e2e.hub_e2e_support import eventually

#: Generous: a loaded 2-core machine runs the workers of several tests at once.
DEADLINE_S = 90.0
#: The seller's return address; every sandbox takes a numeric address id (TOP ``contact_id``,
#: Douyin ``receiver_address_id``, AliExpress ``return_address_id``).
RETURN_ADDRESS = ReturnAddressConfig(address_id="1001", name="退货仓", phone="13800000000", province="浙江省",
                                     city="杭州市", district="余杭区", detail="文一西路 1 号", zip_code="311100")


#: shop → when its after-sales poll was last sent (time.monotonic()).
_POLLED: dict[str, float] = {}


def bring_cases_in(case: Any) -> None:
    """AliExpress has no issue push: send its after-sales poll (as the leader scheduler would, but
    at most every half second, so the waits of three cases do not pile polls up on the workers).
    The other channels push (TMC consumed by the pump, Douyin's signed webhook): nothing to do."""
    shop = case.channel.shop
    if case.channel.platform == "aliexpress" and time.monotonic() - _POLLED.get(shop, 0.0) >= 0.5:
        _POLLED[shop] = time.monotonic()
        case.hub.send("poll_aftersales", shop)


async def case_of_order(case: Any, order_id: int, type_: str) -> dict[str, Any]:
    """The order's one case of ``type_`` as ``GET /api/v1/aftersales?order_id=`` lists it."""
    async def listed() -> dict[str, Any]:
        bring_cases_in(case)
        reply = await case.client.get("/api/v1/aftersales", params={"order_id": order_id})
        assert reply.status_code == 200, reply.text
        items = [item for item in reply.json()["items"] if item["type"] == type_]
        return items[0] if len(items) == 1 else {}

    return await eventually(listed, timeout_s=DEADLINE_S, every_s=0.1, what=f"the {type_} case of order {order_id}")


async def case_reaches(case: Any, case_id: int, *statuses: str) -> dict[str, Any]:
    """``GET /api/v1/aftersales/{id}`` once the case is in one of ``statuses``."""
    async def reached() -> dict[str, Any]:
        bring_cases_in(case)
        reply = await case.client.get(f"/api/v1/aftersales/{case_id}")
        assert reply.status_code == 200, reply.text
        detail: dict[str, Any] = reply.json()
        return detail if detail["status"] in statuses else {}

    async def last() -> str:
        return str((await case.client.get(f"/api/v1/aftersales/{case_id}")).json()["status"])

    try:
        return await eventually(reached, timeout_s=DEADLINE_S, every_s=0.1,
                                what=f"case {case_id} {' or '.join(statuses)}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the case is {await last()}") from None


async def decide(case: Any, case_id: int, action: str, **fields: Any) -> dict[str, Any]:
    """``POST /api/v1/aftersales/{id}/decisions``; the answer must be 200 (taken or recorded)."""
    reply = await case.client.post(f"/api/v1/aftersales/{case_id}/decisions", json={"action": action, **fields})
    assert reply.status_code == 200, (action, reply.status_code, reply.text)
    body: dict[str, Any] = reply.json()
    assert body["action"] == action and body["repeated"] is False, body
    return body


def allowed(detail: dict[str, Any]) -> dict[str, bool]:
    """What the case takes now → whether the platform is written to."""
    return {item["action"]: item["written_back"] for item in detail["allowed"]}


async def parcels_of(case: Any, delivery_order_id: int) -> list[ParcelRow]:
    async with case.hub.database().session() as session:
        return list((await session.execute(select(ParcelRow).where(ParcelRow.delivery_order_id == delivery_order_id)
                                           .order_by(ParcelRow.id).execution_options(populate_existing=True)))
                    .scalars())


async def ship_own(case: Any, delivery_order_id: int) -> ParcelRow:
    """Ship a delivery order of the own warehouse as a person does over the API: the channel's
    provider issues its waybill (AliExpress: the number of a label bought elsewhere is typed in),
    then pick, pack and ship. Returns the shipped parcel."""
    client = case.client
    if PROVIDER_OF[case.channel.platform][0] == BOUGHT_ELSEWHERE:
        async def waiting() -> list[ParcelRow]:
            rows = await parcels_of(case, delivery_order_id)
            return rows if rows and rows[0].last_error == WAITING_REASON else []

        [parcel] = await eventually(waiting, timeout_s=DEADLINE_S,
                                    what=f"delivery {delivery_order_id}'s parcel waiting for its number")
        entered = await client.post(f"/api/v1/parcels/{parcel.id}/waybill", json={
            "waybill_number": f"EA{secrets.randbelow(10**9):09d}CN", "courier_code": "EMS"})
        assert entered.status_code == 200, entered.text

    async def issued() -> list[ParcelRow]:
        rows = await parcels_of(case, delivery_order_id)
        return rows if rows and all(p.status == "issued" for p in rows) else []

    [parcel] = await eventually(issued, timeout_s=DEADLINE_S, what=f"delivery {delivery_order_id}'s waybill")
    picked = await client.post("/api/v1/warehouse/pick", json={"delivery_order_ids": [delivery_order_id]})
    assert picked.status_code == 200, picked.text
    packed = await client.post(f"/api/v1/delivery-orders/{delivery_order_id}/pack",
                               json={"parcels": [{"weight_grams": 850}]})
    assert packed.status_code == 200, packed.text
    shipped = await client.post(f"/api/v1/delivery-orders/{delivery_order_id}/ship")
    assert shipped.status_code == 200, shipped.text
    [parcel] = await parcels_of(case, delivery_order_id)
    assert parcel.status == "shipped" and parcel.waybill_number, parcel
    return parcel


async def ledger(case: Any, merchant_sku: str) -> list[tuple[str | None, int, int, str]]:
    """(warehouse, on hand delta, reserved delta, cause) of the SKU's ledger rows, oldest first
    (the seed's first row left out)."""
    async with case.hub.database().session() as session:
        rows = (await session.execute(select(StockLedgerRow).where(StockLedgerRow.merchant_sku == merchant_sku)
                                      .order_by(StockLedgerRow.id))).scalars()
        return [(r.warehouse, r.on_hand_delta, r.reserved_delta, r.cause) for r in rows][1:]


def platform_order_status(case: Any, external_id: str) -> str:
    """The order's status in the channel's sandbox now (TOP trade ``status``, Douyin ``order_status``,
    AliExpress ``order_status``)."""
    box, shop, platform = case.channel.sandbox, case.channel.shop, case.channel.platform
    if platform in ("taobao", "tmall"):
        with box.lock:
            return str(box.shop(shop).trades[external_id]["status"])
    if platform == "douyin":
        return str(box.book.order(shop, external_id).status)  # takes the book's lock
    with box._lock:
        return str(box.shops[shop].orders[external_id].status)


def decisions_of(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, state) of the case's decisions, oldest first."""
    return [(action, state) for _, action, state in sorted((d["id"], d["action"], d["state"])
                                                         for d in detail["decisions"])]
