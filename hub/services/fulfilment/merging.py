"""Merging and splitting orders before routing: the merge key, a person's decisions (merge, split,
ship alone) and the merge proposals.

The merge key says which orders may share one delivery: same platform, same buyer (the channel's
buyer id, else its nick), same recipient address, and the same shop unless ``across_shops``.
Addresses compare by an address id from ``Order.extra`` when both orders carry one (TOP's
``oaid``, listed in ``[fulfilment.merge] address_keys``), else by their fields as stored:
ciphertext equal to ciphertext means the same address (the reverse may miss a merge, never makes a
wrong one); masked fields (``闫**``) may hide two different addresses, so they merge only with
``merge_masked``. A person's decisions live in ``fulfilment_plans`` (one row per order) and are
honoured by ``planning.plan_groups``. Not for building delivery orders (the flow does that).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.db import outbox
from hub.db.tables import FulfilmentPlanRow, OrderEventRow, OrderHoldRow, OrderLineRow, OrderRow
from hub.services import orders as order_service
from hub.services.fulfilment.flow_actor import FULFIL_ACTOR
from hub.services.fulfilment.settings import MergeSettings

#: The hold that keeps an order with a merge partner waiting for a person (propose mode).
PROPOSED_HOLD = "merge_proposed"
#: Statuses in which an order's goods may still be merged or split (paid, nothing shipped).
OPEN_STATUSES = ("paid",)
_WS = re.compile(r"\s+")


class PlanConflict(Exception):
    """A merge or split that cannot be made (routed already, other key, unknown lines); ``status``
    is the HTTP status it maps to (404 unknown order, 409 routed or decided, 422 bad request)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class MergeKey:
    """Why orders may merge: ``value`` equal ⇔ mergeable; ``certain`` False when the address
    compared is masked (two addresses may look alike)."""

    value: str | None
    certain: bool = True
    why_not: str = ""


def _norm(value: Any) -> str:
    return _WS.sub(" ", str(value or "")).strip().lower()


def merge_key(row: OrderRow, settings: MergeSettings) -> MergeKey:
    """The merge key of a stored order (None when it cannot merge: no buyer or no address)."""
    data = row.data or {}
    buyer = data.get("buyer") or {}
    buyer_id = buyer.get("platform_buyer_id") or buyer.get("nick") or row.buyer_nick
    if not buyer_id:
        return MergeKey(None, why_not="no buyer id")
    extra = data.get("extra") or {}
    address = data.get("shipping_address") or None
    certain = True
    address_part: Any
    ids = [str(extra[k]) for k in settings.address_keys if extra.get(k)]
    if ids:
        address_part = ["id", ids[0]]
    elif address:
        fields = ("country", "province", "city", "district", "town", "street", "name", "phone", "postcode")
        address_part = ["fields", *(_norm(address.get(f)) for f in fields)]
        masked = not address.get("encrypted") and any("*" in str(address.get(f) or "")
                                                       for f in ("name", "phone", "street"))
        certain = not masked
    else:
        return MergeKey(None, why_not="no address")
    shop = "*" if settings.across_shops else row.shop
    raw = json.dumps([row.platform, shop, str(buyer_id), address_part], ensure_ascii=False)
    # A digest, so the key (stored and shown) carries no personal data.
    return MergeKey(hashlib.sha256(raw.encode()).hexdigest()[:32], certain=certain,
                    why_not="" if certain else "address masked")


def may_auto_merge(key: MergeKey, settings: MergeSettings) -> bool:
    return key.value is not None and (key.certain or settings.merge_masked)


def presale_lines(row: OrderRow, settings: MergeSettings) -> set[str]:
    """External ids of the order's lines that wait for presale stock: a merchant SKU in
    ``presale_skus``, or a line the order's ``extra['presale_lines']`` names (a plugin may set it;
    the canonical ``OrderLine`` has no presale field)."""
    data = row.data or {}
    named = {str(x) for x in (data.get("extra") or {}).get("presale_lines") or []}
    skus = set(settings.presale_skus)
    return {str(line["external_id"]) for line in data.get("lines", [])
            if str(line["external_id"]) in named or (line.get("merchant_sku") in skus)}


def _event(order_id: int, kind: str, actor: str | None, detail: dict[str, Any], cause: str = "api") -> dict[str, Any]:
    return {"order_id": order_id, "at": datetime.now(UTC), "kind": kind, "old_status": None, "new_status": None,
            "cause": cause, "actor": actor, "inbox_id": None, "detail": detail}


async def _load_orders(session: AsyncSession, order_ids: Sequence[int], *, lock: bool = True) -> dict[int, OrderRow]:
    stmt = select(OrderRow).where(OrderRow.id.in_(set(order_ids))).order_by(OrderRow.id)
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    rows = {row.id: row for row in (await session.execute(stmt)).scalars()}
    missing = sorted(set(order_ids) - set(rows))
    if missing:
        raise PlanConflict(404, f"order {missing[0]} does not exist", "order_ids")
    return rows


