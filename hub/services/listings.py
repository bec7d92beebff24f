"""Listing bindings: which merchant SKU each shop listing (item id, SKU id) sells, bound by hand or
by the listing sync, and the listings a sync could not bind.

A binding is a ``listings`` row (with its ``channel_stock`` row, so the hub pushes the listing's
value). ``source`` says how it was made: ``manual`` (a person: the sync never rebinds it unless
told to), ``sync`` (by the listing's merchant code) or ``order`` (learned from a sale). The sync
pulls every listing of a shop (connector capability ``LIST_LISTINGS``), binds each whose merchant
code names an active catalogue SKU, records every listing it saw with the outcome in
``shop_listings`` (so unmatched ones can be listed), and marks new bindings dirty so their stock is
pushed: bind before the first sale, not from it. Not for the stock values themselves
(``hub.services.stock``) nor for the catalogue (``hub.services.catalogue``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability
from contracts.listings import ChannelListing
from hub.db.tables import ChannelStockRow, ListingRow, ShopListingRow, SkuRow
from hub.db.upsert import upsert
from hub.errors import BadInputError, NotFoundError
from hub.services.stock import scheduling
from hub.services.stock.channel_listings import add_listing

log = structlog.get_logger(__name__)

MANUAL, SYNC, ORDER = "manual", "sync", "order"
#: At most this many pages per sync (a runaway cursor must not loop forever).
MAX_PAGES = 10_000


class Outcome(StrEnum):
    """What the listing sync made of one listing."""

    BOUND = "bound"  # newly bound (or rebound to the SKU its code now names)
    ALREADY_BOUND = "already_bound"  # bound to that SKU before
    KEPT_MANUAL = "kept_manual"  # bound by hand to another SKU; left alone
    NO_CODE = "no_code"  # unmatched: the listing has no merchant code
    UNKNOWN_CODE = "unknown_code"  # unmatched: the code is not a catalogue SKU
    INACTIVE_SKU = "inactive_sku"  # unmatched: the code names a deactivated SKU


UNMATCHED = frozenset({Outcome.NO_CODE, Outcome.UNKNOWN_CODE, Outcome.INACTIVE_SKU})


class BindingConflict(BadInputError):
    """The listing is bound to another SKU already (HTTP 409); pass ``rebind`` to move it."""


def _now() -> datetime:
    return datetime.now(UTC)


def _shop_config(hub: Any, shop: str) -> Any:
    config = hub.config.shops.get(shop)
    if config is None:
        raise NotFoundError(f"no shop {shop!r}; configured shops: {sorted(hub.config.shops)}")
    return config


# --------------------------------------------------------------------------- bindings by hand


@dataclass(frozen=True)
class BindingView:
    id: int
    shop: str
    merchant_sku: str
    channel_item_id: str
    channel_sku_id: str
    source: str
    bound_by: str | None
    bound_at: datetime | None


def _binding(row: ListingRow) -> BindingView:
    return BindingView(int(row.id), row.shop, row.merchant_sku, row.channel_item_id, row.channel_sku_id,
                       row.source or ORDER, row.bound_by, row.bound_at)


async def _active_sku(session: AsyncSession, merchant_sku: str) -> SkuRow:
    row = await session.get(SkuRow, merchant_sku)
    if row is None:
        raise NotFoundError(f"SKU {merchant_sku!r} is not in the catalogue; add it first")
    if not row.active:
        raise BadInputError(f"SKU {merchant_sku!r} is deactivated; reactivate it before binding listings to it",
                            field="merchant_sku")
    return row


async def _find(session: AsyncSession, shop: str, item: str, sku: str) -> ListingRow | None:
    found: ListingRow | None = (await session.execute(select(ListingRow).where(
        ListingRow.shop == shop, ListingRow.channel_item_id == item, ListingRow.channel_sku_id == sku))).scalar()
    return found


async def _rebind(session: AsyncSession, row: ListingRow, merchant_sku: str, source: str, actor: str) -> None:
    """Point an existing listing at another SKU: what it shows is unknown for the new SKU, so the
    next push sets it absolutely (exposure and anchors start afresh)."""
    now = _now()
    await session.execute(update(ListingRow).where(ListingRow.id == row.id).values(
        merchant_sku=merchant_sku, source=source, bound_by=actor, bound_at=now)
        .execution_options(synchronize_session=False))
    await session.execute(update(ChannelStockRow).where(ChannelStockRow.listing_id == row.id).values(
        merchant_sku=merchant_sku, dirty=True, dirty_since=now, shown=None, target=None, exposure=None,
        anchor_value=None, anchor_at=None).execution_options(synchronize_session=False))


async def _create(session: AsyncSession, shop: str, merchant_sku: str, item: str, sku: str, source: str,
                  actor: str) -> int:
    listing_id = await add_listing(session, shop, merchant_sku, item, sku)
    await session.execute(update(ListingRow).where(ListingRow.id == listing_id, ListingRow.source.is_(None))
                          .values(source=source, bound_by=actor, bound_at=_now())
                          .execution_options(synchronize_session=False))
    return listing_id


async def bind(hub: Any, shop: str, merchant_sku: str, channel_item_id: str, channel_sku_id: str = "", *,
               actor: str, rebind: bool = False) -> BindingView:
    """Bind a shop listing to ``merchant_sku`` by hand. A listing bound to another SKU is moved only
    with ``rebind`` (else ``BindingConflict``). The listing is pushed at once."""
    _shop_config(hub, shop)
    if not channel_item_id.strip():
        raise BadInputError("channel_item_id must not be empty", field="channel_item_id")
    item, sku_id = channel_item_id.strip(), channel_sku_id.strip()
    async with hub.database().transaction() as session:
        await _active_sku(session, merchant_sku)
        row = await _find(session, shop, item, sku_id)
        if row is None:
            await _create(session, shop, merchant_sku, item, sku_id, MANUAL, actor)
        elif row.merchant_sku != merchant_sku:
            if not rebind:
                raise BindingConflict(f"listing {item}/{sku_id or '-'} in {shop!r} is bound to {row.merchant_sku!r} "
                                      f"({row.source or ORDER}); pass rebind to move it to {merchant_sku!r}",
                                      field="merchant_sku")
            await _rebind(session, row, merchant_sku, MANUAL, actor)
        else:
            await session.execute(update(ListingRow).where(ListingRow.id == row.id).values(
                source=MANUAL, bound_by=actor, bound_at=_now()).execution_options(synchronize_session=False))
        await session.execute(update(ShopListingRow).where(
            ShopListingRow.shop == shop, ShopListingRow.channel_item_id == item,
            ShopListingRow.channel_sku_id == sku_id).values(outcome=Outcome.ALREADY_BOUND.value,
                                                            merchant_sku=merchant_sku)
            .execution_options(synchronize_session=False))
        found = await _find(session, shop, item, sku_id)
        assert found is not None
        view = _binding(found)
    await scheduling.schedule_push(hub, {shop})
    log.info("listing.bound", shop=shop, merchant_sku=merchant_sku, item=item, sku=sku_id, by=actor)
    return view


async def unbind(hub: Any, shop: str, channel_item_id: str, channel_sku_id: str = "", *, actor: str) -> BindingView:
    """Remove a binding: the hub stops pushing that listing (``NotFoundError`` when not bound)."""
    async with hub.database().transaction() as session:
        row = await _find(session, shop, channel_item_id.strip(), channel_sku_id.strip())
        if row is None:
            raise NotFoundError(f"listing {channel_item_id}/{channel_sku_id or '-'} in {shop!r} is not bound")
        view = _binding(row)
        await session.execute(delete(ChannelStockRow).where(ChannelStockRow.listing_id == row.id))
        await session.execute(delete(ListingRow).where(ListingRow.id == row.id))
    log.info("listing.unbound", shop=shop, merchant_sku=view.merchant_sku, item=view.channel_item_id,
             sku=view.channel_sku_id, by=actor)
    return view


@dataclass(frozen=True)
class BindingFilter:
    shop: str | None = None
    merchant_sku: str | None = None
    channel_item_id: str | None = None
    source: str | None = None


async def list_bindings(session: AsyncSession, filters: BindingFilter, *, cursor: int | None = None,
                        limit: int = 50) -> tuple[list[BindingView], int | None]:
    stmt = select(ListingRow).order_by(ListingRow.id).limit(limit + 1)
    if cursor:
        stmt = stmt.where(ListingRow.id > cursor)
    if filters.shop:
        stmt = stmt.where(ListingRow.shop == filters.shop)
    if filters.merchant_sku:
        stmt = stmt.where(ListingRow.merchant_sku == filters.merchant_sku)
    if filters.channel_item_id:
        stmt = stmt.where(ListingRow.channel_item_id == filters.channel_item_id)
    if filters.source == ORDER:
        stmt = stmt.where((ListingRow.source == ORDER) | ListingRow.source.is_(None))
    elif filters.source:
        stmt = stmt.where(ListingRow.source == filters.source)
    rows = list((await session.execute(stmt)).scalars())
    page = [_binding(r) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit and page else None)


@dataclass(frozen=True)
class SeenListing:
    """A listing as its shop showed it at the last sync, with what the sync made of it."""

    id: int
    shop: str
    channel_item_id: str
    channel_sku_id: str
    merchant_code: str | None
    title: str
    quantity: int | None
    status: str
    outcome: str
    merchant_sku: str | None
    seen_at: datetime


async def list_unmatched(session: AsyncSession, *, shop: str | None = None, cursor: int | None = None,
                         limit: int = 50) -> tuple[list[SeenListing], int | None]:
    """Listings the last sync of each shop could not bind (no code, unknown or deactivated SKU)."""
    stmt = (select(ShopListingRow).where(ShopListingRow.outcome.in_([o.value for o in UNMATCHED]))
            .order_by(ShopListingRow.id).limit(limit + 1))
    if shop:
        stmt = stmt.where(ShopListingRow.shop == shop)
    if cursor:
        stmt = stmt.where(ShopListingRow.id > cursor)
    rows = list((await session.execute(stmt)).scalars())
    page = [SeenListing(int(r.id), r.shop, r.channel_item_id, r.channel_sku_id, r.merchant_code, r.title, r.quantity,
                        r.status, r.outcome, r.merchant_sku, r.seen_at) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit and page else None)


# --------------------------------------------------------------------------- the listing sync


@dataclass
class SyncReport:
    """What one shop's listing sync did."""

    shop: str
    seen: int = 0
    bound: int = 0
    already_bound: int = 0
    kept_manual: int = 0
    unmatched: list[tuple[ChannelListing, Outcome]] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None  # why the shop was not synced (no LIST_LISTINGS, disabled)


