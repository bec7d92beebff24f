"""An exchange's replacement or a reissue (补发) as a new delivery through fulfilment: a delivery
order for the case's lines (the exchange SKU where the buyer asked for another), routed, given a
waybill and shipped like any order's; once per case. ``replacement_left`` settles it once it
shipped (its units out of stock — the units of the SKU its lines name —, a reissue completed
unless its platform is told the parcel); the units are not reserved while it waits
(docs/aftersales/decisions.md). Not for the write-back of the shipment to the platform
(``decisions``: ``ship_exchange``, ``reissue`` with the parcel).

The SKU an exchange sends (``exchange_sku_to_send``), in this order: a merchant code the platform
gives for the wanted SKU (``extra["exchange_sku_code"]``, else ``exchange_sku``) that the catalogue
knows; else the shop's listing binding of the platform's SKU id (``extra["exchange_sku_id"]``);
else the original line's SKU, with a history note saying why. Platforms that name the wanted SKU
only in words (Tmall's ``颜色:黑色``) land in the last case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSaleAction, AfterSaleStatus, AfterSaleType
from contracts.inventory import StockChangeCause
from contracts.orders import Order
from hub.db import idempotency, outbox
from hub.db.tables import (
    AfterSaleRow,
    DeliveryLineRow,
    DeliveryOrderRow,
    ListingRow,
    OrderEventRow,
    OrderRow,
    ParcelRow,
    SkuRow,
    StockLedgerRow,
    StockRow,
    utcnow,
)
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError
from hub.services.aftersales.case_records import (
    CaseLineRef,
    add_event,
    advance,
    case_lines,
    case_of,
    is_local,
    load_case,
)
from hub.services.aftersales.returns import stock_units
from hub.services.fulfilment.aftersale_deliveries import REISSUE, REPLACEMENT

log = structlog.get_logger(__name__)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


#: ``AfterSale.extra`` keys a connector fills for an exchange (strings): the merchant code of the
#: SKU the buyer wants instead, and the platform's own id of that SKU (a listing's channel SKU id).
EXCHANGE_SKU_CODE, EXCHANGE_SKU_ID = "exchange_sku_code", "exchange_sku_id"
#: How the SKU an exchange sends was found (``replacement`` history entry, ``sku_source``).
BY_CODE, BY_LISTING, SAME_SKU = "catalogue_code", "listing_binding", "same_sku"


@dataclass(frozen=True)
class ExchangeSku:
    """The SKU an exchange's replacement sends: ``sku`` (None: the line's own), how it was found
    (``source``) and, when it is the line's own, why (``note``)."""

    sku: str | None
    source: str
    note: str | None = None


async def _known_code(session: AsyncSession, codes: list[str]) -> str | None:
    for code in codes:
        if await session.scalar(select(SkuRow.merchant_sku).where(SkuRow.merchant_sku == code)) is not None:
            return code
    return None


async def _bound_sku(session: AsyncSession, shop: str, sku_id: str, items: set[str]) -> tuple[str | None, str | None]:
    """The merchant SKU the shop's listing bindings give channel SKU ``sku_id`` (narrowed to the
    case's items when several bind it differently), or None with the reason."""
    rows = [(str(item), str(sku)) for item, sku in (await session.execute(
        select(ListingRow.channel_item_id, ListingRow.merchant_sku).where(
            ListingRow.shop == shop, ListingRow.channel_sku_id == sku_id))).all()]
    if not rows:
        return None, f"no listing of shop {shop!r} with SKU id {sku_id} is bound"
    skus = {sku for _item, sku in rows}
    if len(skus) > 1:
        skus = {sku for item, sku in rows if item in items}
    if len(skus) != 1:
        return None, f"listings of shop {shop!r} with SKU id {sku_id} are bound to several SKUs"
    sku = next(iter(skus))
    if await _known_code(session, [sku]) is None:
        return None, f"the listing with SKU id {sku_id} is bound to {sku!r}, which is not in the catalogue"
    return sku, None


