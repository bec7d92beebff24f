"""The merchant's catalogue: create, update, deactivate and list SKUs and bundles, and the catalogue
CSV (import all rows or none, export the same columns back; a column a file leaves out keeps each
existing SKU's value, an empty cell clears it).

A bundle is a SKU made of other SKUs with a quantity each (``bundle_components``); its stock is
counted from its components (``hub.services.stock.levels``), so a bundle's components are
plain, active SKUs, never bundles, and a SKU that holds stock cannot become a bundle. Every write
names who made it (``updated_by``); a change that moves what shops should show (safety stock,
components, the stock group) marks the SKU's listings dirty so the new value is pushed. Not for
stock counts (``hub.services.stock``) nor for listings (``hub.services.listings``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import MAX_QUANTITY, BundleComponentRow, SkuRow, StockRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, FileRowsError, NotFoundError
from hub.services.stock import scheduling

#: The catalogue CSV's columns, in order; export writes exactly these, import reads them.
CSV_COLUMNS = ("merchant_sku", "name", "product_code", "stock_group", "safety_stock", "low_stock_threshold",
               "active", "components")
#: Fields a PATCH may change (``merchant_sku`` is the key and never changes).
EDITABLE = ("name", "product_code", "stock_group", "safety_stock", "low_stock_threshold", "components")
#: Fields whose change moves what shops should show: the SKU's listings are pushed again.
MOVES_STOCK = frozenset({"stock_group", "safety_stock", "components", "active"})
#: The fields a catalogue file may leave out (its header lacks the column) to keep a SKU's value.
KEPT_WHEN_ABSENT = (*EDITABLE, "active")
MAX_SKU_LENGTH = 200


class DuplicateSkuError(BadInputError):
    """The SKU is in the catalogue already (HTTP 409)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class SkuDraft:
    """A SKU as a person or a file describes it, checked field by field (``check_draft``)."""

    merchant_sku: str
    name: str = ""
    product_code: str | None = None
    stock_group: str | None = None
    safety_stock: int = 0
    low_stock_threshold: int | None = None
    active: bool = True
    components: dict[str, int] = field(default_factory=dict)  # empty: a plain SKU
    #: The fields a catalogue file gave (its header); ``None``: every field (an API body, a stored
    #: SKU). For a SKU already in the catalogue, a field the file did not give keeps its stored
    #: value (``keep_absent_fields``); a new SKU gets the defaults above.
    columns: frozenset[str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SkuView:
    """A catalogue SKU as the API and CLI show it."""

    merchant_sku: str
    name: str
    product_code: str | None
    stock_group: str | None
    safety_stock: int
    low_stock_threshold: int | None
    active: bool
    is_bundle: bool
    components: dict[str, int]
    created_at: datetime
    updated_at: datetime | None
    updated_by: str | None

    def draft(self) -> SkuDraft:
        return SkuDraft(self.merchant_sku, self.name, self.product_code, self.stock_group, self.safety_stock,
                        self.low_stock_threshold, self.active, dict(self.components))


def _text(raw: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 200) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise BadInputError(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise BadInputError(f"{name} must be text, got {value!r}", field=name)
    value = value.strip()
    if required and not value:
        raise BadInputError(f"{name} must not be empty", field=name)
    if len(value) > limit:
        raise BadInputError(f"{name} is longer than {limit} characters", field=name)
    return value or None


def _count(raw: Mapping[str, Any], name: str, *, default: int | None) -> int | None:
    value = raw.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInputError(f"{name} must be a whole number, got {value!r}", field=name)
    if value < 0:
        raise BadInputError(f"{name} must not be negative, got {value}", field=name)
    if value > MAX_QUANTITY:
        raise BadInputError(f"{name} must be at most {MAX_QUANTITY}, got {value}", field=name)
    return value


def check_components(raw: Any, merchant_sku: str) -> dict[str, int]:
    """``{component SKU: quantity ≥ 1}``, not naming the bundle itself; ``BadInputError`` otherwise."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BadInputError("components must map component SKU to quantity", field="components")
    out: dict[str, int] = {}
    for sku, qty in raw.items():
        if not isinstance(sku, str) or not sku.strip():
            raise BadInputError("components: a component SKU is empty", field="components")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            raise BadInputError(f"components: quantity of {sku!r} must be a whole number of at least 1, got {qty!r}",
                                field="components")
        if qty > MAX_QUANTITY:
            raise BadInputError(f"components: quantity of {sku!r} must be at most {MAX_QUANTITY}, got {qty}",
                                field="components")
        if sku.strip() == merchant_sku:
            raise BadInputError(f"components: bundle {merchant_sku!r} cannot contain itself", field="components")
        out[sku.strip()] = qty
    return out


def check_draft(raw: Mapping[str, Any]) -> SkuDraft:
    """A ``SkuDraft`` from a mapping (an API body, a parsed CSV row); errors name the field."""
    unknown = sorted(set(raw) - set(CSV_COLUMNS))
    if unknown:
        raise BadInputError(f"unknown field(s) {unknown}; known: {list(CSV_COLUMNS)}", field=unknown[0])
    sku = _text(raw, "merchant_sku", required=True, limit=MAX_SKU_LENGTH)
    assert sku is not None
    active = raw.get("active", True)
    if not isinstance(active, bool):
        raise BadInputError(f"active must be true or false, got {active!r}", field="active")
    return SkuDraft(
        merchant_sku=sku,
        name=_text(raw, "name", limit=10_000) or "",
        product_code=_text(raw, "product_code"),
        stock_group=_text(raw, "stock_group", limit=100),
        safety_stock=_count(raw, "safety_stock", default=0) or 0,
        low_stock_threshold=_count(raw, "low_stock_threshold", default=None),
        active=active,
        components=check_components(raw.get("components"), sku),
    )


def apply_changes(current: SkuDraft, changes: Mapping[str, Any]) -> SkuDraft:
    """``current`` with the PATCH ``changes`` applied and checked (``merchant_sku`` cannot change)."""
    if "merchant_sku" in changes and changes["merchant_sku"] != current.merchant_sku:
        raise BadInputError("merchant_sku cannot change; create a new SKU and deactivate this one",
                            field="merchant_sku")
    unknown = sorted(set(changes) - set(EDITABLE) - {"merchant_sku"})
    if unknown:
        raise BadInputError(f"field(s) {unknown} cannot be changed here; editable: {list(EDITABLE)}",
                            field=unknown[0])
    merged: dict[str, Any] = {**{name: getattr(current, name) for name in CSV_COLUMNS}, **changes,
                              "active": current.active}
    return check_draft(merged)


# --------------------------------------------------------------------------- reads


def _view(row: SkuRow, components: Mapping[str, int]) -> SkuView:
    return SkuView(row.merchant_sku, row.name, row.product_code, row.stock_group, row.safety_stock,
                   row.low_stock_threshold, bool(row.active), bool(row.is_bundle), dict(sorted(components.items())),
                   row.created_at, row.updated_at, row.updated_by)


async def _components(session: AsyncSession, bundles: Iterable[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    wanted = list(set(bundles))
    if not wanted:
        return out
    for bundle, component, qty in await session.execute(
        select(BundleComponentRow.bundle_sku, BundleComponentRow.component_sku, BundleComponentRow.quantity)
        .where(BundleComponentRow.bundle_sku.in_(wanted))
    ):
        out.setdefault(bundle, {})[component] = qty
    return out


async def get_sku(session: AsyncSession, merchant_sku: str) -> SkuView:
    """One SKU with its components; ``NotFoundError`` when it is not in the catalogue."""
    row = await session.get(SkuRow, merchant_sku)
    if row is None:
        raise NotFoundError(f"SKU {merchant_sku!r} is not in the catalogue; add it with `hub catalogue add` "
                            "or POST /api/v1/skus")
    return _view(row, (await _components(session, [merchant_sku])).get(merchant_sku, {}))


async def keep_absent_fields(session: AsyncSession, drafts: Sequence[SkuDraft]) -> list[SkuDraft]:
    """``drafts`` with each field its file did not give (``SkuDraft.columns``) taken from the SKU
    stored now, so a file without a column changes no SKU's value of it; new SKUs keep the defaults."""
    partial = [d.merchant_sku for d in drafts if d.columns is not None and set(KEPT_WHEN_ABSENT) - d.columns]
    if not partial:
        return list(drafts)
    stored = {r.merchant_sku: r for r in (await session.execute(
        select(SkuRow).where(SkuRow.merchant_sku.in_(partial)))).scalars()}
    components = await _components(session, [sku for sku, r in stored.items() if r.is_bundle])
    out: list[SkuDraft] = []
    for draft in drafts:
        row = stored.get(draft.merchant_sku) if draft.columns is not None else None
        if row is None:
            out.append(draft)
            continue
        now = _view(row, components.get(draft.merchant_sku, {})).draft()
        kept = {name: getattr(now, name) for name in KEPT_WHEN_ABSENT if name not in (draft.columns or ())}
        out.append(dataclasses.replace(draft, **kept))
    return out


@dataclass(frozen=True)
class SkuFilter:
    prefix: str | None = None
    search: str | None = None  # in SKU, name or product code
    active: bool | None = None
    is_bundle: bool | None = None
    stock_group: str | None = None
    product_code: str | None = None


async def list_skus(session: AsyncSession, filters: SkuFilter, *, cursor: str | None = None,
                    limit: int = 50) -> tuple[list[SkuView], str | None]:
    """A page of SKUs in SKU order after ``cursor``; returns (page, next cursor or None)."""
    stmt = select(SkuRow).order_by(SkuRow.merchant_sku).limit(limit + 1)
    if cursor:
        stmt = stmt.where(SkuRow.merchant_sku > cursor)
    if filters.prefix:
        stmt = stmt.where(SkuRow.merchant_sku.startswith(filters.prefix, autoescape=True))
    if filters.search:
        needle = filters.search.lower()
        stmt = stmt.where(or_(func.lower(SkuRow.merchant_sku).contains(needle, autoescape=True),
                              func.lower(SkuRow.name).contains(needle, autoescape=True),
                              func.lower(func.coalesce(SkuRow.product_code, "")).contains(needle, autoescape=True)))
    if filters.active is not None:
        stmt = stmt.where(SkuRow.active.is_(filters.active))
    if filters.is_bundle is not None:
        stmt = stmt.where(SkuRow.is_bundle.is_(filters.is_bundle))
    if filters.stock_group is not None:
        stmt = stmt.where(SkuRow.stock_group == filters.stock_group)
    if filters.product_code is not None:
        stmt = stmt.where(SkuRow.product_code == filters.product_code)
    rows = list((await session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    components = await _components(session, [r.merchant_sku for r in rows if r.is_bundle])
    page = [_view(r, components.get(r.merchant_sku, {})) for r in rows]
    return page, (page[-1].merchant_sku if more and page else None)


async def all_skus(session: AsyncSession) -> list[SkuView]:
    """Every SKU, in SKU order (for the export)."""
    out: list[SkuView] = []
    cursor: str | None = None
    while True:
        page, cursor = await list_skus(session, SkuFilter(), cursor=cursor, limit=1000)
        out += page
        if cursor is None:
            return out


# --------------------------------------------------------------------------- checks against the catalogue


@dataclass
class CatalogueProblem:
    """One bad value: ``row`` is the line in a file (or the entry's position), ``field`` its column."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}, field {self.field}: {self.message}"


class CatalogueImportError(FileRowsError):
    """A catalogue file with bad rows (``CatalogueProblem``s); nothing was applied."""

    problems: list[CatalogueProblem]  # type: ignore[assignment]
    #: The rows that did parse, as (drafts, labels), and the SKUs named on rows that did not: what
    #: ``check_catalogue_file`` still checks against the catalogue.
    parsed: tuple[list[SkuDraft], list[str]] = ([], [])
    unparsed_skus: frozenset[str] = frozenset()


async def check_against_catalogue(session: AsyncSession, drafts: Sequence[SkuDraft],
                                  labels: Sequence[str]) -> list[CatalogueProblem]:
    """What the catalogue refuses in ``drafts`` (taken together, as one change): components that
    are unknown, inactive or bundles, and SKUs holding stock that would become bundles."""
    problems: list[CatalogueProblem] = []
    incoming = {d.merchant_sku: d for d in drafts}
    referenced = {c for d in drafts for c in d.components}
    names = set(incoming) | referenced
    stored = {r.merchant_sku: r for r in (await session.execute(
        select(SkuRow).where(SkuRow.merchant_sku.in_(names)))).scalars()} if names else {}
    holding = set((await session.execute(
        select(StockRow.merchant_sku).where(StockRow.merchant_sku.in_(list(incoming)),
                                            (StockRow.on_hand != 0) | (StockRow.reserved != 0))
    )).scalars()) if incoming else set()
    used_in_bundles = set((await session.execute(
        select(BundleComponentRow.component_sku).where(BundleComponentRow.component_sku.in_(list(incoming)))
    )).scalars()) if incoming else set()
    # A bundle may keep a component deactivated after it was made (an export of it must import
    # back); only a component newly added must be active.
    kept = await _components(session, [d.merchant_sku for d in drafts if d.components])
    for draft, label in zip(drafts, labels, strict=True):
        for component in draft.components:
            if component in incoming:
                other = incoming[component]
                is_bundle, active = bool(other.components), other.active
            elif component in stored:
                is_bundle, active = bool(stored[component].is_bundle), bool(stored[component].active)
            else:
                problems.append(CatalogueProblem(label, "components", f"unknown component SKU {component!r}; add it "
                                                                      "to the catalogue first"))
                continue
            if is_bundle:
                problems.append(CatalogueProblem(label, "components", f"component {component!r} is a bundle; a "
                                                                      "bundle is made of plain SKUs"))
            elif not active and component not in kept.get(draft.merchant_sku, {}):
                problems.append(CatalogueProblem(label, "components", f"component {component!r} is deactivated"))
        existing = stored.get(draft.merchant_sku)
        if draft.components and (existing is None or not existing.is_bundle) and draft.merchant_sku in holding:
            problems.append(CatalogueProblem(label, "components", f"{draft.merchant_sku!r} holds stock; count it out "
                                                                  "before making it a bundle"))
        if draft.components and draft.merchant_sku in used_in_bundles:
            problems.append(CatalogueProblem(label, "components", f"{draft.merchant_sku!r} is a component of a "
                                                                  "bundle, so it cannot be a bundle itself"))
    return problems


def _raise_first(problems: list[CatalogueProblem]) -> None:
    if problems:
        first = problems[0]
        if len(problems) == 1:
            raise BadInputError(first.message, field=first.field)
        raise CatalogueImportError(problems)


# --------------------------------------------------------------------------- writes (inside the caller's transaction)


async def _write(session: AsyncSession, draft: SkuDraft, actor: str, *, create_only: bool) -> bool:
    """Insert or update one checked draft and its components; True when it was created."""
    now = _now()
    values = {"name": draft.name, "product_code": draft.product_code, "stock_group": draft.stock_group,
              "safety_stock": draft.safety_stock, "low_stock_threshold": draft.low_stock_threshold,
              "is_bundle": bool(draft.components), "active": draft.active, "updated_at": now, "updated_by": actor}
    inserted = await session.execute(
        insert_ignore(SkuRow, _dialect(session), ["merchant_sku"])
        .values(merchant_sku=draft.merchant_sku, created_at=now, **values).returning(SkuRow.merchant_sku))
    created = inserted.scalar_one_or_none() is not None
    if not created:
        if create_only:
            raise DuplicateSkuError(f"SKU {draft.merchant_sku!r} is already in the catalogue; change it with PATCH "
                                    "or `hub catalogue update`", field="merchant_sku")
        await session.execute(update(SkuRow).where(SkuRow.merchant_sku == draft.merchant_sku).values(**values)
                              .execution_options(synchronize_session=False))
    await session.execute(delete(BundleComponentRow).where(BundleComponentRow.bundle_sku == draft.merchant_sku))
    for component, qty in sorted(draft.components.items()):
        session.add(BundleComponentRow(bundle_sku=draft.merchant_sku, component_sku=component, quantity=qty))
    await session.flush()
    return created


async def _mark(session: AsyncSession, skus: Iterable[str]) -> set[str]:
    return await scheduling.mark_dirty(session, skus)


async def _after_commit(hub: Any, shops: set[str]) -> None:
    if shops:
        await scheduling.schedule_push(hub, shops)


async def create_sku(hub: Any, draft: SkuDraft, *, actor: str) -> SkuView:
    """Add ``draft`` to the catalogue; ``DuplicateSkuError`` when the SKU exists."""
    async with hub.database().transaction() as session:
        _raise_first(await check_against_catalogue(session, [draft], [draft.merchant_sku]))
        await _write(session, draft, actor, create_only=True)
        view = await get_sku(session, draft.merchant_sku)
    return view


async def update_sku(hub: Any, merchant_sku: str, changes: Mapping[str, Any], *, actor: str) -> SkuView:
    """Change the given fields of a SKU (``NotFoundError`` when it is not in the catalogue)."""
    async with hub.database().transaction() as session:
        current = await get_sku(session, merchant_sku)
        draft = apply_changes(current.draft(), changes)
        _raise_first(await check_against_catalogue(session, [draft], [merchant_sku]))
        await _write(session, draft, actor, create_only=False)
        shops = await _mark(session, [merchant_sku]) if MOVES_STOCK & set(changes) else set()
        view = await get_sku(session, merchant_sku)
    await _after_commit(hub, shops)
    return view


async def set_active(hub: Any, merchant_sku: str, active: bool, *, actor: str) -> SkuView:
    """Deactivate (``active=False``) or reactivate a SKU. A deactivated SKU keeps its history and
    listings; it takes no new listings, and bundles cannot be made of it."""
    async with hub.database().transaction() as session:
        await get_sku(session, merchant_sku)
        await session.execute(update(SkuRow).where(SkuRow.merchant_sku == merchant_sku)
                              .values(active=active, updated_at=_now(), updated_by=actor)
                              .execution_options(synchronize_session=False))
        view = await get_sku(session, merchant_sku)
    return view


# --------------------------------------------------------------------------- the CSV


def format_components(components: Mapping[str, int]) -> str:
    """``SKU-A*2;SKU-B*1`` (sorted), the CSV form of a bundle's components."""
    return ";".join(f"{sku}*{qty}" for sku, qty in sorted(components.items()))


def parse_components(text: str) -> dict[str, int]:
    """``SKU-A*2;SKU-B`` (a missing quantity is 1) → ``{"SKU-A": 2, "SKU-B": 1}``; the CSV's and the console's form."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        sku, star, qty = part.rpartition("*")
        if not star:
            sku, qty = part, "1"
        try:
            number = int(qty)
        except ValueError:
            raise BadInputError(f"{part!r} is not SKU*quantity", field="components") from None
        if sku.strip() in out:
            raise BadInputError(f"component {sku.strip()!r} is named twice", field="components")
        out[sku.strip()] = number
    return out


def _csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """One CSV row as a draft mapping; ``BadInputError`` names the column of a malformed value."""
    raw: dict[str, Any] = {"merchant_sku": row.get("merchant_sku", "")}
    for column in ("name", "product_code", "stock_group"):
        if column in row:
            raw[column] = row[column]
    for column in ("safety_stock", "low_stock_threshold"):
        text = row.get(column, "")
        if text != "":
            try:
                raw[column] = int(text)
            except ValueError:
                raise BadInputError(f"must be a whole number, got {text!r}", field=column) from None
    active = row.get("active", "").lower()
    if active:
        if active not in ("true", "false", "yes", "no", "1", "0"):
            raise BadInputError(f"must be true or false, got {row['active']!r}", field="active")
        raw["active"] = active in ("true", "yes", "1")
    if row.get("components"):
        raw["components"] = parse_components(row["components"])
    return raw


def parse_catalogue_csv(text: str) -> tuple[list[SkuDraft], list[str]]:
    """Drafts and their labels ("row N", N = the line in the file) from a catalogue CSV; raises
    ``CatalogueImportError`` listing every bad row and field. A SKU named twice is refused."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip() for h in reader.fieldnames or []]
    if "merchant_sku" not in header:
        raise CatalogueImportError([CatalogueProblem("row 1", "merchant_sku",
                                                     f"missing column 'merchant_sku'; header is {header}")])
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise CatalogueImportError([CatalogueProblem("row 1", unknown[0], f"unknown column(s) {unknown}; the "
                                                                          f"columns are {list(CSV_COLUMNS)}")])
    problems: list[CatalogueProblem] = []
    drafts: list[SkuDraft] = []
    labels: list[str] = []
    seen: dict[str, str] = {}
    unparsed: set[str] = set()
    for index, raw in enumerate(reader, start=2):
        label = f"row {index}"
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        try:
            draft = dataclasses.replace(check_draft(_csv_row(row)), columns=frozenset(header))
        except BadInputError as exc:
            message = str(exc)
            problems.append(CatalogueProblem(label, exc.field or "row", message))
            if row.get("merchant_sku"):
                unparsed.add(row["merchant_sku"])
            continue
        if draft.merchant_sku in seen:
            problems.append(CatalogueProblem(label, "merchant_sku", f"{draft.merchant_sku!r} is already on "
                                                                    f"{seen[draft.merchant_sku]}"))
            continue
        seen[draft.merchant_sku] = label
        drafts.append(draft)
        labels.append(label)
    if problems:
        error = CatalogueImportError(problems)
        error.parsed, error.unparsed_skus = (drafts, labels), frozenset(unparsed)
        raise error
    return drafts, labels


def _row_number(problem: CatalogueProblem) -> int:
    number = problem.where.removeprefix("row ")
    return int(number) if number.isdigit() else 0


async def check_catalogue_file(hub: Any, text: str) -> tuple[list[SkuDraft], list[str]]:
    """``parse_catalogue_csv``, and when some rows are malformed, the rows that parsed checked
    against the catalogue too, so one ``CatalogueImportError`` names every bad row and field of
    the file in row order (a component named on a malformed row is not called unknown)."""
    try:
        return parse_catalogue_csv(text)
    except CatalogueImportError as exc:
        drafts, labels = exc.parsed
        if not drafts:
            raise
        async with hub.database().session() as session:
            found = await check_against_catalogue(session, await keep_absent_fields(session, drafts), labels)
        refused = [p for p in found if not any(repr(sku) in p.message for sku in exc.unparsed_skus)]
        if not refused:
            raise
        every: list[CatalogueProblem] = [p for p in exc.problems if isinstance(p, CatalogueProblem)] + refused
        every.sort(key=_row_number)
        raise CatalogueImportError(every) from None


def write_catalogue_csv(skus: Iterable[SkuView]) -> str:
    """The catalogue as CSV with ``CSV_COLUMNS``: importing it back changes nothing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in skus:
        writer.writerow([s.merchant_sku, s.name, s.product_code or "", s.stock_group or "", s.safety_stock,
                         "" if s.low_stock_threshold is None else s.low_stock_threshold,
                         "true" if s.active else "false", format_components(s.components)])
    return out.getvalue()


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    shops: set[str] = field(default_factory=set)


async def import_catalogue(
    hub: Any, drafts: Sequence[SkuDraft], labels: Sequence[str], *, actor: str, dry_run: bool = False,
    on_applied: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every draft against the catalogue, then write them all in one transaction (plain SKUs
    before bundles, so components exist first); any problem raises ``CatalogueImportError`` and
    nothing is written. A field a draft's file did not give keeps the stored value
    (``keep_absent_fields``), in the checks as in the writes. ``dry_run`` checks only."""
    report = ImportReport()
    async with hub.database().transaction() as session:
        drafts = await keep_absent_fields(session, drafts)
        problems = await check_against_catalogue(session, drafts, labels)
        if problems:
            raise CatalogueImportError(problems)
        if dry_run:
            return report
        ordered = sorted(range(len(drafts)), key=lambda i: bool(drafts[i].components))
        for step, i in enumerate(ordered):
            if await _write(session, drafts[i], actor, create_only=False):
                report.created += 1
            else:
                report.updated += 1
            if on_applied is not None:
                on_applied(step)
        report.shops = await _mark(session, [d.merchant_sku for d in drafts])
    await _after_commit(hub, report.shops)
    return report