def _refuse_routed(rows: dict[int, OrderRow]) -> None:
    for row in rows.values():
        if row.fulfilment_status != "unfulfilled":
            raise PlanConflict(409, f"order {row.id} is {row.fulfilment_status} already: merge and split "
                                    "only before routing")
        if row.status not in OPEN_STATUSES:
            raise PlanConflict(409, f"order {row.id} is {row.status}: nothing to ship")


async def _existing_plans(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, FulfilmentPlanRow]:
    rows = (await session.execute(select(FulfilmentPlanRow).where(
        FulfilmentPlanRow.order_id.in_(set(order_ids))))).scalars()
    return {row.order_id: row for row in rows}


async def _release_proposed(session: AsyncSession, order_ids: list[int], actor: str) -> None:
    await order_service.release_holds(session, PROPOSED_HOLD, order_ids, actor=actor)


def _kick_flow(session: AsyncSession, order_ids: list[int]) -> None:
    """Ask the flow to route these orders now (idempotent there: routed ones are skipped)."""
    outbox.add(session, FULFIL_ACTOR, sorted(order_ids))


async def merge_orders(session: AsyncSession, settings: MergeSettings, order_ids: Sequence[int], *,
                       actor: str, force: bool = False) -> str:
    """Merge unrouted orders into one delivery (a person's decision); returns the merge id. Refused
    (``PlanConflict``) when any order is routed or decided already, or (unless ``force``) their
    merge keys differ. Releases their ``merge_proposed`` holds and asks the flow to route them."""
    wanted = sorted(set(order_ids))
    if len(wanted) < 2:
        raise PlanConflict(422, "a merge needs two orders or more", "order_ids")
    if len(wanted) > settings.max_orders:
        raise PlanConflict(422, f"at most {settings.max_orders} orders in one merge ([fulfilment.merge] max_orders)",
                           "order_ids")
    rows = await _load_orders(session, wanted)
    _refuse_routed(rows)
    decided = await _existing_plans(session, wanted)
    if decided:
        order_id, plan = sorted(decided.items())[0]
        raise PlanConflict(409, f"order {order_id} has a {plan.kind} decision already; undo it first")
    if not force:
        keys = {oid: merge_key(row, settings) for oid, row in rows.items()}
        if any(k.value is None for k in keys.values()) or len({k.value for k in keys.values()}) != 1:
            raise PlanConflict(422, "the orders differ in buyer, address or shop; send force=true to merge anyway",
                               "order_ids")
    platforms = {row.platform for row in rows.values()}
    if len(platforms) != 1:
        raise PlanConflict(422, "orders of different platforms cannot share a delivery", "order_ids")
    merge_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    await session.execute(insert(FulfilmentPlanRow), [
        {"order_id": oid, "kind": "merge", "merge_id": merge_id, "line_groups": [], "forced": force,
         "created_by": actor, "created_at": now} for oid in wanted])
    await session.execute(insert(OrderEventRow), [
        _event(oid, "merge_planned", actor, {"merge_id": merge_id, "with": [o for o in wanted if o != oid],
                                            "forced": force}) for oid in wanted])
    await _release_proposed(session, wanted, actor)
    _kick_flow(session, wanted)
    return merge_id


async def undo_merge(session: AsyncSession, merge_id: str, *, actor: str) -> list[int]:
    """Undo a manual merge before routing; returns its orders. ``PlanConflict`` 404 when unknown,
    409 when any of its orders is routed."""
    plans = (await session.execute(select(FulfilmentPlanRow).where(
        FulfilmentPlanRow.merge_id == merge_id, FulfilmentPlanRow.kind == "merge"))).scalars().all()
    if not plans:
        raise PlanConflict(404, f"merge {merge_id} does not exist")
    order_ids = sorted(p.order_id for p in plans)
    _refuse_routed(await _load_orders(session, order_ids))
    await session.execute(delete(FulfilmentPlanRow).where(FulfilmentPlanRow.merge_id == merge_id))
    await session.execute(insert(OrderEventRow), [
        _event(oid, "merge_undone", actor, {"merge_id": merge_id}) for oid in order_ids])
    return order_ids


