"""The stock model: SKU catalogue, listings, on hand per warehouse, the ledger, adjustments and
the reservation primitives (docs/architecture.md §6).

Every function here works inside the caller's transaction (an ``AsyncSession``) and writes a
``stock_ledger`` row for every movement. A reservation is one conditional ``UPDATE`` (never
read-then-write); release and consume are conditional state transitions of the reservation row,
so each happens exactly once whatever the order and repetition of events. Not for what a shop
shows (``hub.services.allocation``, ``hub.services.stock_sync``) nor for order events
(``hub.services.stock_effects``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChangeCause
from hub.db import idempotency
from hub.db.tables import (
    BundleComponentRow,
    ChannelStockRow,
    ListingRow,
    ReservationRow,
    SkuRow,
    StockLedgerRow,
    StockRow,
)
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError

#: Reservation states. ``short`` is a line that could not be reserved yet (the order is on a
#: "stock short" hold); it holds no stock and can still become active, released or consumed.
ACTIVE, RELEASED, CONSUMED, SHORT = "active", "released", "consumed", "short"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _now() -> datetime:
    return datetime.now(UTC)


def check_quantity(value: Any, field_name: str, *, allow_negative: bool = False, allow_zero: bool = True) -> int:
    """An int quantity or ``BadInputError`` naming the field (bools, floats and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInputError(f"{field_name} must be a whole number, got {value!r}", field=field_name)
    if value < 0 and not allow_negative:
        raise BadInputError(f"{field_name} must not be negative, got {value}", field=field_name)
    if value == 0 and not allow_zero:
        raise BadInputError(f"{field_name} must not be zero", field=field_name)
    return value


# --------------------------------------------------------------------------- catalogue


async def define_sku(
    session: AsyncSession,
    merchant_sku: str,
    *,
    name: str = "",
    product_code: str | None = None,
    stock_group: str | None = None,
    safety_stock: int = 0,
    low_stock_threshold: int | None = None,
    components: Mapping[str, int] | None = None,
) -> None:
    """Create or update a catalogue SKU; ``components`` (SKU → quantity) makes it a bundle."""
    if not merchant_sku.strip():
        raise BadInputError("merchant SKU must not be empty", field="merchant_sku")
    check_quantity(safety_stock, "safety_stock")
    if low_stock_threshold is not None:
        check_quantity(low_stock_threshold, "low_stock_threshold")
    values = {"name": name, "product_code": product_code, "stock_group": stock_group,
              "safety_stock": safety_stock, "low_stock_threshold": low_stock_threshold,
              "is_bundle": bool(components)}
    inserted = await session.execute(
        insert_ignore(SkuRow, _dialect(session)).values(merchant_sku=merchant_sku, created_at=_now(), **values)
        .returning(SkuRow.merchant_sku)
    )
    if inserted.scalar_one_or_none() is None:
        await session.execute(update(SkuRow).where(SkuRow.merchant_sku == merchant_sku).values(**values))
    if components:
        for component, qty in components.items():
            check_quantity(qty, f"components.{component}", allow_zero=False)
        known = set((await session.execute(
            select(SkuRow.merchant_sku).where(SkuRow.merchant_sku.in_(list(components)))
        )).scalars())
        unknown = sorted(set(components) - known)
        if unknown:
            raise BadInputError(f"bundle {merchant_sku!r}: unknown component SKU(s) {unknown}", field="components")
        for component, qty in components.items():
            added = await session.execute(
                insert_ignore(BundleComponentRow, _dialect(session))
                .values(bundle_sku=merchant_sku, component_sku=component, quantity=qty)
                .returning(BundleComponentRow.id)
            )
            if added.scalar_one_or_none() is None:
                await session.execute(update(BundleComponentRow).where(
                    BundleComponentRow.bundle_sku == merchant_sku, BundleComponentRow.component_sku == component
                ).values(quantity=qty))


async def add_listing(
    session: AsyncSession,
    shop: str,
    merchant_sku: str,
    channel_item_id: str,
    channel_sku_id: str = "",
    policy: Mapping[str, Any] | None = None,
) -> int:
    """Record that ``merchant_sku`` is listed in ``shop``; returns the listing id (idempotent).

    The listing starts dirty, so the next push sets its value in the shop.
    """
    await require_skus(session, [merchant_sku], "merchant_sku")
    dialect = _dialect(session)
    await session.execute(insert_ignore(ListingRow, dialect).values(
        shop=shop, merchant_sku=merchant_sku, channel_item_id=channel_item_id, channel_sku_id=channel_sku_id,
        policy=dict(policy or {}),
    ))
    listing_id = await session.scalar(select(ListingRow.id).where(
        ListingRow.shop == shop, ListingRow.channel_item_id == channel_item_id,
        ListingRow.channel_sku_id == channel_sku_id,
    ))
    assert listing_id is not None
    await session.execute(insert_ignore(ChannelStockRow, dialect).values(
        listing_id=listing_id, shop=shop, merchant_sku=merchant_sku, dirty=True, dirty_since=_now(),
    ))
    return int(listing_id)


async def require_skus(session: AsyncSession, skus: Iterable[str], field_name: str) -> None:
    wanted = set(skus)
    known = set((await session.execute(select(SkuRow.merchant_sku).where(SkuRow.merchant_sku.in_(wanted)))).scalars())
    missing = sorted(wanted - known)
    if missing:
        raise BadInputError(f"unknown SKU {missing[0]!r}; add it to the catalogue first", field=field_name)


async def bundles_containing(session: AsyncSession, skus: Iterable[str]) -> set[str]:
    """The bundle SKUs with any of ``skus`` as a component."""
    rows = await session.execute(
        select(BundleComponentRow.bundle_sku).where(BundleComponentRow.component_sku.in_(set(skus)))
    )
    return set(rows.scalars())


async def components_of(session: AsyncSession, skus: Iterable[str]) -> dict[str, dict[str, int]]:
    """Bundle SKU → {component SKU: quantity per bundle}, for the bundles among ``skus``."""
    rows = await session.execute(
        select(BundleComponentRow.bundle_sku, BundleComponentRow.component_sku, BundleComponentRow.quantity)
        .where(BundleComponentRow.bundle_sku.in_(set(skus)))
    )
    out: dict[str, dict[str, int]] = {}
    for bundle, component, qty in rows:
        out.setdefault(bundle, {})[component] = qty
    return out


# --------------------------------------------------------------------------- availability


@dataclass(frozen=True)
class SkuStock:
    """One SKU's stock across warehouses, as the API and allocation see it."""

    merchant_sku: str
    on_hand: dict[str, int]
    reserved: dict[str, int]
    safety_stock: int
    available: int
    low_stock_threshold: int | None
    is_bundle: bool = False
    product_code: str | None = None
    stock_group: str | None = None

    @property
    def low(self) -> bool:
        return self.low_stock_threshold is not None and self.available <= self.low_stock_threshold


async def stock_of(
    session: AsyncSession, skus: Iterable[str], *, default_low_threshold: int | None = None
) -> dict[str, SkuStock]:
    """Stock of each known SKU among ``skus``: available = Σ on hand − Σ reserved − safety stock
    (never below 0); a bundle's is the minimum over components of available // quantity."""
    wanted = set(skus)
    catalogue = {r.merchant_sku: r for r in (await session.execute(
        select(SkuRow).where(SkuRow.merchant_sku.in_(wanted))
    )).scalars()}
    components = await components_of(session, [s for s, r in catalogue.items() if r.is_bundle])
    needed = wanted | {c for comps in components.values() for c in comps}
    extra = needed - set(catalogue)
    if extra:
        for component in (await session.execute(select(SkuRow).where(SkuRow.merchant_sku.in_(extra)))).scalars():
            catalogue[component.merchant_sku] = component
    per_wh: dict[str, tuple[dict[str, int], dict[str, int]]] = {s: ({}, {}) for s in needed}
    for sku, wh, on_hand, reserved in await session.execute(
        select(StockRow.merchant_sku, StockRow.warehouse, StockRow.on_hand, StockRow.reserved)
        .where(StockRow.merchant_sku.in_(needed))
    ):
        per_wh[sku][0][wh] = on_hand
        per_wh[sku][1][wh] = reserved

    def plain_available(sku: str) -> int:
        entry = catalogue.get(sku)
        on, res = per_wh.get(sku, ({}, {}))
        return max(0, sum(on.values()) - sum(res.values()) - (entry.safety_stock if entry else 0))

    out: dict[str, SkuStock] = {}
    for sku in wanted:
        row = catalogue.get(sku)
        if row is None:
            continue
        if row.is_bundle:
            comps = components.get(sku, {})
            raw = min((plain_available(c) // q for c, q in comps.items()), default=0)
            available = max(0, raw - row.safety_stock)
        else:
            available = plain_available(sku)
        threshold = row.low_stock_threshold if row.low_stock_threshold is not None else default_low_threshold
        on, res = per_wh.get(sku, ({}, {}))
        out[sku] = SkuStock(sku, dict(on), dict(res), row.safety_stock, available, threshold, row.is_bundle,
                            row.product_code, row.stock_group)
    return out


# --------------------------------------------------------------------------- adjustments


@dataclass(frozen=True)
class Adjustment:
    """One stock change asked for by a person or a file: ``delta`` (±) or an absolute ``on_hand``."""

    warehouse: str
    merchant_sku: str
    delta: int | None = None
    on_hand: int | None = None
    note: str | None = None


def parse_adjustment(raw: Mapping[str, Any], where: str = "") -> Adjustment:
    """Validate one adjustment given as a mapping; errors name ``where`` and the field."""
    prefix = f"{where}: " if where else ""

    def bad(msg: str, fld: str) -> BadInputError:
        return BadInputError(f"{prefix}{msg}", field=fld)

    warehouse = raw.get("warehouse")
    sku = raw.get("merchant_sku")
    if not isinstance(warehouse, str) or not warehouse.strip():
        raise bad("warehouse is required", "warehouse")
    if not isinstance(sku, str) or not sku.strip():
        raise bad("merchant_sku is required", "merchant_sku")
    delta, on_hand = raw.get("delta"), raw.get("on_hand")
    if (delta is None) == (on_hand is None):
        raise bad("give exactly one of delta or on_hand", "delta")
    try:
        if delta is not None:
            check_quantity(delta, "delta", allow_negative=True, allow_zero=False)
        if on_hand is not None:
            check_quantity(on_hand, "on_hand")
    except BadInputError as exc:
        raise bad(str(exc), exc.field or "quantity") from exc
    note = raw.get("note")
    return Adjustment(warehouse.strip(), sku.strip(), delta, on_hand, note if isinstance(note, str) else None)


async def adjustment_problems(
    session: AsyncSession, adjustments: Sequence[Adjustment], warehouses: set[str]
) -> list[tuple[int, str, str]]:
    """(index, field, message) for every adjustment naming an unknown warehouse or SKU, or a bundle."""
    wanted = sorted({a.merchant_sku for a in adjustments})
    catalogue: dict[str, bool] = {}
    for start in range(0, len(wanted), 1000):  # bounded IN lists, whatever the file's size
        catalogue.update((r.merchant_sku, r.is_bundle) for r in (await session.execute(
            select(SkuRow).where(SkuRow.merchant_sku.in_(wanted[start:start + 1000])))).scalars())
    problems: list[tuple[int, str, str]] = []
    for i, adj in enumerate(adjustments):
        if adj.warehouse not in warehouses:
            problems.append((i, "warehouse", f"unknown warehouse {adj.warehouse!r}; known: {sorted(warehouses)}"))
        if adj.merchant_sku not in catalogue:
            problems.append((i, "merchant_sku", f"unknown SKU {adj.merchant_sku!r}; add it to the catalogue first"))
        elif catalogue[adj.merchant_sku]:
            problems.append((i, "merchant_sku", f"{adj.merchant_sku!r} is a bundle; adjust its components"))
    return problems


async def validate_adjustments(
    session: AsyncSession, adjustments: Sequence[Adjustment], warehouses: set[str], labels: Sequence[str] | None = None
) -> None:
    """Check warehouses and SKUs of every adjustment before any is applied (bundles refused)."""
    problems = await adjustment_problems(session, adjustments, warehouses)
    if problems:
        i, field_name, message = problems[0]
        label = labels[i] if labels else f"adjustment {i + 1}"
        raise BadInputError(f"{label}: {message}", field=field_name)


async def apply_adjustment(
    session: AsyncSession,
    adj: Adjustment,
    *,
    cause: StockChangeCause = StockChangeCause.ADJUSTMENT,
    reference: str | None = None,
    actor: str | None = None,
    label: str = "adjustment",
) -> int:
    """Apply one validated adjustment; returns the on-hand delta. Never leaves on hand below what
    is reserved for orders (``BadInputError``: the caller's transaction must roll back)."""
    await session.execute(insert_ignore(StockRow, _dialect(session)).values(
        warehouse=adj.warehouse, merchant_sku=adj.merchant_sku, on_hand=0, reserved=0, updated_at=_now()))
    where = (StockRow.warehouse == adj.warehouse, StockRow.merchant_sku == adj.merchant_sku)
    if adj.delta is not None:
        delta = adj.delta
        result = await session.execute(
            update(StockRow).where(*where, StockRow.on_hand + delta >= StockRow.reserved)
            .values(on_hand=StockRow.on_hand + delta, updated_at=_now())
            .execution_options(synchronize_session=False)
        )
        changed = _rowcount(result) == 1
    else:
        target = adj.on_hand if adj.on_hand is not None else 0
        current = await session.execute(select(StockRow.on_hand, StockRow.reserved).where(*where))
        old, _ = current.one()
        delta = target - old
        # Conditional on the value just read: a concurrent change makes this a no-op, reported below.
        result = await session.execute(
            update(StockRow).where(*where, StockRow.on_hand == old, StockRow.reserved <= target)
            .values(on_hand=target, updated_at=_now()).execution_options(synchronize_session=False)
        )
        changed = _rowcount(result) == 1
    if not changed:
        on_hand, reserved = (await session.execute(select(StockRow.on_hand, StockRow.reserved).where(*where))).one()
        raise BadInputError(
            f"{label}: {adj.merchant_sku!r} in {adj.warehouse!r} would have {on_hand + delta} on hand, below the "
            f"{reserved} reserved for orders (on hand now {on_hand}); release or ship those orders first",
            field="delta" if adj.delta is not None else "on_hand",
        )
    if delta:
        session.add(StockLedgerRow(at=_now(), warehouse=adj.warehouse, merchant_sku=adj.merchant_sku,
                                   on_hand_delta=delta, reserved_delta=0, cause=cause.value, reference=reference,
                                   actor=actor, note=adj.note))
    return delta


# --------------------------------------------------------------------------- reservations


class ReserveOutcome(StrEnum):
    RESERVED = "reserved"  # stock taken now
    ALREADY = "already"  # a repeat: the line was reserved, released or consumed before
    SHORT = "short"  # not enough stock in any one warehouse: the line waits


@dataclass(frozen=True)
class LineNeed:
    """What one order line needs from one stock SKU (a bundle line becomes one need per component)."""

    key: str  # the reservation's line key: the line id, or "line/component" for a bundle part
    merchant_sku: str
    quantity: int


@dataclass
class ReserveResult:
    outcome: ReserveOutcome
    warehouse: str | None = None
    first_time: bool = False  # this call created the reservation row (the platform just took stock)
    available: int = 0
    needed: int = 0
    touched: set[str] = field(default_factory=set)


def _ledger(sku: str, warehouse: str | None, on_hand: int, reserved: int, cause: StockChangeCause,
            order_id: int, note: str | None = None) -> StockLedgerRow:
    return StockLedgerRow(at=_now(), warehouse=warehouse, merchant_sku=sku, on_hand_delta=on_hand,
                          reserved_delta=reserved, cause=cause.value, reference=f"order:{order_id}", note=note)


async def _take(session: AsyncSession, sku: str, qty: int, warehouses: Sequence[str]) -> str | None:
    """The conditional UPDATE: reserve ``qty`` in the first warehouse that has it; its name or None."""
    for wh in warehouses:
        result = await session.execute(
            update(StockRow)
            .where(StockRow.warehouse == wh, StockRow.merchant_sku == sku, StockRow.on_hand - StockRow.reserved >= qty)
            .values(reserved=StockRow.reserved + qty, updated_at=_now())
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 1:
            return wh
    return None


async def _candidate_warehouses(session: AsyncSession, sku: str, priority: Mapping[str, int]) -> list[str]:
    names = (await session.execute(select(StockRow.warehouse).where(StockRow.merchant_sku == sku))).scalars()
    return sorted(names, key=lambda w: (priority.get(w, 1000), w))


async def reserve_line(
    session: AsyncSession, order_id: int, need: LineNeed, *, priority: Mapping[str, int] | None = None
) -> ReserveResult:
    """Reserve one line need exactly once: INSERT the reservation (ignored on conflict, so a
    repeat — or a cancel that came first and left a tombstone — is a no-op), then the conditional
    UPDATE on stock. A line without stock becomes ``short``; calling again retries it."""
    priority = priority or {}
    inserted = await session.execute(
        insert_ignore(ReservationRow, _dialect(session)).values(
            order_id=order_id, line_external_id=need.key, merchant_sku=need.merchant_sku, quantity=need.quantity,
            state=ACTIVE, created_at=_now(), updated_at=_now(),
        ).returning(ReservationRow.id)
    )
    res_id = inserted.scalar_one_or_none()
    first_time = res_id is not None
    if res_id is None:
        # Retry a short line: claim it (short → active), then take stock; undone in-transaction if none.
        existing = (await session.execute(select(ReservationRow.id).where(
            ReservationRow.order_id == order_id, ReservationRow.line_external_id == need.key,
            ReservationRow.state == SHORT))).scalar_one_or_none()
        if existing is None:
            return ReserveResult(ReserveOutcome.ALREADY)
        claimed = await session.execute(
            update(ReservationRow).where(ReservationRow.id == existing, ReservationRow.state == SHORT)
            .values(state=ACTIVE, updated_at=_now()).execution_options(synchronize_session=False))
        if _rowcount(claimed) != 1:
            return ReserveResult(ReserveOutcome.ALREADY)
        res_id = existing
    warehouse = await _take(session, need.merchant_sku, need.quantity,
                            await _candidate_warehouses(session, need.merchant_sku, priority))
    if warehouse is None:
        await session.execute(update(ReservationRow).where(ReservationRow.id == res_id)
                              .values(state=SHORT, updated_at=_now()).execution_options(synchronize_session=False))
        stock = await stock_of(session, [need.merchant_sku])
        available = stock[need.merchant_sku].available if need.merchant_sku in stock else 0
        return ReserveResult(ReserveOutcome.SHORT, first_time=first_time, available=available, needed=need.quantity)
    await session.execute(update(ReservationRow).where(ReservationRow.id == res_id)
                          .values(warehouse=warehouse).execution_options(synchronize_session=False))
    session.add(_ledger(need.merchant_sku, warehouse, 0, need.quantity, StockChangeCause.ORDER_RESERVED, order_id,
                        note=need.key))
    return ReserveResult(ReserveOutcome.RESERVED, warehouse, first_time, needed=need.quantity,
                         touched={need.merchant_sku})


async def _finish(
    session: AsyncSession, order_id: int, needs: Sequence[LineNeed], to_state: str, moved: set[str] | None = None
) -> set[str]:
    """Move every active or short reservation of the order to ``to_state`` exactly once, adjusting
    stock for the active ones; lines never reserved get a tombstone so a later reserve is a no-op.
    ``moved`` collects the line keys this call moved (active or short ones: sales taken in)."""
    touched: set[str] = set()
    rows = (await session.execute(select(ReservationRow).where(
        ReservationRow.order_id == order_id, ReservationRow.state.in_([ACTIVE, SHORT])))).scalars().all()
    for row in rows:
        moved_now = await session.execute(
            update(ReservationRow).where(ReservationRow.id == row.id, ReservationRow.state == row.state)
            .values(state=to_state, updated_at=_now()).execution_options(synchronize_session=False))
        if _rowcount(moved_now) != 1:
            continue  # someone else moved it
        if moved is not None:
            moved.add(row.line_external_id)
        if row.state == SHORT or row.warehouse is None:
            continue  # it never held stock
        on_hand_delta = -row.quantity if to_state == CONSUMED else 0
        await session.execute(
            update(StockRow).where(StockRow.warehouse == row.warehouse, StockRow.merchant_sku == row.merchant_sku)
            .values(reserved=StockRow.reserved - row.quantity, on_hand=StockRow.on_hand + on_hand_delta,
                    updated_at=_now()).execution_options(synchronize_session=False))
        cause = StockChangeCause.ORDER_SHIPPED if to_state == CONSUMED else StockChangeCause.ORDER_RELEASED
        session.add(_ledger(row.merchant_sku, row.warehouse, on_hand_delta, -row.quantity, cause, order_id,
                            note=row.line_external_id))
        touched.add(row.merchant_sku)
    for need in needs:
        await session.execute(insert_ignore(ReservationRow, _dialect(session)).values(
            order_id=order_id, line_external_id=need.key, merchant_sku=need.merchant_sku, quantity=need.quantity,
            state=to_state, created_at=_now(), updated_at=_now()))
    return touched


async def release_reservations(session: AsyncSession, order_id: int, needs: Sequence[LineNeed],
                               moved: set[str] | None = None) -> set[str]:
    """Cancel/close: give back what the order holds, once. Returns the SKUs whose stock moved;
    ``moved`` collects the line keys released by this call."""
    return await _finish(session, order_id, needs, RELEASED, moved)


async def consume_reservations(session: AsyncSession, order_id: int, needs: Sequence[LineNeed]) -> set[str]:
    """Shipped: what the order holds leaves the warehouse (on hand and reserved both drop), once."""
    return await _finish(session, order_id, needs, CONSUMED)


async def count_reservations(session: AsyncSession, order_id: int) -> dict[str, int]:
    rows = await session.execute(select(ReservationRow.state, func.count()).where(
        ReservationRow.order_id == order_id).group_by(ReservationRow.state))
    return {state: int(n) for state, n in rows}


# --------------------------------------------------------------------------- adjustments and imports


def known_warehouses(config: Any) -> set[str]:
    """The configured warehouses; with none configured, the embedded default's single ``default``."""
    return set(config.warehouses) or {"default"}


@dataclass
class ImportProblem:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class StockImportError(BadInputError):
    """A stock file with bad rows; ``problems`` names each row and field. Nothing was applied."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"nothing imported: {first}{more}", field=first.field)
        self.problems = problems


CSV_COLUMNS = ("warehouse", "merchant_sku")


def parse_stock_csv(text: str) -> tuple[list[Adjustment], list[str]]:
    """Rows of ``warehouse,merchant_sku,on_hand`` (absolute count) and/or ``delta`` (±), plus an
    optional ``note``; returns adjustments and their labels ("row N", N = line in the file).
    Raises ``StockImportError`` listing every bad row."""
    rows = parse_stock_rows(text)
    return [adj for _, adj in rows], [f"row {number}" for number, _ in rows]


def parse_stock_rows(text: str) -> list[tuple[int, Adjustment]]:
    """``parse_stock_csv``'s rows with their row numbers (the header is row 1)."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    problems: list[ImportProblem] = []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing or not ({"on_hand", "delta"} & set(header)):
        need = missing or ["on_hand or delta"]
        raise StockImportError([ImportProblem(1, need[0], f"missing column(s) {need}; header is {header}")])
    parsed: list[tuple[int, Adjustment]] = []
    for index, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        values: dict[str, Any] = {"warehouse": row.get("warehouse"), "merchant_sku": row.get("merchant_sku"),
                                  "note": row.get("note") or None}
        bad = False
        for column in ("on_hand", "delta"):
            text_value = row.get(column, "")
            if text_value == "":
                continue
            try:
                values[column] = int(text_value)
            except ValueError:
                problems.append(ImportProblem(index, column, f"must be a whole number, got {text_value!r}"))
                bad = True
        if bad:
            continue
        try:
            parsed.append((index, parse_adjustment(values)))
        except BadInputError as exc:
            problems.append(ImportProblem(index, exc.field or "row", str(exc)))
    if problems:
        raise StockImportError(problems)
    return parsed


@dataclass
class AdjustReport:
    applied: int = 0
    on_hand_delta: int = 0
    skus: set[str] = field(default_factory=set)
    shops: set[str] = field(default_factory=set)
    #: True when the idempotency key was used before: nothing was applied, the figures are the first call's.
    repeated: bool = False

    def record(self) -> dict[str, Any]:
        return {"applied": self.applied, "on_hand_delta": self.on_hand_delta, "skus": sorted(self.skus),
                "shops": sorted(self.shops)}

    @classmethod
    def recalled(cls, record: Mapping[str, Any]) -> AdjustReport:
        return cls(applied=int(record.get("applied", 0)), on_hand_delta=int(record.get("on_hand_delta", 0)),
                   skus=set(record.get("skus", ())), shops=set(record.get("shops", ())), repeated=True)


async def adjust_stock(
    hub: Any,
    adjustments: Sequence[Adjustment],
    *,
    actor: str | None,
    cause: StockChangeCause = StockChangeCause.ADJUSTMENT,
    reference: str | None = None,
    labels: Sequence[str] | None = None,
    on_applied: Any = None,
    idempotency_key: str | None = None,
) -> AdjustReport:
    """Validate every adjustment, then apply them all in one transaction (all or nothing), mark
    the shops dirty and, after commit, schedule pushes and notify ``stock_changed``.

    With ``idempotency_key``, the key is claimed in the same transaction: a second call with it
    (a form sent twice, a client retrying) applies nothing and returns the first call's report
    marked ``repeated``; a call that failed (and so rolled back) leaves the key free."""
    from hub.services import stock_effects, stock_sync

    report = AdjustReport()
    async with hub.database().transaction() as session:
        if idempotency_key is not None and not await idempotency.claim(session, idempotency_key):
            return AdjustReport.recalled(await idempotency.recall(session, idempotency_key) or {})
        await validate_adjustments(session, adjustments, known_warehouses(hub.config), labels)
        for i, adj in enumerate(adjustments):
            label = labels[i] if labels else f"adjustment {i + 1}"
            report.on_hand_delta += await apply_adjustment(session, adj, cause=cause, reference=reference,
                                                           actor=actor, label=label)
            report.applied += 1
            report.skus.add(adj.merchant_sku)
            if on_applied is not None:
                on_applied(i)
        report.shops = await stock_sync.mark_dirty(session, report.skus)
        if idempotency_key is not None:
            await idempotency.remember(session, idempotency_key, report.record())
    await stock_sync.schedule_push(hub, report.shops)
    await stock_effects.notify_stock_changed(hub, report.skus)
    await retry_short_orders(hub, report.skus)
    return report


class _Rehearsed(Exception):
    """Raised to roll a rehearsal back once every adjustment applied."""


async def rehearse_adjustments(hub: Any, adjustments: Sequence[Adjustment], *,
                               labels: Sequence[str] | None = None) -> int:
    """Run every check ``adjust_stock`` runs — warehouses, SKUs, bundles, and each row applied in
    turn against what is reserved — in a transaction that is then rolled back: the same errors,
    nothing written (``--dry-run``). Returns how many adjustments would apply."""
    try:
        async with hub.database().transaction() as session:
            await validate_adjustments(session, adjustments, known_warehouses(hub.config), labels)
            for i, adj in enumerate(adjustments):
                await apply_adjustment(session, adj, label=labels[i] if labels else f"adjustment {i + 1}")
            raise _Rehearsed
    except _Rehearsed:
        return len(adjustments)


async def retry_short_orders(hub: Any, skus: Iterable[str], limit: int = 200) -> int:
    """Stock arrived: try again, oldest first, the orders whose lines of ``skus`` were short."""
    from hub.services import stock_effects

    async with hub.database().session() as session:
        order_ids = list((await session.execute(
            select(ReservationRow.order_id).where(ReservationRow.merchant_sku.in_(set(skus)),
                                                  ReservationRow.state == SHORT)
            .group_by(ReservationRow.order_id).order_by(ReservationRow.order_id).limit(limit))).scalars())
    for order_id in order_ids:
        await stock_effects.reserve_order(hub, order_id)
    return len(order_ids)