async def exchange_sku_to_send(session: AsyncSession, row: AfterSaleRow, items: set[str], line_count: int
                               ) -> ExchangeSku:
    """The SKU an exchange of ``line_count`` lines sends instead of the line's own (see the module
    docs); ``items``: the channel item ids of the case's order lines."""
    case = case_of(row)
    code = (case.extra.get(EXCHANGE_SKU_CODE) or "").strip()
    sku_id = (case.extra.get(EXCHANGE_SKU_ID) or "").strip()
    words = (case.exchange_sku or "").strip()
    if not (code or sku_id or words):
        return ExchangeSku(None, SAME_SKU, "the platform names no other SKU: the line's own is sent")
    if line_count != 1:
        return ExchangeSku(None, SAME_SKU, f"the platform names one SKU for a case of {line_count} lines: each "
                                           "line's own is sent")
    found = await _known_code(session, [c for c in dict.fromkeys((code, words)) if c])
    if found is not None:
        return ExchangeSku(found, BY_CODE)
    why = [f"merchant code {code!r} is not in the catalogue"] if code else []
    if sku_id:
        bound, reason = await _bound_sku(session, row.shop, sku_id, items)
        if bound is not None:
            return ExchangeSku(bound, BY_LISTING)
        why.append(str(reason))
    else:
        why.append("the platform gives no SKU id to look up in the listing bindings")
    wanted = code or words or sku_id
    return ExchangeSku(None, SAME_SKU, f"the buyer asked for {wanted!r} but it could not be matched to a "
                                       f"catalogue SKU ({'; '.join(why)}): the line's own SKU is sent; check the "
                                       "delivery order before it ships")


async def _goods(session: AsyncSession, row: AfterSaleRow, order: Order, lines: list[CaseLineRef]
                 ) -> tuple[list[tuple[str, str | None, int]], ExchangeSku | None]:
    """(order line id, SKU to send, units) per case line, and for an exchange which SKU it sends
    instead (``exchange_sku_to_send``)."""
    known = {line.external_id: line for line in order.lines}
    sending = [line for line in lines if line.quantity > 0]
    for line in lines:
        if line.line_external_id not in known:
            raise BadInputError(f"case {row.id}: line {line.position} names no line of order {row.order_id}; ship it "
                                "by hand and give courier_code and tracking_number", field="courier_code")
    if not sending:
        raise BadInputError(f"case {row.id} has no units to send", field="action")
    chosen: ExchangeSku | None = None
    if row.type == AfterSaleType.EXCHANGE.value:
        items = {str(known[str(line.line_external_id)].channel_item_id) for line in sending
                 if known[str(line.line_external_id)].channel_item_id}
        chosen = await exchange_sku_to_send(session, row, items, len(sending))
    return [(str(line.line_external_id), (chosen.sku if chosen else None) or line.merchant_sku, line.quantity)
            for line in sending], chosen


async def _where_from(hub: Any, session: AsyncSession, order: Order, order_id: int, warehouse: str | None) -> str:
    """The warehouse named, or the one routing picks for these goods as for an order."""
    from hub.services.fulfilment import routing
    from hub.services.stock.levels import known_warehouses

    if warehouse is not None:
        if warehouse not in known_warehouses(hub.config):
            raise BadInputError(f"warehouse {warehouse!r} is not configured; known: "
                                f"{', '.join(sorted(known_warehouses(hub.config)))}", field="warehouse")
        return warehouse
    warehouses = routing.enabled_warehouses(hub.config)
    stock = await routing.warehouse_stock(session, {line.merchant_sku for line in order.lines if line.merchant_sku},
                                          warehouses)
    try:
        decision = routing.route(hub.plugins, order, order_id, warehouses, stock,
                                 routing.warehouse_regions(hub.config))
    except ValueError as exc:
        raise BadInputError(f"routing the goods failed: {exc}; name a warehouse", field="warehouse") from exc
    chosen = decision.warehouse or next(iter(decision.split or {}), None)
    if chosen is None:
        raise BadInputError(f"no warehouse can send the goods ({decision.reason or 'no rule matched'}); name one",
                            field="warehouse")
    return chosen