async def split_order(session: AsyncSession, order_id: int, groups: list[list[str]], *, actor: str) -> None:
    """Split an unrouted order into deliveries by line (external line ids or line row ids, as text);
    every line in exactly one group. Replaces an earlier split; refused once routed or merged."""
    rows = await _load_orders(session, [order_id])
    _refuse_routed(rows)
    lines = (await session.execute(select(OrderLineRow.id, OrderLineRow.external_id).where(
        OrderLineRow.order_id == order_id))).all()
    by_ref = {str(ext): str(ext) for _, ext in lines} | {str(i): str(ext) for i, ext in lines}
    resolved: list[list[str]] = []
    seen: set[str] = set()
    for group in groups:
        if not group:
            raise PlanConflict(422, "a split group has no lines", "groups")
        out = []
        for ref in group:
            ext = by_ref.get(str(ref))
            if ext is None:
                raise PlanConflict(422, f"order {order_id} has no line {ref!r}", "groups")
            if ext in seen:
                raise PlanConflict(422, f"line {ref!r} is in two groups", "groups")
            seen.add(ext)
            out.append(ext)
        resolved.append(out)
    missing = sorted({str(ext) for _, ext in lines} - seen)
    if missing:
        raise PlanConflict(422, f"line {missing[0]} is in no group: every line goes in one group", "groups")
    existing = await _existing_plans(session, [order_id])
    if order_id in existing and existing[order_id].kind == "merge":
        raise PlanConflict(409, f"order {order_id} is merged ({existing[order_id].merge_id}); undo the merge first")
    await session.execute(delete(FulfilmentPlanRow).where(FulfilmentPlanRow.order_id == order_id))
    await session.execute(insert(FulfilmentPlanRow), [{
        "order_id": order_id, "kind": "split", "merge_id": None, "line_groups": resolved, "forced": False,
        "created_by": actor, "created_at": datetime.now(UTC)}])
    await session.execute(insert(OrderEventRow), [_event(order_id, "split_planned", actor, {"groups": resolved})])
    await _release_proposed(session, [order_id], actor)


async def ship_alone(session: AsyncSession, order_ids: Sequence[int], *, actor: str) -> list[int]:
    """Decline a merge proposal: each order ships alone and is never merged automatically."""
    wanted = sorted(set(order_ids))
    rows = await _load_orders(session, wanted)
    _refuse_routed(rows)
    decided = await _existing_plans(session, wanted)
    fresh = [oid for oid in wanted if oid not in decided]
    if fresh:
        now = datetime.now(UTC)
        await session.execute(insert(FulfilmentPlanRow), [
            {"order_id": oid, "kind": "separate", "merge_id": None, "line_groups": [], "forced": False,
             "created_by": actor, "created_at": now} for oid in fresh])
        await session.execute(insert(OrderEventRow), [_event(oid, "merge_declined", actor, {}) for oid in fresh])
    await _release_proposed(session, wanted, actor)
    _kick_flow(session, wanted)
    return fresh


@dataclass
class Proposal:
    """Orders that could ship together: one merge key, two orders or more."""

    key: str
    order_ids: list[int]
    shops: list[str]
    certain: bool
    held: list[int] = field(default_factory=list)


async def candidates(session: AsyncSession, *, platforms: Collection[str] | None = None,
                     shops: Collection[str] | None = None, exclude: Collection[int] = (), held_ok: bool = False,
                     lock: bool = False, limit: int = 2000) -> list[OrderRow]:
    """Approved, unrouted, paid orders (unheld unless ``held_ok``) with no manual decision: those a
    merge may take. ``lock`` skips rows another transaction holds (PostgreSQL)."""
    decided = select(FulfilmentPlanRow.id).where(FulfilmentPlanRow.order_id == OrderRow.id).exists()
    stmt = select(OrderRow).where(OrderRow.review_status == "approved", OrderRow.fulfilment_status == "unfulfilled",
                                  OrderRow.status.in_(OPEN_STATUSES), ~decided)
    if not held_ok:
        stmt = stmt.where(OrderRow.on_hold.is_(False))
    if platforms is not None:
        stmt = stmt.where(OrderRow.platform.in_(set(platforms)))
    if shops is not None:
        stmt = stmt.where(OrderRow.shop.in_(set(shops)))
    if exclude:
        stmt = stmt.where(OrderRow.id.not_in(set(exclude)))
    stmt = stmt.order_by(OrderRow.id).limit(limit)
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars())


