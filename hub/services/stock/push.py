"""The push: one job per shop claims its dirty listings, computes their targets, sends them, and
records what each shop answered.

The job claims the dirty rows that have no push outstanding, computes targets from the stock at
that moment (``targets``), skips what the shop already shows, pushes absolute values (shared) or
the moves ``exposure.plan_shop`` grants (partitioned) in the connector's batch size, decrements
first, and records the outcome per listing; entries never sent are given back and stay dirty. At
most one push per listing is outstanding at a time, and one whose answer never came is not
followed by another until it can no longer land late (``inflight``), so an older value never
overwrites a newer one. ``shown`` is the hub's record of what the shop shows: what it last
accepted, less what buyers have ordered since (``effects.note_platform_decrement``), so a sale in
a shop never causes a needless push to that shop. Not for scheduling the job (``scheduling``),
the allocation arithmetic (``allocation``) or reading shops back (``reconcile``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.inventory import AllocationMode, ChannelStock, ChannelStockChange, StockPushResult
from hub import metrics
from hub.db import dead_letters
from hub.db import shops as shop_rows
from hub.db.tables import ChannelStockRow, ListingRow, SkuRow
from hub.errors import AuthorizationError, PermanentError, RetryableError, ShopPausedError, ThrottledError
from hub.services import shop_health
from hub.services.stock import exposure, inflight
from hub.services.stock.allocation import MoveKind
from hub.services.stock.scheduling import PUSH_ACTOR, clear_flag, schedule_push
from hub.services.stock.targets import allocation_mode, compute_targets

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

#: At most this many listings per push job; the rest stay dirty for the next one.
MAX_PER_JOB = 5_000

#: How soon a push whose partitioned raise was held back looks again, once the shops holding
#: more than their share were woken to give it back.
CAPPED_RECHECK_MS = 500


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PushReport:
    """What one push job did for one shop."""

    shop: str
    claimed: int = 0
    skipped: int = 0  # already showing the target, or nothing to move
    pushed: int = 0
    failed: int = 0
    capped: int = 0  # partitioned raises held back until other shops were lowered
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    paused: str | None = None
    settled: int = 0  # partitioned units given back by anchors that came of age


@dataclass
class _Item:
    row_id: int
    listing_id: int
    merchant_sku: str
    channel_item_id: str
    channel_sku_id: str
    shown: int | None
    dirty_since: datetime | None
    key: str = ""  # the job's mark on the listing while its push is outstanding (``inflight``)
    target: int = 0
    value: int = 0


#: One entry of a stock call: a shared listing's absolute value, or a planned partitioned push.
_Entry = _Item | exposure.PlannedPush


@dataclass
class _Batch:
    """One connector call: absolute values (``push_stock``) or changes (``adjust_stock``)."""

    adjust: bool
    entries: list[_Entry]


def _batches(shared: Sequence[_Item], planned: Sequence[exposure.PlannedPush], size: int) -> list[_Batch]:
    """Decrements first (what they free may let another shop rise), then absolute values, then raises."""
    lowers = [p for p in planned if p.move.kind is MoveKind.LOWER]
    raises = [p for p in planned if p.move.kind is MoveKind.RAISE]
    values: list[_Entry] = [*shared, *(p for p in planned if p.move.kind is MoveKind.SET)]
    out: list[_Batch] = []
    for adjust, entries in ((True, lowers), (False, values), (True, raises)):
        out += [_Batch(adjust, list(entries[i:i + size])) for i in range(0, len(entries), size)]
    return out


def _channel_value(shop: str, entry: _Entry) -> ChannelStock:
    quantity = entry.value if isinstance(entry, _Item) else entry.move.amount
    return ChannelStock(shop=shop, merchant_sku=entry.merchant_sku, channel_item_id=entry.channel_item_id,
                        channel_sku_id=entry.channel_sku_id or None, quantity=quantity)


def _channel_change(shop: str, push: exposure.PlannedPush) -> ChannelStockChange:
    return ChannelStockChange(shop=shop, merchant_sku=push.merchant_sku, channel_item_id=push.channel_item_id,
                              channel_sku_id=push.channel_sku_id or None, delta=push.delta, key=push.key)


async def _claim(hub: Hub, shop: str, key: str) -> list[_Item]:
    """Claim the shop's dirty listings that have no push outstanding (those stay dirty for the job
    that follows their answer), and mark the shared ones with the job's ``key``."""
    now = _now()
    free = inflight.free(now, hub.config)
    async with hub.database().transaction() as session:
        # Locked in id order (as ``scheduling.mark_dirty`` locks): a listing whose SKU is being
        # changed is claimed once that change commits, and the value computed after includes it.
        ids = list((await session.execute(
            select(ChannelStockRow.id).where(ChannelStockRow.shop == shop, ChannelStockRow.dirty.is_(True), free)
            .order_by(ChannelStockRow.id).limit(MAX_PER_JOB).with_for_update())).scalars())
        if not ids:
            return []
        # Conditional: a concurrent job for the same shop claims each row at most once.
        claimed = await session.execute(
            update(ChannelStockRow).where(ChannelStockRow.id.in_(ids), ChannelStockRow.dirty.is_(True), free)
            .values(dirty=False).returning(ChannelStockRow.id).execution_options(synchronize_session=False))
        got = set(claimed.scalars())
        rows = await session.execute(
            select(ChannelStockRow, ListingRow, SkuRow.stock_group)
            .join(ListingRow, ListingRow.id == ChannelStockRow.listing_id)
            .outerjoin(SkuRow, SkuRow.merchant_sku == ChannelStockRow.merchant_sku)
            .where(ChannelStockRow.id.in_(got)))
        items: list[_Item] = []
        for cs, lst, group in rows.all():
            shared = allocation_mode(hub.config, cs.merchant_sku, group) is not AllocationMode.PARTITIONED
            items.append(_Item(cs.id, cs.listing_id, cs.merchant_sku, lst.channel_item_id, lst.channel_sku_id,
                               cs.shown, cs.dirty_since, key if shared else ""))
        # Partitioned listings are marked by their planned push (``exposure.plan_shop``).
        await inflight.hold(session, [i.row_id for i in items if i.key], key, now)
        return items