async def send_replacement(hub: Any, case_id: int, *, actor: str, warehouse: str | None = None) -> int:
    """Create (once) the delivery order that sends the case's goods again; returns its id."""
    from hub.services import orders
    from hub.services.fulfilment import courier_rules
    from hub.services.fulfilment import delivery_orders as dos
    from hub.services.fulfilment.waybills import ISSUE_ACTOR

    async with hub.database().transaction() as session:
        row = await load_case(session, case_id, lock=True)
        if row.delivery_order_id is not None:
            return int(row.delivery_order_id)
        order_row = (await session.execute(select(OrderRow).where(OrderRow.id == row.order_id))).scalar_one_or_none() \
            if row.order_id is not None else None
        if order_row is None:
            raise BadInputError(f"case {case_id}: its order {row.order_external_id} is not in the hub; ship the goods "
                                "by hand and give courier_code and tracking_number", field="courier_code")
        stored = orders.stored_order(order_row)
        goods, chosen = await _goods(session, row, stored, await case_lines(session, row))
        base = {line.external_id: line for line in stored.lines}
        order = stored.model_copy(update={"lines": [base[line].model_copy(update={"quantity": qty, "merchant_sku": sku})
                                                    for line, sku, qty in goods]})
        where = await _where_from(hub, session, order, order_row.id, warehouse)
        kind = dos.warehouse_kind(hub, where)
        courier = None
        if kind == dos.OWN:
            try:
                courier = courier_rules.choose(hub, order, order_row.id, where)
            except ValueError as exc:
                raise BadInputError(f"courier choice failed: {exc}", field="warehouse") from exc
            if courier is None:
                raise BadInputError(f"no courier rule matches a parcel from {where}; configure one, or ship by hand "
                                    "and give courier_code and tracking_number", field="warehouse")
        purpose = REPLACEMENT if row.type == AfterSaleType.EXCHANGE.value else REISSUE
        code = f"{hub.config.fulfilment.routing.code_prefix}{order_row.id}-AS{case_id}"[:64]
        delivery = DeliveryOrderRow(
            code=code, order_id=order_row.id, warehouse=where, kind=kind,
            status=dos.SENT if kind == dos.OWN else dos.PENDING,
            courier_code=courier.courier_code if courier else None,
            data={"aftersale_id": case_id, "purpose": purpose, "order_ids": [order_row.id],
                  "reason": f"after-sale case {case_id}: {purpose}",
                  "history": [dos.history_entry("created", actor, reason=f"after-sale case {case_id}: {purpose}")]},
            attempts=0, created_by=actor, created_at=utcnow(), sent_at=utcnow() if kind == dos.OWN else None)
        session.add(delivery)
        await session.flush()
        session.add_all([DeliveryLineRow(delivery_order_id=delivery.id, order_id=order_row.id, line_external_id=line,
                                         merchant_sku=sku, quantity=qty) for line, sku, qty in goods])
        if courier is not None:
            parcel = ParcelRow(key=f"P{delivery.id}-1", delivery_order_id=delivery.id, order_id=order_row.id, seq=1,
                               courier_code=courier.courier_code, courier_account=courier.account, status="pending",
                               attempts=0, created_at=utcnow())
            session.add(parcel)
            await session.flush()
            outbox.add(session, ISSUE_ACTOR, [parcel.id])
        else:
            outbox.add(session, dos.SEND_ACTOR, [delivery.id])
        await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == case_id).values(
            delivery_order_id=delivery.id, resolution="replacement_sent" if purpose == REPLACEMENT else "reissued")
            .execution_options(synchronize_session=False))
        add_event(session, case_id, "replacement", cause="decision", actor=actor, delivery_order_id=delivery.id,
                  code=code, warehouse=where, purpose=purpose,
                  lines=[{"line": line, "sku": sku, "quantity": qty} for line, sku, qty in goods],
                  **({"sku_source": chosen.source, "note": chosen.note} if chosen is not None else {}))
        session.add(OrderEventRow(order_id=order_row.id, at=utcnow(), kind="aftersale_delivery", old_status=None,
                                  new_status=None, cause="aftersales", actor=actor,
                                  detail={"aftersale_id": case_id, "delivery_order_id": delivery.id, "code": code,
                                          "purpose": purpose}))
        delivery_id = int(delivery.id)
    log.info("aftersale.replacement_created", case_id=case_id, delivery_order_id=delivery_id, warehouse=where,
             purpose=purpose, sku_source=chosen.source if chosen is not None else None)
    return delivery_id


