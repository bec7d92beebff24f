"""Exposure accounting for partitioned stock groups: how much each shop can still sell that the
hub has not taken in, and pushes that keep the group from ever selling more than it has (docs/architecture.md §6).

A listing's *exposure* is an upper bound on what its shop can still sell behind the hub's back:
what it shows plus its sales still on their way to the hub. The guarantee of a partitioned SKU is
the invariant Σ exposure ≤ available, and every step keeps it, in any interleaving:

- a sale taken in lowers available (its reservation) and the shop's exposure together;
- a cancelled sale gives both back (the platform may put its stock back on the shelf);
- a raise is granted only from the free part (available − Σ exposure), under a lock on the SKU's
  stock rows, and written *before* the call goes out, so a crash or a lost answer leaves it
  counted. An absolute value X may overwrite stock the shop still shows: it is granted as X;
- a decrement is credited only once the platform confirmed it, and only as far as it provably
  went (a decrement larger than the shop's stock is cut short at 0 by TOP).

Absolute pushes computed before the hub heard of a sale used to re-grant that sale; here they
cannot, because nothing is ever assumed sold that the hub has not seen.

What the bound over-counts (an overwritten value, a decrement cut short, a change whose answer was
lost) is given back by the *anchor*: an upper bound on what the shop shows, counted from the last
moment the hub knew it exactly (an absolute value or quantity the platform answered, a read-back).
Sales that certainly came after that moment (the order's creation later than it, by more than the
clock skew allowed) lower it; changes move it. Once ``stock_settle_after_s`` has passed since the
anchor, every sale from before it has reached the hub, so the anchor bounds everything the shop
can still sell and the exposure comes down to it. That delivery time is the one assumption.
Not for the push itself (``push``) or the allocation arithmetic (``allocation``).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockPushResult
from hub.db.tables import ChannelStockRow, ListingRow, SkuRow, StockRow
from hub.services.stock.allocation import Move, MoveKind, plan_partitioned
from hub.services.stock.levels import stock_of
from hub.services.stock.skus import components_of
from hub.services.stock.targets import SkuTargets

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

#: ``StockPushResult.error_code`` of a push the hub never sent (the job stopped before it).
NOT_SENT = "not_sent"


def _now() -> datetime:
    return datetime.now(UTC)


def new_key() -> str:
    """An idempotency key for one push: 32 hex characters (Tmall's ``outer_biz_key`` takes hex only)."""
    return secrets.token_hex(16)


def _minus(column: Any, quantity: Any) -> Any:
    """``column − quantity``, never below 0; NULL (unknown) stays NULL."""
    return case((column.is_(None), None), (column - quantity > 0, column - quantity), else_=0)


# --------------------------------------------------------------------------- sales and cancellations


def sale_values(quantity: int, sold_at: datetime | None, skew: timedelta) -> dict[str, Any]:
    """Column values for ``UPDATE channel_stock`` when a sale of ``quantity`` in this listing is
    taken in: the exposure drops by it; the anchor too, but only for a sale that certainly came
    after the anchor (created later by more than ``skew``); an earlier one was already excluded
    from the anchor's value, and an unknown time counts as earlier (the safe side)."""
    return sale_columns(quantity, None if sold_at is None else sold_at.astimezone(UTC) - skew)


def sale_columns(quantity: Any, anchor_before: Any | None) -> dict[str, Any]:
    """``sale_values`` with the quantity and the moment an anchor must predate (the sale's time
    less the skew; None for an unknown time) as values or bound parameters, so one statement can
    take in many sales (``effects.note_platform_decrements``)."""
    row = ChannelStockRow
    values: dict[str, Any] = {"exposure": _minus(row.exposure, quantity)}
    if anchor_before is not None:
        after_anchor = row.anchor_at.is_not(None) & (row.anchor_at < anchor_before)
        values["anchor_value"] = case((after_anchor, _minus(row.anchor_value, quantity)), else_=row.anchor_value)
    return values


async def note_restored(session: AsyncSession, listing_id: int, quantity: int) -> None:
    """A sale in this listing was cancelled: the platform may put the units back on sale, so the
    shop may sell them again."""
    row = ChannelStockRow
    await session.execute(update(row).where(row.listing_id == listing_id).values(
        exposure=row.exposure + quantity, anchor_value=row.anchor_value + quantity,
    ).execution_options(synchronize_session=False))


# --------------------------------------------------------------------------- planning


@dataclass
class PlannedPush:
    """One push a job sends for one listing of a partitioned SKU, already written ahead."""

    row_id: int
    merchant_sku: str
    channel_item_id: str
    channel_sku_id: str
    target: int
    move: Move
    key: str
    dirty_since: datetime | None = None
    resend: bool = False  # a change whose answer was lost, sent again with its key
    bootstrap: bool = False  # the listing's first partitioned push: its exposure was unknown

    @property
    def delta(self) -> int:
        return self.move.amount if self.move.kind is MoveKind.RAISE else -self.move.amount


@dataclass
class ShopPlan:
    """What one push job does for its shop's partitioned listings."""

    pushes: list[PlannedPush]
    capped: list[int]  # row ids held back: they want more than can be granted now
    wake: set[str]  # other shops holding more than their target while this one waits (marked dirty)
    settled: int = 0  # units given back to the group by anchors that came of age
    resettled: set[str] = field(default_factory=set)  # shops whose listings settled here were marked dirty


async def _lock_stock(session: AsyncSession, merchant_sku: str) -> None:
    """Serialise the SKU's planners, and hold its reservations still while one plans: lock the
    catalogue row and the stock rows (of its components, for a bundle). SQLite's BEGIN IMMEDIATE
    already serialises writers."""
    if session.bind is None or session.bind.dialect.name == "sqlite":
        return
    await session.execute(select(SkuRow.merchant_sku).where(SkuRow.merchant_sku == merchant_sku).with_for_update())
    skus = {merchant_sku} | set((await components_of(session, [merchant_sku])).get(merchant_sku, {}))
    await session.execute(select(StockRow.id).where(StockRow.merchant_sku.in_(skus)).order_by(StockRow.id)
                          .with_for_update())


def _ripe(now: datetime, settle_after: timedelta) -> tuple[Any, ...]:
    """Listings counted for more than their anchor, whose anchor is old enough to settle."""
    row = ChannelStockRow
    return (row.exposure.is_not(None), row.anchor_value.is_not(None), row.anchor_at <= now - settle_after,
            row.anchor_value < row.exposure, row.pending_key.is_(None))


async def _settle(session: AsyncSession, merchant_sku: str, now: datetime, settle_after: timedelta,
                  planning: Collection[int]) -> tuple[int, set[str]]:
    """Bring exposures down to their anchors once the anchor is old enough; returns the units freed
    and the shops of the listings marked dirty here.

    Every listing of the SKU is settled, not only those this job is planning (``planning``): the
    others now count for less than their share, which only a push of their own gives them, and
    once settled the dirty sweep no longer sees them as ripe (``mark_ripe_dirty``). So they are
    marked dirty here, in the same transaction, or they would show less until the SKU's stock
    next changed.
    """
    row = ChannelStockRow
    ripe = (row.merchant_sku == merchant_sku, *_ripe(now, settle_after))
    freed = await session.scalar(select(func.coalesce(func.sum(row.exposure - row.anchor_value), 0)).where(*ripe))
    if not freed:
        return 0, set()
    woken = await session.execute(update(row).where(*ripe, row.id.not_in(sorted(planning)), row.dirty.is_(False))
                                  .values(dirty=True, dirty_since=now).returning(row.shop)
                                  .execution_options(synchronize_session=False))
    shops = set(woken.scalars())
    await session.execute(update(row).where(*ripe).values(exposure=row.anchor_value)
                          .execution_options(synchronize_session=False))
    return int(freed), shops


async def mark_ripe_dirty(hub: Hub) -> set[str]:
    """Mark dirty the listings holding units that are due back (their anchor came of age), and
    return their shops. Only a push job settles, and nothing else runs one for such a listing
    when it is not dirty: a shop whose cut-short decrement or overwritten value left it counted at
    its share while it shows less would show less until the SKU's stock next changed. (A job of
    another shop that settles the listing first marks it dirty itself, see ``_settle``.)"""
    settle_after = timedelta(seconds=hub.config.rules.stock_settle_after_s)
    now = _now()
    row = ChannelStockRow
    async with hub.database().transaction() as session:
        marked = await session.execute(update(row).where(row.dirty.is_(False), *_ripe(now, settle_after))
                                       .values(dirty=True, dirty_since=now).returning(row.shop)
                                       .execution_options(synchronize_session=False))
        return set(marked.scalars())


def _pending_lost(cs: ChannelStockRow, now: datetime, wait: timedelta) -> bool:
    """Whether a marked push is over without an answer: marked to be resent (no time), or sent more
    than ``wait`` ago (``rules.stock_unanswered_wait_s``: a job that died with it, or an absolute
    value whose answer was lost and that can no longer land late)."""
    return cs.pending_at is None or cs.pending_at <= now - wait


async def plan_shop(hub: Hub, shop: str, by_sku: Mapping[str, list[int]], targets: Mapping[str, SkuTargets], *,
                    adjustable: bool, idempotent: bool) -> ShopPlan:
    """Decide and write ahead this job's pushes for the partitioned listings of ``shop``
    (``by_sku``: merchant SKU → the job's claimed ``channel_stock`` row ids).

    One transaction per SKU, holding the SKU's lock while it settles ripe anchors, reads available
    and every shop's exposure, and grants. A change whose answer was lost is sent again with its
    key when the platform deduplicates by key; otherwise it is settled on the safe side (a raise
    counted as made, a decrement as not) and the listing planned afresh.
    """
    plan = ShopPlan([], [], set())
    settle_after = timedelta(seconds=hub.config.rules.stock_settle_after_s)
    wait = timedelta(seconds=hub.config.rules.stock_unanswered_wait_s)
    for sku in sorted(by_sku):
        async with hub.database().transaction() as session:
            await _lock_stock(session, sku)
            now = _now()
            freed, resettled = await _settle(session, sku, now, settle_after, by_sku[sku])
            plan.settled += freed
            plan.resettled |= resettled
            available = (await stock_of(session, [sku]))[sku].available
            rows = (await session.execute(
                select(ChannelStockRow, ListingRow).join(ListingRow, ListingRow.id == ChannelStockRow.listing_id)
                .where(ChannelStockRow.merchant_sku == sku).order_by(ChannelStockRow.id))).all()
            free = available - sum(cs.exposure or 0 for cs, _ in rows)
            shop_targets = targets[sku].targets
            capped_here = False
            for cs, listing in rows:
                if cs.id not in by_sku[sku]:
                    continue
                target = shop_targets.get(shop, 0)
                if cs.pending_key is not None:
                    if not _pending_lost(cs, now, wait):
                        plan.capped.append(cs.id)  # still in flight: look again later
                        continue
                    if idempotent and cs.pending_delta is not None:
                        kind = MoveKind.RAISE if cs.pending_delta > 0 else MoveKind.LOWER
                        plan.pushes.append(PlannedPush(cs.id, sku, listing.channel_item_id, listing.channel_sku_id,
                                                       target, Move(kind, abs(cs.pending_delta)), cs.pending_key,
                                                       cs.dirty_since, resend=True))
                        await _write(session, cs.id, {"pending_at": now, "target": target})
                        continue
                    await _write(session, cs.id, {"pending_key": None, "pending_delta": None, "pending_at": None})
                # Counted but never confirmed (the answer to its first value was lost): what the
                # shop shows is unknown, so only an absolute value can set it; granted on top.
                unknown_base = cs.exposure is not None and cs.pushed_at is None
                move = plan_partitioned(target, None if unknown_base else cs.exposure, free,
                                        adjustable=adjustable,
                                        shows_at_most=cs.anchor_value if cs.anchor_at is not None else None)
                if move.capped:
                    plan.capped.append(cs.id)
                    capped_here = True
                if move.kind is MoveKind.NONE or (move.kind is not MoveKind.SET and move.amount == 0):
                    await _write(session, cs.id, {"target": target})
                    continue
                key = new_key()
                values: dict[str, Any] = {"target": target, "pending_key": key, "pending_at": now,
                                          "pending_delta": None if move.kind is MoveKind.SET else
                                          (move.amount if move.kind is MoveKind.RAISE else -move.amount)}
                if move.grant:
                    values["exposure"] = func.coalesce(ChannelStockRow.exposure, 0) + move.grant
                    if move.kind is MoveKind.RAISE:
                        values["anchor_value"] = ChannelStockRow.anchor_value + move.grant
                elif cs.exposure is None:
                    values["exposure"] = 0
                free -= move.grant
                await _write(session, cs.id, values)
                plan.pushes.append(PlannedPush(cs.id, sku, listing.channel_item_id, listing.channel_sku_id, target,
                                               move, key, cs.dirty_since, bootstrap=cs.exposure is None))
            if capped_here:
                holding = [cs for cs, _ in rows if cs.shop != shop and cs.exposure is not None
                           and cs.exposure > shop_targets.get(cs.shop, 0)]
                if holding:
                    await session.execute(update(ChannelStockRow).where(
                        ChannelStockRow.id.in_([cs.id for cs in holding]), ChannelStockRow.dirty.is_(False))
                        .values(dirty=True, dirty_since=now).execution_options(synchronize_session=False))
                    plan.wake |= {cs.shop for cs in holding}
    if plan.settled:
        log.info("stock.settled", shop=shop, units=plan.settled)
    return plan


async def _write(session: AsyncSession, row_id: int, values: Mapping[str, Any]) -> None:
    await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == row_id).values(**values)
                          .execution_options(synchronize_session=False))