async def _redirty(session: AsyncSession, items: Iterable[_Entry | int], error: str | None) -> None:
    """Dirty again, with ``error`` as the last error when given. An entry keeps the time it first
    became dirty (so the lag and the sweep still count from the oldest change it carries); a bare
    row id keeps the row's own."""
    values: dict[str, Any] = {"dirty": True}
    if error is not None:
        values.update(last_error=error[:2000], last_error_at=_now())
    ids: list[int] = []
    for item in items:
        if isinstance(item, int):
            ids.append(item)
            continue
        await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id)
                              .values(**values, dirty_since=item.dirty_since or _now())
                              .execution_options(synchronize_session=False))
    if ids:
        await session.execute(update(ChannelStockRow).where(ChannelStockRow.id.in_(ids)).values(
            **values, dirty_since=case((ChannelStockRow.dirty_since.is_(None), _now()),
                                       else_=ChannelStockRow.dirty_since))
            .execution_options(synchronize_session=False))


def _observe_lag(platform: str, item: _Entry, at: datetime) -> None:
    if item.dirty_since is None:
        return
    metrics.STOCK_SYNC_LAG.labels(platform).observe(max(0.0, (at - item.dirty_since).total_seconds()))


def _match(results: Sequence[StockPushResult], batch: Sequence[_Entry]) -> dict[int, StockPushResult | None]:
    by_key = {(r.merchant_sku, r.channel_sku_id or ""): r for r in results}
    by_sku: dict[str, list[StockPushResult]] = {}
    for r in results:
        by_sku.setdefault(r.merchant_sku, []).append(r)
    out: dict[int, StockPushResult | None] = {}
    for item in batch:
        found = by_key.get((item.merchant_sku, item.channel_sku_id))
        if found is None and len(by_sku.get(item.merchant_sku, [])) == 1:
            found = by_sku[item.merchant_sku][0]
        out[item.row_id] = found
    return out


async def _shop_paused(hub: Hub, shop: str) -> str | None:
    async with hub.database().session() as session:
        status = await shop_rows.shop_status(session, shop)
    if status is not None and status.status == "paused":
        return status.paused_reason or "paused"
    return None


def _breaker(hub: Hub, shop: str) -> Any:
    return shop_health.breaker(hub, shop)