async def proposals(session: AsyncSession, settings: MergeSettings) -> list[Proposal]:
    """Orders waiting that share a merge key: approved, unrouted, undecided, unheld or held only
    by ``merge_proposed``; also an order still held ``merge_proposed`` whose partners went (routed,
    cancelled, decided), so a person can ship it alone."""
    rows = await candidates(session, held_ok=True)
    other_holds = set((await session.execute(select(OrderHoldRow.order_id).where(
        OrderHoldRow.order_id.in_([r.id for r in rows]), OrderHoldRow.released_at.is_(None),
        OrderHoldRow.code != PROPOSED_HOLD))).scalars()) if rows else set()
    proposed = set((await session.execute(select(OrderHoldRow.order_id).where(
        OrderHoldRow.order_id.in_([r.id for r in rows]), OrderHoldRow.released_at.is_(None),
        OrderHoldRow.code == PROPOSED_HOLD))).scalars()) if rows else set()
    by_key: dict[str, list[tuple[OrderRow, MergeKey]]] = {}
    for row in rows:
        if row.id in other_holds:
            continue
        key = merge_key(row, settings)
        if key.value is not None:
            by_key.setdefault(key.value, []).append((row, key))
    out = []
    for value, members in by_key.items():
        if len(members) < 2 and not any(r.id in proposed for r, _ in members):
            continue  # alone, and not waiting: nothing to propose (one held alone is listed: its partner left)
        out.append(Proposal(key=value, order_ids=[r.id for r, _ in members],
                            shops=sorted({r.shop for r, _ in members}), certain=all(k.certain for _, k in members),
                            held=[r.id for r, _ in members if r.id in proposed]))
    return sorted(out, key=lambda p: p.order_ids[0])


async def propose_holds(session: AsyncSession, order_ids: Sequence[int]) -> list[tuple[int, Hold]]:
    """The ``merge_proposed`` holds for orders that wait for a person's merge."""
    return [(oid, Hold(code=PROPOSED_HOLD, reason="another unshipped order of this buyer goes to the same "
                                                    "address: merge them or ship this one alone"))
            for oid in order_ids]


@dataclass
class OrderPlanView:
    """What the order panel and API show of an order's merge/split state."""

    decision: str | None = None
    merge_id: str | None = None
    merged_with: list[int] = field(default_factory=list)
    line_groups: list[list[str]] = field(default_factory=list)
    forced: bool = False
    decided_by: str | None = None
    delivered_with: list[int] = field(default_factory=list)


async def plan_view(session: AsyncSession, order_id: int) -> OrderPlanView:
    """The order's manual decision, and the orders it shares a delivery order with (once routed)."""
    from hub.db.tables import DeliveryLineRow

    view = OrderPlanView()
    plan = (await session.execute(select(FulfilmentPlanRow).where(
        FulfilmentPlanRow.order_id == order_id))).scalar_one_or_none()
    if plan is not None:
        view.decision, view.merge_id, view.forced, view.decided_by = (plan.kind, plan.merge_id, plan.forced,
                                                                       plan.created_by)
        view.line_groups = [list(g) for g in plan.line_groups or []]
        if plan.merge_id:
            view.merged_with = sorted(o for o in (await session.execute(select(FulfilmentPlanRow.order_id).where(
                FulfilmentPlanRow.merge_id == plan.merge_id))).scalars() if o != order_id)
    mine = select(DeliveryLineRow.delivery_order_id).where(DeliveryLineRow.order_id == order_id)
    view.delivered_with = sorted(set((await session.execute(select(DeliveryLineRow.order_id).where(
        DeliveryLineRow.delivery_order_id.in_(mine), DeliveryLineRow.order_id != order_id))).scalars()))
    return view


@dataclass(frozen=True)
class ShippedParcel:
    """One package of a (merged) delivery order as the warehouse reports it: its tracking number
    and, when the delivery left in several packages, the ``(order id, line external id, quantity)``
    it holds (None: one package holding every line)."""

    courier_code: str
    tracking_number: str
    contents: list[tuple[int, str, int]] | None = None


def shipments_for_merged_delivery(lines: Sequence[Any], parcels: Sequence[ShippedParcel]) -> dict[int, list[Any]]:
    """The ``contracts.Parcel`` list to record for each order of a delivery order that shipped:
    ``{order id: parcels}``, one ``shipments.record_shipment`` per order, so each order keeps its
    own channel confirmation with the same tracking number(s) and only its own lines. ``lines``
    are the delivery order's ``delivery_lines`` rows (``order_id``, ``line_external_id``,
    ``merchant_sku``, ``quantity``). Raises ``ValueError`` when several parcels do not say what
    they hold."""
    from contracts.shipments import Parcel, ParcelItem

    if len(parcels) > 1 and any(p.contents is None for p in parcels):
        raise ValueError("a delivery that left in several parcels must say which lines each holds")
    skus = {(line.order_id, line.line_external_id): line.merchant_sku for line in lines}
    out: dict[int, list[Any]] = {}
    for parcel in parcels:
        contents = parcel.contents if parcel.contents is not None else [
            (line.order_id, line.line_external_id, line.quantity) for line in lines]
        per_order: dict[int, list[Any]] = {}
        for order_id, line_id, quantity in contents:
            per_order.setdefault(order_id, []).append(ParcelItem(
                line_external_id=line_id, merchant_sku=skus.get((order_id, line_id)), quantity=quantity))
        for order_id, items in per_order.items():
            out.setdefault(order_id, []).append(Parcel(courier_code=parcel.courier_code,
                                                       tracking_number=parcel.tracking_number, items=items))
    return out
