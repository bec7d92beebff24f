"""Which orders and lines go out together: merging orders of one buyer to one address into one
delivery, and splitting an order (presale lines wait, or by hand) before routing.

``plan_groups`` is what the flow asks before routing, in its transaction. In order:

1. A person's decisions (``fulfilment_plans``, see ``merging``): a manual merge is one group with
   every member that is ready (approved, unrouted, paid, not held but by ``merge_waiting``); a
   member not ready makes the others wait on a ``merge_waiting`` hold, released here once all are
   ready. A non-forced merge whose orders no longer share a merge key (an address changed) is
   ignored: each ships alone, and the group's data says why. A manual split is one group per line
   group; "ship alone" one group.
2. ``[fulfilment.merge] mode``: ``off`` one group per order; ``auto`` one group per merge key,
   taking also the orders already approved, unrouted and unheld in the database (locked, skipping
   rows another transaction holds), at most ``max_orders`` a group; ``propose`` one group per order
   without a partner, a ``merge_proposed`` hold on the others (a person merges or declines).
3. Presale lines (``merging.presale_lines``) never go in a group: an order all presale, or any
   presale line when ``presale_split`` is off, waits on a ``presale_waiting`` hold; with
   ``presale_split`` its other lines go and the group's ``waiting_lines`` names the rest.

A group may name orders not in ``orders`` (auto merges, manual merge partners): the caller routes
every order a group names. Not for choosing a warehouse (routing does that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import FulfilmentPlanRow, OrderHoldRow, OrderRow
from hub.services import orders as order_service
from hub.services.fulfilment import merging
from hub.services.fulfilment.settings import MergeSettings

PRESALE_HOLD = "presale_waiting"
MERGE_WAITING_HOLD = "merge_waiting"


@dataclass(frozen=True)
class GroupLine:
    order_id: int
    line_external_id: str
    merchant_sku: str | None
    quantity: int


@dataclass(frozen=True)
class DeliveryGroup:
    """Lines that ship together from one warehouse (routing may still split them by stock)."""

    order_ids: list[int]
    lines: list[GroupLine]
    reason: str = ""
    data: dict[str, str] = field(default_factory=dict)


def _lines(row: OrderRow, only: Iterable[str] | None = None) -> list[GroupLine]:
    wanted = None if only is None else set(only)
    return [GroupLine(row.id, str(line["external_id"]), line.get("merchant_sku"), int(line["quantity"]))
            for line in (row.data or {}).get("lines", [])
            if wanted is None or str(line["external_id"]) in wanted]


class _Planner:
    def __init__(self, settings: MergeSettings) -> None:
        self.settings = settings
        self.groups: list[DeliveryGroup] = []
        self.holds: list[tuple[int, Hold]] = []
        self.placed: set[int] = set()

    def shippable(self, row: OrderRow, lines: list[GroupLine]) -> tuple[list[GroupLine], list[str]]:
        """``lines`` less the presale ones, and those waiting; puts the presale hold when the order
        cannot ship anything (or must not ship half)."""
        waiting = merging.presale_lines(row, self.settings)
        ship = [line for line in lines if line.line_external_id not in waiting]
        held = sorted(line.line_external_id for line in lines if line.line_external_id in waiting)
        if held and (not ship or not self.settings.presale_split):
            self.holds.append((row.id, Hold(code=PRESALE_HOLD, reason=(
                f"line(s) {', '.join(held)} on presale ([fulfilment.merge] presale_skus); the order ships "
                "when they are in stock (release this hold) or set presale_split to ship the rest now"))))
            return [], held
        return ship, held

    def add(self, rows: list[OrderRow], reason: str, data: dict[str, str],
            line_sets: dict[int, list[GroupLine]] | None = None) -> None:
        lines: list[GroupLine] = []
        members: list[int] = []
        waiting: list[str] = []
        for row in rows:
            self.placed.add(row.id)
            ship, held = self.shippable(row, line_sets[row.id] if line_sets else _lines(row))
            waiting += held
            if ship:
                members.append(row.id)
                lines += ship
        if not members:
            return
        if waiting:
            data = {**data, "waiting_lines": ",".join(waiting)}
        if len(members) > 1:
            data = {**data, "merged_orders": ",".join(str(m) for m in members)}
        self.groups.append(DeliveryGroup(order_ids=members, lines=lines, reason=reason, data=data))

    def one(self, row: OrderRow, reason: str = "one order", data: dict[str, str] | None = None) -> None:
        self.add([row], reason, data or {})


async def _open_holds(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, set[str]]:
    ids = set(order_ids)
    if not ids:
        return {}
    out: dict[int, set[str]] = {}
    for order_id, code in (await session.execute(select(OrderHoldRow.order_id, OrderHoldRow.code).where(
            OrderHoldRow.order_id.in_(ids), OrderHoldRow.released_at.is_(None)))).all():
        out.setdefault(int(order_id), set()).add(str(code))
    return out


def _ready(row: OrderRow, holds: set[str]) -> bool:
    return (row.review_status == "approved" and row.fulfilment_status == "unfulfilled"
            and row.status in merging.OPEN_STATUSES and not (holds - {MERGE_WAITING_HOLD}))


async def _manual(hub: Hub, session: AsyncSession, planner: _Planner, batch: dict[int, OrderRow]) -> None:
    plans = (await session.execute(select(FulfilmentPlanRow).where(
        FulfilmentPlanRow.order_id.in_(list(batch))))).scalars().all()
    merge_ids = {p.merge_id for p in plans if p.kind == "merge" and p.merge_id}
    for plan in plans:
        row = batch[plan.order_id]
        if plan.kind == "split":
            for i, group in enumerate(plan.line_groups or [], start=1):
                planner.add([row], "split by hand", {"split": f"{i}/{len(plan.line_groups)}"},
                            {row.id: _lines(row, group)})
            planner.placed.add(row.id)
        elif plan.kind == "separate":
            planner.one(row, "ships alone (merge declined)")
    if not merge_ids:
        return
    members = (await session.execute(select(FulfilmentPlanRow).where(
        FulfilmentPlanRow.merge_id.in_(merge_ids)))).scalars().all()
    others = {m.order_id for m in members} - set(batch)
    stmt = select(OrderRow).where(OrderRow.id.in_(others)).order_by(OrderRow.id)
    if others and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    rows = {**batch, **{r.id: r for r in (await session.execute(stmt)).scalars()}} if others else dict(batch)
    holds = await _open_holds(session, rows)
    settings = planner.settings
    for merge_id in sorted(merge_ids):
        plan_rows = sorted((m for m in members if m.merge_id == merge_id), key=lambda m: m.order_id)
        # A member cancelled or closed by its channel will never ship: the merge goes on without it.
        group_rows = [rows[m.order_id] for m in plan_rows
                      if m.order_id in rows and rows[m.order_id].status not in ("cancelled", "closed")]
        forced = any(m.forced for m in plan_rows)
        keys = {merging.merge_key(r, settings).value for r in group_rows}
        if not forced and (len(keys) != 1 or None in keys):
            for r in group_rows:
                if r.id in batch:
                    planner.one(r, "manual merge no longer matches (buyer or address changed): ships alone",
                                {"merge_id": merge_id, "merge_broken": "address or buyer changed"})
            continue
        not_ready = [r.id for r in group_rows if not _ready(r, holds.get(r.id, set()))]
        if not_ready:
            for r in group_rows:
                if r.id in batch:
                    planner.placed.add(r.id)
                    planner.holds.append((r.id, Hold(code=MERGE_WAITING_HOLD, reason=(
                        f"merged with order(s) {', '.join(map(str, not_ready))} that cannot ship yet (held, not "
                        f"approved or not paid); undo merge {merge_id} to ship this one alone"))))
            continue
        waiting_released = [r.id for r in group_rows if MERGE_WAITING_HOLD in holds.get(r.id, set())]
        if waiting_released:
            await order_service.release_holds(session, MERGE_WAITING_HOLD, waiting_released, actor="system",
                                              cause="system")
        planner.add(group_rows, "merged by hand", {"merge": "manual", "merge_id": merge_id,
                                                   **({"forced": "true"} if forced else {})})


async def plan_groups(hub: Hub, session: AsyncSession, orders: list[OrderRow]
                      ) -> tuple[list[DeliveryGroup], list[tuple[int, Hold]]]:
    """The delivery groups for ``orders`` (approved, unrouted) and the holds for orders that must
    wait; in the caller's transaction (see the module's docstring)."""
    settings: MergeSettings = hub.config.fulfilment.merge
    planner = _Planner(settings)
    batch = {row.id: row for row in orders}
    await _manual(hub, session, planner, batch)
    rest = [row for row in orders if row.id not in planner.placed]
    if settings.mode == "off" or not rest:
        for row in rest:
            planner.one(row)
        return planner.groups, planner.holds

    pool = await merging.candidates(
        session, platforms={r.platform for r in rest},
        shops=None if settings.across_shops else {r.shop for r in rest},
        exclude=list(batch), held_ok=settings.mode == "propose", lock=True)
    if settings.mode == "propose" and pool:
        pool_holds = await _open_holds(session, [r.id for r in pool])
        pool = [r for r in pool if not (pool_holds.get(r.id, set()) - {merging.PROPOSED_HOLD})]
    by_key: dict[str, list[OrderRow]] = {}
    for row in rest + pool:
        key = merging.merge_key(row, settings)
        if merging.may_auto_merge(key, settings) and key.value is not None:
            by_key.setdefault(key.value, []).append(row)
    key_of = {row.id: value for value, rows in by_key.items() for row in rows}
    for row in rest:
        if row.id in planner.placed:
            continue
        value = key_of.get(row.id)
        partners = by_key.get(value, []) if value else []
        if len(partners) < 2:
            planner.one(row)
        elif settings.mode == "propose":
            planner.placed.add(row.id)
            planner.holds += await merging.propose_holds(session, [row.id])
        else:
            members = sorted(partners, key=lambda r: r.id)
            for start in range(0, len(members), settings.max_orders):
                chunk = [r for r in members[start:start + settings.max_orders] if r.id not in planner.placed]
                if not any(r.id in batch for r in chunk):
                    continue  # orders of the database alone: their own flow run plans them
                if len(chunk) == 1:
                    planner.one(chunk[0])
                else:
                    planner.add(chunk, "merged: one buyer, one address", {"merge": "auto", "merge_key": value or ""})
    return planner.groups, planner.holds