async def push_shop(hub: Hub, shop: str) -> PushReport:
    """Push what changed for one shop; returns what happened. Raises ``RetryableError`` (throttled,
    unavailable) after putting the unpushed listings back to dirty, so the queue retries later.

    Shared SKUs get their target as an absolute value (skipped when the shop already shows it).
    Partitioned SKUs get the moves ``exposure.plan_shop`` grants: changes where the platform takes
    them (``ADJUST_STOCK``), decrements first, else absolute values counted in full.
    """
    report = PushReport(shop)
    await clear_flag(hub, shop)  # changes from now on schedule a new job
    cfg = hub.config.shops.get(shop)
    if cfg is None or not cfg.enabled:
        return report
    paused = await _shop_paused(hub, shop)
    if paused is not None:
        report.paused = paused
        return report  # rows stay dirty; pushed when the shop is resumed
    connector = hub.accounts().channel(shop)
    if not declared(type(connector), Capability.PUSH_STOCK):
        return report
    items = await _claim(hub, shop, exposure.new_key())
    report.claimed = len(items)
    if not items:
        return report
    idempotent = bool(getattr(connector, "stock_adjust_idempotent", False))
    try:
        shared, plan = await _prepare(hub, shop, connector, items, report, idempotent=idempotent)
    except BaseException:
        await _give_back(hub, items)  # nothing went out: dirty again, the marks released
        raise
    planned = plan.pushes if plan is not None else []
    batches = _batches(shared, planned, max(1, int(getattr(connector, "max_stock_batch", 20) or 20)))
    try:
        await _send(hub, shop, cfg.platform, connector, report, batches, idempotent=idempotent)
    finally:
        if plan is not None and plan.capped:
            async with hub.database().transaction() as session:  # held back: a later job pushes them
                await _redirty(session, plan.capped, None)
    if plan is not None and plan.resettled:
        # Other listings of these SKUs were settled down to what they show: push them their share.
        await schedule_push(hub, plan.resettled, delay_ms=0)
    if report.paused is not None:
        return report
    if plan is not None and plan.capped:
        if plan.wake:
            # Shops holding more than their share were woken to give it back; look again soon
            # (a shop waiting only for units to settle is left to the dirty sweep).
            await schedule_push(hub, plan.wake, delay_ms=0)
            await schedule_push(hub, [shop], delay_ms=CAPPED_RECHECK_MS)
    log.info("stock.pushed", shop=shop, pushed=report.pushed, skipped=report.skipped, failed=report.failed,
             capped=report.capped, calls=report.calls, settled=report.settled)
    if await inflight.any_dirty_and_free(hub, [e.row_id for b in batches for e in b.entries]):
        # Changed while this job's push was outstanding: other jobs left it alone, so push it now.
        await schedule_push(hub, [shop])
    lowered = {p.merchant_sku for p in planned if p.move.kind is not MoveKind.RAISE}
    if lowered and report.pushed:
        # Others may have been held back until this shop was lowered: let them go now.
        async with hub.database().session() as session:
            waiting = set((await session.execute(select(ChannelStockRow.shop).where(
                ChannelStockRow.merchant_sku.in_(sorted(lowered)), ChannelStockRow.shop != shop,
                ChannelStockRow.dirty.is_(True)).distinct())).scalars())
        await schedule_push(hub, waiting, delay_ms=0)
    return report


async def _prepare(hub: Hub, shop: str, connector: Any, items: list[_Item], report: PushReport, *,
                   idempotent: bool) -> tuple[list[_Item], exposure.ShopPlan | None]:
    """Targets for the claimed listings: the shared ones to send (those already shown are recorded
    and released here), and the partitioned plan."""
    skus = sorted({i.merchant_sku for i in items})
    async with hub.database().session() as session:
        targets = await compute_targets(hub, session, skus)
    shared: list[_Item] = []
    partitioned: list[_Item] = []
    for item in items:
        st = targets[item.merchant_sku]
        item.target = item.value = st.targets.get(shop, 0)
        (partitioned if st.mode is AllocationMode.PARTITIONED else shared).append(item)
    in_sync = [i for i in shared if i.value == i.shown]
    shared = [i for i in shared if i.value != i.shown]
    if in_sync:
        async with hub.database().transaction() as session:
            for item in in_sync:
                await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id)
                                      .values(target=item.target).execution_options(synchronize_session=False))
                await inflight.release(session, item.row_id, item.key)
    plan = None
    if partitioned:
        by_sku: dict[str, list[int]] = {}
        for item in partitioned:
            by_sku.setdefault(item.merchant_sku, []).append(item.row_id)
        plan = await exposure.plan_shop(hub, shop, by_sku, targets, idempotent=idempotent,
                                        adjustable=declared(type(connector), Capability.ADJUST_STOCK))
        report.capped, report.settled = len(plan.capped), plan.settled
    moved = {p.row_id for p in plan.pushes} | set(plan.capped) if plan is not None else set()
    report.skipped = len(in_sync) + len(partitioned) - len(moved)
    return shared, plan