async def _take_out(session: AsyncSession, warehouse: str, sku: str, quantity: int, *, reference: str,
                    actor: str | None, note: str) -> None:
    """The units left the warehouse: on hand down, with its ledger row. Nothing was reserved for
    them (see the module docs), so nothing is released."""
    now = utcnow()
    await session.execute(insert_ignore(StockRow, _dialect(session)).values(
        warehouse=warehouse, merchant_sku=sku, on_hand=0, reserved=0, updated_at=now))
    await session.execute(update(StockRow).where(StockRow.warehouse == warehouse, StockRow.merchant_sku == sku)
                          .values(on_hand=StockRow.on_hand - quantity, updated_at=now)
                          .execution_options(synchronize_session=False))
    session.add(StockLedgerRow(at=now, warehouse=warehouse, merchant_sku=sku, on_hand_delta=-quantity,
                               reserved_delta=0, cause=StockChangeCause.ORDER_SHIPPED.value, reference=reference,
                               actor=actor, note=note))


def reissue_told(hub: Any, row: AfterSaleRow) -> bool:
    """True when a reissue's parcel is written back to the case's platform (its connector takes
    ``reissue`` decisions: Douyin's ``afterSale.fillLogistics``); then the platform's report, not
    the shipment, moves the case on. Elsewhere a reissue is recorded in the hub only."""
    from hub.services.aftersales import writeback

    if is_local(row):
        return False
    actions = writeback.platform_actions(hub, row.platform, row.shop)
    return actions is not None and AfterSaleAction.REISSUE in actions


async def replacement_left(hub: Any, case_id: int, delivery_order_id: int, parcels: list[tuple[str, str]], *,
                           actor: str) -> str | None:
    """The case's delivery order shipped: its stock out, the history entry, a reissue
    ``completed`` (unless ``reissue_told``: the caller writes the parcel back). Once per delivery
    order; returns its purpose (``replacement``: the caller writes ``ship_exchange`` back), or None
    when it was settled before."""
    from hub.services.stock import scheduling

    reference = f"aftersale:{case_id}"
    async with hub.database().transaction() as session:
        if not await idempotency.claim(session, f"aftersale.replacement_shipped:{delivery_order_id}"):
            return None
        row = await load_case(session, case_id, lock=True)
        delivery = (await session.execute(select(DeliveryOrderRow).where(
            DeliveryOrderRow.id == delivery_order_id))).scalar_one()
        purpose = str((delivery.data or {}).get("purpose", REPLACEMENT))
        lines = list((await session.execute(select(DeliveryLineRow).where(
            DeliveryLineRow.delivery_order_id == delivery_order_id))).scalars())
        skus = set()
        for line in lines:
            for sku, count in await stock_units(session, line.merchant_sku, line.quantity) or []:
                await _take_out(session, delivery.warehouse, sku, count, reference=reference, actor=actor,
                                note=f"after-sale case {case_id}: {purpose} shipped ({delivery.code})")
                skus.add(sku)
        detail: dict[str, Any] = {"delivery_order_id": delivery_order_id, "parcels": [list(p) for p in parcels],
                                  "purpose": purpose}
        if purpose == REISSUE and not (parcels and reissue_told(hub, row)):
            await advance(session, row, AfterSaleStatus.COMPLETED, kind="replacement_shipped", cause="fulfilment",
                          actor=actor, **detail)
        else:
            add_event(session, case_id, "replacement_shipped", cause="fulfilment", actor=actor, **detail)
        shops = await scheduling.mark_dirty(session, skus)
    await scheduling.schedule_push(hub, shops)
    log.info("aftersale.replacement_shipped", case_id=case_id, delivery_order_id=delivery_order_id, purpose=purpose)
    return purpose