async def fetch_all_listings(connector: Any, *, on_page: Callable[[int], None] | None = None) -> list[ChannelListing]:
    """Every listing of a shop, page by page (``fetch_listings`` until ``next_cursor`` is None)."""
    listings: list[ChannelListing] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await connector.fetch_listings(cursor)
        listings += page.listings
        if on_page is not None:
            on_page(len(listings))
        if page.next_cursor is None or page.next_cursor == cursor:
            return listings
        cursor = page.next_cursor
    raise RuntimeError(f"listing sync stopped after {MAX_PAGES} pages: the connector keeps returning a cursor")


async def _decide(session: AsyncSession, shop: str, listing: ChannelListing, catalogue: dict[str, bool],
                  *, rebind_manual: bool, actor: str) -> tuple[Outcome, str | None]:
    code = (listing.merchant_code or "").strip()
    item, sku_id = listing.channel_item_id, listing.channel_sku_id
    if not code:
        return Outcome.NO_CODE, None
    if code not in catalogue:
        return Outcome.UNKNOWN_CODE, None
    if not catalogue[code]:
        return Outcome.INACTIVE_SKU, code
    row = await _find(session, shop, item, sku_id)
    if row is None:
        # The same SKU learned from an order under the item alone (a platform whose order lines
        # carry no SKU id): that binding already pushes this listing.
        same = await session.scalar(select(ListingRow.id).where(
            ListingRow.shop == shop, ListingRow.channel_item_id == item, ListingRow.merchant_sku == code))
        if same is not None:
            return Outcome.ALREADY_BOUND, code
        await _create(session, shop, code, item, sku_id, SYNC, actor)
        return Outcome.BOUND, code
    if row.merchant_sku == code:
        return Outcome.ALREADY_BOUND, code
    if row.source == MANUAL and not rebind_manual:
        return Outcome.KEPT_MANUAL, row.merchant_sku
    await _rebind(session, row, code, SYNC, actor)
    return Outcome.BOUND, code