async def _send(hub: Hub, shop: str, platform: str, connector: Any, report: PushReport,
                batches: list[_Batch], *, idempotent: bool) -> None:
    """Send the batches in order through the shop's breaker and record each outcome. Entries never
    sent are given back (dirty again; a partitioned grant undone), so nothing is left counted for
    a call that did not go out. Each batch's marks are renewed just before its call, and entries
    a newer push took over are not sent (``inflight``)."""
    breaker = _breaker(hub, shop)
    pending = list(batches)
    sending: _Batch | None = None
    try:
        while pending:
            await breaker.check()
            pending[0].entries = await _still_ours(hub, pending[0].entries)
            sending = pending.pop(0)
            if not sending.entries:
                sending = None
                continue
            report.calls += 1
            try:
                if sending.adjust:
                    changes = [_channel_change(shop, e) for e in sending.entries
                               if isinstance(e, exposure.PlannedPush)]
                    results = await connector.adjust_stock(changes)
                else:
                    results = await connector.push_stock([_channel_value(shop, e) for e in sending.entries])
            except AuthorizationError as exc:
                # Refused, so not applied: given back, dirty, and pushed once the shop is resumed.
                await _pause(hub, shop, exc)
                report.paused = str(exc)
                await _give_back(hub, sending.entries, str(exc))
                sending = None
                return
            except PermanentError as exc:
                # The whole batch was refused as bad: record it per listing, keep the others flowing.
                await _record(hub, platform, report, sending.entries, None, refused=exc, idempotent=idempotent)
                sending = None
                continue
            except (RetryableError, ShopPausedError) as exc:
                if isinstance(exc, RetryableError):
                    await breaker.record_failure(f"stock push: {exc}")
                if isinstance(exc, ThrottledError | ShopPausedError):
                    await _give_back(hub, sending.entries, str(exc))  # refused: nothing applied
                else:
                    await _unanswered(hub, sending.entries, str(exc), idempotent=idempotent)
                sending = None
                raise
            answered, sending = sending, None
            await breaker.record_success()
            await _record(hub, platform, report, answered.entries, results, idempotent=idempotent)
    except BaseException:
        if sending is not None:
            await _unanswered(hub, sending.entries, None, idempotent=idempotent)
        await _give_back(hub, [e for b in pending for e in b.entries])
        raise
    finally:
        if report.paused is not None and pending:
            await _give_back(hub, [e for b in pending for e in b.entries], report.paused)


async def _still_ours(hub: Hub, entries: list[_Entry]) -> list[_Entry]:
    """The entries whose listing still carries their mark, renewed for the call about to go out."""
    ours = await inflight.renew(hub, [(e.row_id, e.key) for e in entries])
    dropped = [e.merchant_sku for e in entries if e.row_id not in ours]
    if dropped:
        log.warning("stock.push_superseded", skus=dropped[:20], count=len(dropped))
    return [e for e in entries if e.row_id in ours]


async def _unanswered(hub: Hub, entries: Sequence[_Entry], error: str | None, *, idempotent: bool) -> None:
    """A call whose outcome is unknown: dirty again, pushed again once it can no longer land late
    (``inflight.keep_unknown``); a partitioned push settled on the safe side."""
    at = _now()
    async with hub.database().transaction() as session:
        for entry in entries:
            if isinstance(entry, exposure.PlannedPush):
                await exposure.record_outcome(session, entry, None, answered=False, idempotent=idempotent, at=at)
            else:
                await inflight.keep_unknown(session, entry.row_id, entry.key, at)
        await _redirty(session, entries, error)


async def _give_back(hub: Hub, entries: Sequence[_Entry], error: str | None = None) -> None:
    """Entries never sent: dirty again, and what was granted for them returned."""
    if not entries:
        return
    at = _now()
    not_sent = StockPushResult(merchant_sku="", ok=False, error_code=exposure.NOT_SENT)
    async with hub.database().transaction() as session:
        for entry in entries:
            if isinstance(entry, exposure.PlannedPush):
                await exposure.record_outcome(session, entry, not_sent, answered=True, idempotent=False, at=at)
            elif entry.key:
                await inflight.release(session, entry.row_id, entry.key)
        await _redirty(session, entries, error)


async def _pause(hub: Hub, shop: str, exc: AuthorizationError) -> None:
    async with hub.database().transaction() as session:
        await shop_rows.pause_shop(session, shop, str(exc))
    log.error("shop.paused", shop=shop, reason=str(exc))


#: ``_record_applied``'s write, one statement whatever the call's size (sent as an executemany):
#: a statement whose shape followed the batch (a CASE with one WHEN per row) was compiled and cached
#: once per batch size, and those cache entries were most of a busy worker's memory growth.
_APPLIED: Table = ChannelStockRow.__table__  # type: ignore[assignment]
_RECORD_APPLIED = (
    update(_APPLIED).where(_APPLIED.c.id == bindparam("row_id"))
    .values(target=bindparam("new_target"), shown=bindparam("new_shown"), pushed_at=bindparam("at"),
            last_error=None, last_error_at=None, exposure=None, anchor_value=None, anchor_at=None,
            pending_key=None, pending_at=None, pending_delta=None))