# --------------------------------------------------------------------------- outcomes


def credited_decrement(push: PlannedPush, result: StockPushResult) -> int:
    """How much of a confirmed decrement provably left the shop: what the platform says it applied,
    else all of it when the shop still shows something (it was not cut short at 0), else nothing."""
    if result.applied is not None:
        return max(0, min(push.move.amount, -result.applied))
    if result.quantity is not None and result.quantity > 0:
        return push.move.amount
    return 0


async def record_outcome(session: AsyncSession, push: PlannedPush, result: StockPushResult | None, *,
                         answered: bool, idempotent: bool, at: datetime) -> None:
    """Record one push's outcome. ``answered`` False: the outcome is unknown (a timeout, a lost
    answer). ``result`` with ``ok`` False: the platform certainly did not apply it."""
    row = ChannelStockRow
    mine = (row.id == push.row_id, row.pending_key == push.key)
    kind = push.move.kind
    values: dict[str, Any]
    if not answered:
        if kind is not MoveKind.SET and idempotent:
            values = {"pending_at": None}  # sent again with the same key by the next job
        elif kind is MoveKind.SET:
            # Counted as made, and it may or may not show the value now. It may still land, late:
            # the mark stays from now, so no other value is sent before it can no longer do so.
            values = {"pending_at": at, "anchor_value": None, "anchor_at": None}
        else:
            # Not sent again: a raise stays counted as made, a decrement as not. Changes add up in
            # any order, so one landing late needs no wait.
            values = {"pending_key": None, "pending_delta": None, "pending_at": None}
        await session.execute(update(row).where(*mine).values(**values).execution_options(synchronize_session=False))
        return
    cleared: dict[str, Any] = {"pending_key": None, "pending_delta": None, "pending_at": None}
    assert result is not None
    if not result.ok and push.resend:
        # This attempt did not land, but the one whose answer was lost may have: nothing is undone.
        # Not sent or a passing fault: sent again later with its key; refused for good: settled as
        # made (a raise stays counted, a decrement uncredited).
        values = {"pending_at": None} if result.retryable or result.error_code == NOT_SENT else cleared
        await session.execute(update(row).where(*mine).values(**values).execution_options(synchronize_session=False))
        return
    if not result.ok:
        undo = push.move.grant
        values = dict(cleared)
        if push.bootstrap:
            values["exposure"] = None
        elif undo:
            values["exposure"] = _minus(row.exposure, undo)
            if kind is MoveKind.RAISE:
                values["anchor_value"] = _minus(row.anchor_value, undo)
        await session.execute(update(row).where(*mine).values(**values).execution_options(synchronize_session=False))
        return
    values = dict(cleared, pushed_at=at, last_error=None, last_error_at=None)
    if kind is MoveKind.SET:
        shows = result.quantity if result.quantity is not None else push.move.amount
        values.update(shown=shows, anchor_value=shows, anchor_at=at)
    else:
        if kind is MoveKind.LOWER:
            credit = credited_decrement(push, result)
            if credit:
                values["exposure"] = _minus(row.exposure, credit)
                values["anchor_value"] = _minus(row.anchor_value, credit)
        if result.quantity is not None:
            values.update(shown=result.quantity, anchor_value=result.quantity, anchor_at=at)
        else:
            values["shown"] = _minus(row.shown, -push.delta)
    await session.execute(update(row).where(*mine).values(**values).execution_options(synchronize_session=False))


async def note_reading(session: AsyncSession, row_id: int, quantity: int, pushed_at: datetime | None,
                       at: datetime) -> bool:
    """A read-back of a partitioned listing: what it showed at ``at`` becomes its anchor, unless a
    push went out (or landed) since the row was read. A shop showing more than its exposure was
    raised outside the hub (the seller centre): the exposure must cover it. Returns True when
    the exposure had to be raised."""
    row = ChannelStockRow
    still = (row.id == row_id, row.pending_key.is_(None),
             row.pushed_at.is_(None) if pushed_at is None else row.pushed_at == pushed_at)
    outside = await session.execute(update(row).where(*still, row.exposure.is_not(None), row.exposure < quantity)
                                    .values(exposure=quantity).returning(row.id)
                                    .execution_options(synchronize_session=False))
    raised = outside.first() is not None
    await session.execute(update(row).where(*still, row.exposure.is_not(None))
                          .values(anchor_value=quantity, anchor_at=at).execution_options(synchronize_session=False))
    return raised