async def bind_listings(hub: Any, shop: str, listings: Sequence[ChannelListing], *, actor: str = "listing-sync",
                        rebind_manual: bool = False) -> SyncReport:
    """Bind ``listings`` (all of a shop's, as one sync saw them) in one transaction, record each
    with its outcome, and push the newly bound ones."""
    report = SyncReport(shop)
    codes = {(item.merchant_code or "").strip() for item in listings} - {""}
    now = _now()
    async with hub.database().transaction() as session:
        catalogue = {sku: bool(active) for sku, active in (await session.execute(
            select(SkuRow.merchant_sku, SkuRow.active).where(SkuRow.merchant_sku.in_(codes)))).all()} if codes else {}
        seen_rows: dict[tuple[str, str], dict[str, Any]] = {}
        for listing in listings:
            outcome, sku = await _decide(session, shop, listing, catalogue, rebind_manual=rebind_manual, actor=actor)
            report.seen += 1
            report.outcomes[outcome.value] = report.outcomes.get(outcome.value, 0) + 1
            if outcome is Outcome.BOUND:
                report.bound += 1
            elif outcome is Outcome.ALREADY_BOUND:
                report.already_bound += 1
            elif outcome is Outcome.KEPT_MANUAL:
                report.kept_manual += 1
            else:
                report.unmatched.append((listing, outcome))
            seen_rows[(listing.channel_item_id, listing.channel_sku_id)] = {
                "shop": shop, "channel_item_id": listing.channel_item_id, "channel_sku_id": listing.channel_sku_id,
                "merchant_code": listing.merchant_code, "title": listing.title[:10_000], "quantity": listing.quantity,
                "status": listing.status.value, "outcome": outcome.value, "merchant_sku": sku, "seen_at": now}
        # What the shop lists now replaces what it listed at the last sync.
        await session.execute(delete(ShopListingRow).where(ShopListingRow.shop == shop))
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        rows = list(seen_rows.values())
        for start in range(0, len(rows), 500):
            await session.execute(upsert(ShopListingRow, dialect, rows[start:start + 500],
                                         ["shop", "channel_item_id", "channel_sku_id"],
                                         ["merchant_code", "title", "quantity", "status", "outcome", "merchant_sku",
                                          "seen_at"]))
    if report.bound:
        await scheduling.schedule_push(hub, {shop})
    log.info("listings.synced", shop=shop, seen=report.seen, bound=report.bound, unmatched=len(report.unmatched),
             kept_manual=report.kept_manual)
    return report


async def sync_shop(hub: Any, shop: str, *, rebind_manual: bool = False, actor: str = "listing-sync",
                    on_page: Callable[[int], None] | None = None) -> SyncReport:
    """Pull every listing of ``shop`` and bind each whose merchant code names a catalogue SKU."""
    config = _shop_config(hub, shop)
    cls = hub.plugins.channel_class(config.platform)
    if cls is None or Capability.LIST_LISTINGS not in getattr(cls, "capabilities", frozenset()):
        return SyncReport(shop, skipped=f"the {config.platform} connector cannot list listings (no LIST_LISTINGS)")
    if not config.enabled:
        return SyncReport(shop, skipped="the shop is disabled")
    connector = hub.accounts().channel(shop)
    listings = await fetch_all_listings(connector, on_page=on_page)
    return await bind_listings(hub, shop, listings, actor=actor, rebind_manual=rebind_manual)