async def _record_applied(session: AsyncSession, applied: Sequence[tuple[_Item, int]], at: datetime) -> None:
    """Record the shared values the shop took in one call (up to ``max_stock_batch`` of them): each
    row records its value while it still carries this push's mark (read under a row lock, in id
    order); a row a newer push took over meanwhile is ``inflight.superseded``."""
    if not applied:
        return
    row = ChannelStockRow
    by_id = {item.row_id: (item, shown) for item, shown in applied}
    ids = sorted(by_id)
    marks = await session.execute(select(row.id, row.pending_key).where(row.id.in_(ids)).order_by(row.id)
                                  .with_for_update())
    mine = [int(row_id) for row_id, key in marks if key is not None and key == by_id[int(row_id)][0].key]
    if mine:
        await session.execute(_RECORD_APPLIED, [
            {"row_id": row_id, "new_target": by_id[row_id][0].target, "new_shown": by_id[row_id][1], "at": at}
            for row_id in mine])
    recorded = set(mine)
    for row_id in ids:
        if row_id not in recorded:
            await inflight.superseded(session, row_id, at)


async def _record(hub: Hub, platform: str, report: PushReport, batch: Sequence[_Entry],
                  results: Sequence[StockPushResult] | None, *, refused: Exception | None = None,
                  idempotent: bool) -> None:
    """Record what one answered call did, per listing; a refused call (``refused``) for all of them.
    A shared value is recorded only while the listing still carries this push's mark; one whose
    outcome is unknown keeps it until it can no longer land late (``inflight``)."""
    matched = _match(results or [], batch)
    at = _now()
    retry_later: list[_Entry] = []
    unknown_later: list[_Entry] = []  # pushed again by the dirty sweep once the wait is over
    applied: list[tuple[_Item, int]] = []  # shared values answered ok, with what the shop shows
    async with hub.database().transaction() as session:
        for item in batch:
            result = matched.get(item.row_id)
            if refused is None and result is not None and result.ok:
                if isinstance(item, exposure.PlannedPush):
                    await exposure.record_outcome(session, item, result, answered=True, idempotent=idempotent, at=at)
                else:
                    applied.append((item, result.quantity if result.quantity is not None else item.value))
                report.pushed += 1
                metrics.STOCK_PUSHES.labels(platform, "ok").inc()
                _observe_lag(platform, item, at)
                continue
            if refused is not None:
                code, message, retryable = getattr(refused, "code", None), str(refused), False
            elif result is None:
                code, message, retryable = "no_result", "the connector reported no result for this SKU", True
            else:
                code, message = result.error_code, result.error_message or "refused"
                retryable = result.retryable or result.outcome_unknown
            error = f"{code or 'error'}: {message}"
            report.failed += 1
            report.errors.append(f"{item.merchant_sku}: {error}")
            metrics.STOCK_PUSHES.labels(platform, "retry" if retryable else "failed").inc()
            unknown = refused is None and (result is None or result.outcome_unknown)
            if isinstance(item, exposure.PlannedPush):
                # Not reported, or a transient fault: it may or may not have happened.
                if unknown or (refused is None and result is not None and result.retryable):
                    await exposure.record_outcome(session, item, None, answered=False, idempotent=idempotent, at=at)
                else:
                    await exposure.record_outcome(session, item, result or StockPushResult(
                        merchant_sku=item.merchant_sku, ok=False, error_code=code), answered=True,
                        idempotent=idempotent, at=at)
            elif unknown:
                await inflight.keep_unknown(session, item.row_id, item.key, at)
            else:  # certainly not applied
                await inflight.release(session, item.row_id, item.key)
            await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id).values(
                target=item.target, last_error=error[:2000], last_error_at=at,
            ).execution_options(synchronize_session=False))
            if retryable and unknown and not isinstance(item, exposure.PlannedPush):
                unknown_later.append(item)
            elif retryable:
                retry_later.append(item)
            else:
                await dead_letters.record(
                    session, actor=PUSH_ACTOR, queue="stock", args=[report.shop], kwargs={},
                    reason=f"shop {report.shop!r} refused stock for SKU {item.merchant_sku!r}: {error}",
                    error_class="PermanentError", attempts=1)
        await _record_applied(session, applied, at)
        await _redirty(session, retry_later + unknown_later, None)
    if retry_later:
        await schedule_push(hub, [report.shop], delay_ms=5_000)
