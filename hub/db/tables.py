"""The hub's tables (SQLAlchemy 2 declarative models), per docs/architecture.md §4.

Schema only: queries live in the repository modules beside this one, migrations in
``hub/migrations``. Rows are never handed to plugins: services convert them to contracts.
Platform ids are strings; money is ``Numeric(18, 4)`` plus a currency column; times are UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")
#: The largest quantity the (32-bit ``Integer``) quantity columns hold; larger input is refused as bad input.
MAX_QUANTITY = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, Decimal: Numeric(18, 4)}




class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ts() -> Any:
    return UTCDateTime()


# --------------------------------------------------------------------------- shops & bindings


class Shop(Base):
    """A configured channel account as the hub tracks it at run time (paused or not, and why)."""

    __tablename__ = "shops"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    platform: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | paused
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_until: Mapped[datetime | None] = mapped_column(ts())
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class ShopStateRow(Base):
    """Small per-account key/value state (tokens, poll cursors): ``contracts.ShopState``."""

    __tablename__ = "shop_state"
    __table_args__ = (UniqueConstraint("shop", "key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class Binding(Base):
    """Links a platform object (platform, shop, external id) to the hub's own id, by kind."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("kind", "platform", "shop", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # order | aftersale | service_order | listing
    platform: Mapped[str] = mapped_column(String(50))
    shop: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    internal_id: Mapped[int] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


# --------------------------------------------------------------------------- orders


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("platform", "shop", "external_id"),
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_shop_id", "shop", "id"),
        Index("ix_orders_created", "channel_created_at"),
        # Buyer search, exact or "starts with": pattern ops so LIKE 'p%' is served whatever the collation.
        Index("ix_orders_buyer", "buyer_nick", "id", postgresql_ops={"buyer_nick": "varchar_pattern_ops"}),
        # Held orders only (a few percent): the held filter's pages and the overview's count.
        Index("ix_orders_on_hold", "id", postgresql_where=text("on_hold"), sqlite_where=text("on_hold")),
        # Work queues sorted by priority, amount or paid time (``hub.services.search``).
        Index("ix_orders_priority", "priority", "id"),
        Index("ix_orders_amount", "total_amount", "id"),
        Index("ix_orders_paid", "paid_at", "id"),
        # Personal data is searched by keyed hash only (``hub.services.search.hashing``).
        Index("ix_orders_recipient_hash", "recipient_hash"),
        Index("ix_orders_phone_hash", "phone_hash"),
        Index("ix_orders_phone_last4_hash", "phone_last4_hash"),
        Index("ix_orders_province", "province", "channel_created_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50))
    shop: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30))
    raw_status: Mapped[str] = mapped_column(String(100))
    channel_created_at: Mapped[datetime] = mapped_column(ts())
    channel_updated_at: Mapped[datetime] = mapped_column(ts())
    paid_at: Mapped[datetime | None] = mapped_column(ts())
    total_amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    buyer_nick: Mapped[str | None] = mapped_column(String(200))
    #: The canonical ``contracts.Order`` as JSON, personal data included (masked on the way out).
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fulfilment_status: Mapped[str] = mapped_column(String(30), default="unfulfilled")
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Review (审单): None until reviewed, then ``approved`` or ``held`` (the holds say why).
    review_status: Mapped[str | None] = mapped_column(String(20))
    reviewed_at: Mapped[datetime | None] = mapped_column(ts())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)
    #: When a sweeper last re-enqueued this order's follow-up (``hub.services.sweepers``): work
    #: re-enqueued less than ``[queue] sweep_after_s`` ago is in flight and left alone.
    swept_at: Mapped[datetime | None] = mapped_column(ts())
    #: Set by people (``hub.services.search.triage``): higher first in the work queues; 0 is normal.
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The seller's flag (colour) as the hub knows it: 0 none/grey … 5 (``hub.services.order_edits``).
    seller_flag: Mapped[int | None] = mapped_column(Integer)
    #: Platform fees (commission, service fee) when the channel's order carries them, for gross profit.
    platform_fee: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    #: The shipping address's province, for reports and filters (not personal data on its own).
    province: Mapped[str | None] = mapped_column(String(50))
    #: Keyed hashes (HMAC-SHA256, ``[search] key_secret``) of the recipient's name, full phone and
    #: its last four digits: search by personal data without storing another clear copy.
    recipient_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    phone_last4_hash: Mapped[str | None] = mapped_column(String(64))


class OrderLineRow(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "external_id"),
        # SKU search, exact or "starts with", straight to the orders (pattern ops: see ix_orders_buyer).
        Index("ix_order_lines_sku", "merchant_sku", "order_id", postgresql_ops={"merchant_sku": "varchar_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    merchant_sku: Mapped[str | None] = mapped_column(String(200))
    channel_item_id: Mapped[str | None] = mapped_column(String(200))
    channel_sku_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    status: Mapped[str | None] = mapped_column(String(30))


class OrderHoldRow(Base):
    """A hold on an order (audit rule, stock short, cancel requested); released by a person or event."""

    __tablename__ = "order_holds"
    __table_args__ = (
        UniqueConstraint("order_id", "code"),
        # Open holds by code, oldest first: the exceptions queue counts and pages them from this
        # small partial index (released holds, the vast majority, are not in it).
        Index("ix_order_holds_open", "code", "id", postgresql_where=text("released_at IS NULL"),
              sqlite_where=text("released_at IS NULL")),
        # Orders still held for a reason (the hold-reason filter), however many holds were released before.
        Index("ix_order_holds_open_orders", "code", "order_id", postgresql_where=text("released_at IS NULL"),
              sqlite_where=text("released_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(ts())
    released_by: Mapped[str | None] = mapped_column(String(100))


class OrderEventRow(Base):
    """Append-only order history: every change (and every ignored stale event) with its cause."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # created | status_changed | stale | repeated | hold_*
    old_status: Mapped[str | None] = mapped_column(String(30))
    new_status: Mapped[str | None] = mapped_column(String(30))
    cause: Mapped[str] = mapped_column(String(50))  # push | message_channel | poll | manual | api | system
    actor: Mapped[str | None] = mapped_column(String(100))
    inbox_id: Mapped[int | None] = mapped_column(Id)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------- inventory


class SkuRow(Base):
    """The merchant's SKU catalogue; a bundle has components in ``bundle_components``."""

    __tablename__ = "skus"
    merchant_sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text, default="")
    product_code: Mapped[str | None] = mapped_column(String(200))
    stock_group: Mapped[str | None] = mapped_column(String(100))
    allocation_mode: Mapped[str] = mapped_column(String(20), default="shared")
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    # Catalogue management (``hub.services.catalogue``): a deactivated SKU keeps its history but
    # takes no new listings or stock; who changed it last (an API key, ``cli``, ``import:<file>``).
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime | None] = mapped_column(ts())
    updated_by: Mapped[str | None] = mapped_column(String(100))
    #: What one unit costs the merchant (purchase price), for gross profit; NULL when not known.
    cost_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))


class BundleComponentRow(Base):
    __tablename__ = "bundle_components"
    __table_args__ = (UniqueConstraint("bundle_sku", "component_sku"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bundle_sku: Mapped[str] = mapped_column(ForeignKey("skus.merchant_sku", ondelete="CASCADE"))
    component_sku: Mapped[str] = mapped_column(ForeignKey("skus.merchant_sku"))
    quantity: Mapped[int] = mapped_column(Integer)


class StockRow(Base):
    """On hand and reserved per (warehouse, SKU). Reservation is one conditional UPDATE here."""

    __tablename__ = "stock"
    __table_args__ = (UniqueConstraint("warehouse", "merchant_sku"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    warehouse: Mapped[str] = mapped_column(String(100))
    merchant_sku: Mapped[str] = mapped_column(String(200))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class ReservationRow(Base):
    __tablename__ = "reservations"
    # By state: the order sweeper looks for orders still holding active or short reservations.
    __table_args__ = (UniqueConstraint("order_id", "line_external_id"),
                      Index("ix_reservations_state_order", "state", "order_id"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(Id)
    line_external_id: Mapped[str] = mapped_column(String(200))
    merchant_sku: Mapped[str] = mapped_column(String(200))
    warehouse: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="active")  # active | released | consumed
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class DefectiveStockRow(Base):
    """Units that came back damaged, kept apart from sellable stock (``stock``): per location
    (``[aftersales] defective_warehouse``) and SKU. Never reserved, never pushed to a channel;
    every change also has its ``stock_ledger`` row."""

    __tablename__ = "defective_stock"
    __table_args__ = (UniqueConstraint("location", "merchant_sku"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    location: Mapped[str] = mapped_column(String(100))
    merchant_sku: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


class StockLedgerRow(Base):
    """Every stock movement with its cause; never updated or deleted."""

    __tablename__ = "stock_ledger"
    __table_args__ = (Index("ix_stock_ledger_sku", "merchant_sku", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    warehouse: Mapped[str | None] = mapped_column(String(100))
    merchant_sku: Mapped[str] = mapped_column(String(200))
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    cause: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class StockImportJobRow(Base):
    """One stock file uploaded for import (``hub.services.stock.import_jobs``): its validated rows, and
    how far applying them got. ``done_rows`` moves in the same transaction as each batch it counts,
    so a batch is applied exactly once whatever stops and resumes the job. ``attempt`` numbers the
    imports of one file (same SHA-256): a repeat must be asked for, never made by uploading again.
    ``state``: queued | running | done | failed."""

    __tablename__ = "stock_import_jobs"
    __table_args__ = (UniqueConstraint("file_sha256", "attempt"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # absolute | delta | mixed
    state: Mapped[str] = mapped_column(String(10))
    total_rows: Mapped[int] = mapped_column(Integer)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    batch_size: Mapped[int] = mapped_column(Integer)
    # [[file row, warehouse, merchant_sku, delta | null, on_hand | null, note | null], ...]
    rows: Mapped[list[Any]] = mapped_column(JSON)
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    skus: Mapped[list[Any]] = mapped_column(JSON, default=list)  # SKUs changed so far
    shops: Mapped[list[Any]] = mapped_column(JSON, default=list)  # shops given a push so far
    error: Mapped[str | None] = mapped_column(Text)
    error_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(ts())
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(ts())


class ListingRow(Base):
    """A merchant SKU as listed in one shop (item/product id and channel SKU id)."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("shop", "channel_item_id", "channel_sku_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop: Mapped[str] = mapped_column(String(100))
    merchant_sku: Mapped[str] = mapped_column(String(200))
    channel_item_id: Mapped[str] = mapped_column(String(200))
    channel_sku_id: Mapped[str] = mapped_column(String(200), default="")
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # How it was bound: manual (a person; the listing sync never rebinds it unless told to) |
    # sync (by the listing's merchant code) | order (learned from a sale); NULL = before 0005.
    source: Mapped[str | None] = mapped_column(String(20))
    bound_by: Mapped[str | None] = mapped_column(String(100))
    bound_at: Mapped[datetime | None] = mapped_column(ts())


class ShopListingRow(Base):
    """A listing as its shop showed it at the last listing sync, and what the sync made of it:
    ``outcome`` bound | already_bound | kept_manual | no_code | unknown_code | inactive_sku."""

    __tablename__ = "shop_listings"
    __table_args__ = (UniqueConstraint("shop", "channel_item_id", "channel_sku_id"),
                      Index("ix_shop_listings_outcome", "shop", "outcome"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shop: Mapped[str] = mapped_column(String(100))
    channel_item_id: Mapped[str] = mapped_column(String(200))
    channel_sku_id: Mapped[str] = mapped_column(String(200))
    merchant_code: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(30))
    merchant_sku: Mapped[str | None] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


class ChannelStockRow(Base):
    """What the hub wants a shop to show, what it last pushed and when, and the last error."""

    __tablename__ = "channel_stock"
    __table_args__ = (UniqueConstraint("listing_id"), Index("ix_channel_stock_dirty", "shop", "dirty"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    shop: Mapped[str] = mapped_column(String(100))
    merchant_sku: Mapped[str] = mapped_column(String(200))
    target: Mapped[int | None] = mapped_column(Integer)
    shown: Mapped[int | None] = mapped_column(Integer)  # last value pushed (or read back)
    pushed_at: Mapped[datetime | None] = mapped_column(ts())
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)
    dirty_since: Mapped[datetime | None] = mapped_column(ts())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(ts())
    # Partitioned groups only (``hub.services.stock.exposure``); None elsewhere and before the first push.
    # exposure: upper bound on the units this listing can still sell that the hub has not taken in.
    exposure: Mapped[int | None] = mapped_column(Integer)
    # anchor_value: upper bound on what the listing shows, counted from the last moment the hub
    # knew it exactly (anchor_at: an absolute push answered, a read, a decrement that ended at 0).
    anchor_value: Mapped[int | None] = mapped_column(Integer)
    anchor_at: Mapped[datetime | None] = mapped_column(ts())
    # A push sent whose answer is not in yet or was lost: its change (None for an absolute value),
    # idempotency key and when it went out.
    pending_delta: Mapped[int | None] = mapped_column(Integer)
    pending_key: Mapped[str | None] = mapped_column(String(32))
    pending_at: Mapped[datetime | None] = mapped_column(ts())


# --------------------------------------------------------------------------- fulfilment & after-sales


class ShipmentRow(Base):
    """What left a warehouse for one order, and how telling the channel about it went.

    ``status``: pending (the channel is still to be told) | confirmed | not_supported (the shop's
    connector cannot confirm shipments) | failed (the channel refused, or attempts ran out).
    ``tracking_key`` (the parcels' tracking numbers, sorted) is unique per order, so posting the
    same shipment twice records it once.
    """

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "tracking_key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    warehouse: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), default="created")
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # contracts.Shipment
    confirmed_to_channel_at: Mapped[datetime | None] = mapped_column(ts())
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    tracking_key: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(ts(), onupdate=utcnow)
    swept_at: Mapped[datetime | None] = mapped_column(ts())  # as ``OrderRow.swept_at``


class TrackingEventRow(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("tracking_number", "state", "occurred_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    shipment_id: Mapped[int | None] = mapped_column(Id)
    parcel_id: Mapped[int | None] = mapped_column(Id, index=True)
    tracking_number: Mapped[str] = mapped_column(String(100))
    courier_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(ts())
    description: Mapped[str] = mapped_column(Text, default="")


class DeliveryOrderRow(Base):
    """A request to a warehouse to ship lines of one or more orders (发货单).

    ``kind``: ``wms`` (a connected WMS, e.g. Qimen: ``deliveryorder.create``) or ``own`` (the hub's
    own warehouse: pick list, pack, ship through the API/CLI). ``code`` is the hub's code for it,
    sent to the WMS as its delivery order code and unique, so a retried create is recognised.
    ``status``: pending (not sent yet) | sent (the WMS accepted it) | picking | packed | shipped |
    cancelling | cancelled | failed (the WMS refused; ``last_error`` says why). Lines are in
    ``delivery_lines``; a merged delivery holds lines of several orders of one buyer, a split order
    has several delivery orders. ``order_id`` is the order it was made for (the first, when merged).
    """

    __tablename__ = "delivery_orders"
    __table_args__ = (
        Index("ix_delivery_orders_status", "status", "id"),
        Index("ix_delivery_orders_order", "order_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    warehouse: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # wms | own
    status: Mapped[str] = mapped_column(String(30), default="pending")
    courier_code: Mapped[str | None] = mapped_column(String(50))
    #: The WMS's own id for it (Qimen ``deliveryOrderId``), once it answered.
    warehouse_order_id: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # routing reason, merge group, WMS replies
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(ts(), onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(ts())
    shipped_at: Mapped[datetime | None] = mapped_column(ts())
    cancelled_at: Mapped[datetime | None] = mapped_column(ts())
    swept_at: Mapped[datetime | None] = mapped_column(ts())  # as ``OrderRow.swept_at``


class DeliveryLineRow(Base):
    """One order line (or part of it) in a delivery order."""

    __tablename__ = "delivery_lines"
    __table_args__ = (
        UniqueConstraint("delivery_order_id", "order_id", "line_external_id"),
        Index("ix_delivery_lines_order", "order_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_order_id: Mapped[int] = mapped_column(ForeignKey("delivery_orders.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_external_id: Mapped[str] = mapped_column(String(200))
    merchant_sku: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)


class ParcelRow(Base):
    """One package of a delivery order, with its waybill and where it is.

    ``key`` is the waybill idempotency key sent to the provider (unique): asking again after a
    timeout returns the same waybill. ``status``: pending (no waybill yet) | issued | printed |
    shipped | cancelling | cancelled | failed. ``tracking_state`` is the newest
    ``contracts.TrackingState`` heard for it (``tracking_at`` when), ``subscribed_at`` when the
    tracking provider was asked to push its events.
    """

    __tablename__ = "parcels"
    __table_args__ = (
        UniqueConstraint("courier_code", "waybill_number"),
        Index("ix_parcels_order", "order_id"),
        Index("ix_parcels_delivery_order", "delivery_order_id"),
        Index("ix_parcels_status", "status", "id"),
        Index("ix_parcels_tracking", "tracking_state", "tracking_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    delivery_order_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_orders.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer, default=1)
    courier_code: Mapped[str] = mapped_column(String(50))
    #: The courier account (``[couriers.<name>]``) that issued the waybill, when the hub asked for one.
    courier_account: Mapped[str | None] = mapped_column(String(100))
    waybill_number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), default="pending")
    print_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # contracts.Waybill, as issued
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="SET NULL"))
    tracking_state: Mapped[str | None] = mapped_column(String(30))
    tracking_at: Mapped[datetime | None] = mapped_column(ts())
    subscribed_at: Mapped[datetime | None] = mapped_column(ts())
    collected_at: Mapped[datetime | None] = mapped_column(ts())
    delivered_at: Mapped[datetime | None] = mapped_column(ts())
    printed_at: Mapped[datetime | None] = mapped_column(ts())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(ts(), onupdate=utcnow)
    #: What sending it cost, when the waybill said (0022, reports): gross profit uses it before the
    #: ``[reports]`` rate table.
    freight: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))


class FulfilmentExceptionRow(Base):
    """Something in fulfilment a person must look at: a parcel not collected or not moving, a
    returned parcel, a cancellation that came too late, a WMS that refused a delivery order.

    ``subject`` names what it is about (``parcel:12``, ``delivery_order:3``, ``order:7``) and is
    unique per ``kind`` while open, so a rule that fires again records it once.
    """

    __tablename__ = "fulfilment_exceptions"
    __table_args__ = (
        UniqueConstraint("kind", "subject"),
        Index("ix_fulfilment_exceptions_open", "id", postgresql_where=text("resolved_at IS NULL"),
              sqlite_where=text("resolved_at IS NULL")),
        Index("ix_fulfilment_exceptions_order", "order_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # not_collected | stalled | returned | late_cancel | ...
    subject: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(ts())
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class FulfilmentPlanRow(Base):
    """A person's decision on how an order ships, honoured by ``planning.plan_groups``.

    ``kind``: ``merge`` (ships with the other orders of the same ``merge_id``), ``split`` (its
    lines in the groups ``line_groups`` names, each a delivery of its own) or ``separate`` (a merge
    proposal declined: ships alone, never merged automatically). One decision per order; undone by
    deleting the rows (the order's history keeps who did what). ``forced``: merged although the
    orders' buyer or address differ.
    """

    __tablename__ = "fulfilment_plans"
    __table_args__ = (
        UniqueConstraint("order_id"),
        Index("ix_fulfilment_plans_merge", "merge_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # merge | split | separate
    merge_id: Mapped[str | None] = mapped_column(String(40))
    line_groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


class AfterSaleRow(Base):
    """One after-sale case as the hub knows it: the platform's latest report (``data``) plus the
    columns lists filter and sort on, and what the hub itself recorded (``received``, ``resolution``)."""

    __tablename__ = "aftersales"
    __table_args__ = (
        UniqueConstraint("platform", "shop", "external_id"),
        Index("ix_aftersales_open_deadline", "status", "deadline"),
        Index("ix_aftersales_order", "order_id"),
        Index("ix_aftersales_applied", "shop", "applied_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50))
    shop: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[int | None] = mapped_column(Id)
    order_external_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    raw_status: Mapped[str] = mapped_column(String(100))
    channel_updated_at: Mapped[datetime] = mapped_column(ts())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)
    #: When the buyer applied (the platform's creation time) and when the platform decides alone.
    applied_at: Mapped[datetime | None] = mapped_column(ts())
    deadline: Mapped[datetime | None] = mapped_column(ts())
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(500))
    #: The platform's optimistic-lock value from the latest report (``AfterSale.version``).
    version: Mapped[str | None] = mapped_column(String(100))
    #: The hub recorded the returned (or exchanged) goods as back, with their quality.
    received: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What the hub did beyond the platform's status: restocked, defective, replacement_sent, reissued...
    resolution: Mapped[str | None] = mapped_column(String(40))
    #: A delivery order the hub created for this case (an exchange's replacement, a reissue).
    delivery_order_id: Mapped[int | None] = mapped_column(Id)
    #: When a deadline alert was last raised for this case (None: not yet).
    alerted_at: Mapped[datetime | None] = mapped_column(ts())
    decided_by: Mapped[str | None] = mapped_column(String(100))


class AfterSaleLineRow(Base):
    """A line of a case: which order line, which SKU, how many, how much; and, once the goods are
    back, how many came back good and how many damaged."""

    __tablename__ = "aftersale_lines"
    __table_args__ = (
        UniqueConstraint("aftersale_id", "position"),
        Index("ix_aftersale_lines_sku", "merchant_sku"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    aftersale_id: Mapped[int] = mapped_column(ForeignKey("aftersales.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    order_line_id: Mapped[int | None] = mapped_column(Id)
    line_external_id: Mapped[str | None] = mapped_column(String(200))
    merchant_sku: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    received_good: Mapped[int] = mapped_column(Integer, default=0)
    received_damaged: Mapped[int] = mapped_column(Integer, default=0)


class AfterSaleEventRow(Base):
    """Append-only history of a case: each report that moved it, each decision and its write-back,
    each rule that acted, each stock movement and alert."""

    __tablename__ = "aftersale_events"
    __table_args__ = (Index("ix_aftersale_events_case", "aftersale_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    aftersale_id: Mapped[int] = mapped_column(ForeignKey("aftersales.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    #: reported | decided | written_back | recorded_only | rule | restocked | alert | replacement
    kind: Mapped[str] = mapped_column(String(40))
    old_status: Mapped[str | None] = mapped_column(String(30))
    new_status: Mapped[str | None] = mapped_column(String(30))
    cause: Mapped[str] = mapped_column(String(50))  # push | message_channel | poll | api | console | cli | rule
    actor: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AfterSaleActionRow(Base):
    """A decision taken on a case and its write-back to the platform, at most once per key.

    ``state``: pending (being written back, or waiting for a retry after a timeout), done (the
    platform took it), recorded (the platform has no API for it: the hub recorded it), failed
    (the platform refused; ``error`` says why)."""

    __tablename__ = "aftersale_actions"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_aftersale_actions_case", "aftersale_id", "id"),
        Index("ix_aftersale_actions_state", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    aftersale_id: Mapped[int] = mapped_column(ForeignKey("aftersales.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(ts())
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class TechnicianRow(Base):
    """A technician who does service work: skills, regions, working hours, daily capacity."""

    __tablename__ = "technicians"
    __table_args__ = (UniqueConstraint("code"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(30))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)  # ServiceOrderType values
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # province/city/district names
    work_days: Mapped[list[int]] = mapped_column(JSON, default=list)  # ISO weekdays
    work_start: Mapped[str] = mapped_column(String(5), default="09:00")
    work_end: Mapped[str] = mapped_column(String(5), default="18:00")
    daily_capacity: Mapped[int] = mapped_column(Integer, default=4)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class ServiceOrderRow(Base):
    """A service work order (from a platform, or created in the hub for an order of any shop), with
    its technician, appointment and service-level deadlines. ``version`` goes up on every change a
    person can see, so a step taken on an old page is refused rather than applied twice."""

    __tablename__ = "service_orders"
    __table_args__ = (
        UniqueConstraint("platform", "shop", "external_id"),
        Index("ix_service_orders_status", "status", "id"),
        Index("ix_service_orders_technician", "technician_id", "status"),
        Index("ix_service_orders_due", "due_at"),
        Index("ix_service_orders_order_ref", "platform", "shop", "order_external_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50))
    shop: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    #: The sales order's id at the platform, as the work card names it (linked once that order is stored).
    order_external_id: Mapped[str | None] = mapped_column(String(200))
    order_id: Mapped[int | None] = mapped_column(Id)
    order_line_id: Mapped[int | None] = mapped_column(Id)
    line_external_id: Mapped[str | None] = mapped_column(String(200))
    merchant_sku: Mapped[str | None] = mapped_column(String(200))
    product_title: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    service_code: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    raw_status: Mapped[str] = mapped_column(String(100))
    #: channel (a platform's work card) | manual (a person) | rule (``[[service_orders.rules]]``)
    origin: Mapped[str] = mapped_column(String(20), default="channel")
    region_province: Mapped[str | None] = mapped_column(String(100))
    region_city: Mapped[str | None] = mapped_column(String(100))
    region_district: Mapped[str | None] = mapped_column(String(100))
    expected_at: Mapped[datetime | None] = mapped_column(ts())
    appointment_start: Mapped[datetime | None] = mapped_column(ts())
    appointment_end: Mapped[datetime | None] = mapped_column(ts())
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"))
    assignee: Mapped[str | None] = mapped_column(String(100))  # the worker the platform names
    sla_deadline: Mapped[datetime | None] = mapped_column(ts())  # a deadline the platform sets
    #: The service-level deadlines from ``[service_orders.sla]`` (from the order's creation).
    contact_due_at: Mapped[datetime | None] = mapped_column(ts())
    onsite_due_at: Mapped[datetime | None] = mapped_column(ts())
    complete_due_at: Mapped[datetime | None] = mapped_column(ts())
    #: The next deadline still to meet (None once closed); what lists sort and filter by.
    due_at: Mapped[datetime | None] = mapped_column(ts())
    due_milestone: Mapped[str | None] = mapped_column(String(20))  # contact | on_site | complete
    #: ok | soon | overdue while open; met | missed once closed (each milestone met in time or not).
    sla_state: Mapped[str] = mapped_column(String(20), default="ok")
    #: The strongest platform alert so far (1 warning, 2 alert, 3 critical) and when it came.
    alert_level: Mapped[int | None] = mapped_column(Integer)
    alerted_at: Mapped[datetime | None] = mapped_column(ts())
    assigned_at: Mapped[datetime | None] = mapped_column(ts())
    booked_at: Mapped[datetime | None] = mapped_column(ts())
    on_site_at: Mapped[datetime | None] = mapped_column(ts())
    closed_at: Mapped[datetime | None] = mapped_column(ts())
    rating: Mapped[int | None] = mapped_column(Integer)
    completion_note: Mapped[str | None] = mapped_column(String(1000))
    reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(100))
    channel_updated_at: Mapped[datetime] = mapped_column(ts())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class ServiceOrderEventRow(Base):
    """Append-only history of a service order: reports, assignments, steps and their write-back,
    service-level flags and platform alerts, each attributed."""

    __tablename__ = "service_order_events"
    __table_args__ = (Index("ix_service_order_events_order", "service_order_id", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    service_order_id: Mapped[int] = mapped_column(ForeignKey("service_orders.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    #: reported | created | assigned | step | written_back | recorded_only | write_failed | sla | alert
    kind: Mapped[str] = mapped_column(String(40))
    old_status: Mapped[str | None] = mapped_column(String(30))
    new_status: Mapped[str | None] = mapped_column(String(30))
    cause: Mapped[str] = mapped_column(String(50))  # push | message_channel | poll | api | console | cli | rule | auto
    actor: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ServiceOrderWriteRow(Base):
    """One step to write back to the platform, once per key: pending until the platform took it
    (done), said it has no API for it (recorded), or refused it (failed)."""

    __tablename__ = "service_order_writes"
    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_service_order_writes_order", "service_order_id", "id"),
        Index("ix_service_order_writes_state", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    service_order_id: Mapped[int] = mapped_column(ForeignKey("service_orders.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # pending | done | recorded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(ts())
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(ts(), default=utcnow, onupdate=utcnow)


class ServiceAlertRow(Base):
    """A platform's service-level alert (Tmall ServiceMonitorMessage), once per alert id."""

    __tablename__ = "service_alerts"
    __table_args__ = (
        UniqueConstraint("platform", "shop", "alert_id"),
        Index("ix_service_alerts_order", "service_order_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50))
    shop: Mapped[str] = mapped_column(String(100))
    alert_id: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))  # the work card's id
    service_order_id: Mapped[int | None] = mapped_column(ForeignKey("service_orders.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)  # 1 warning, 2 alert, 3 critical
    rule_id: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(String(1000), default="")
    raised_at: Mapped[datetime] = mapped_column(ts())
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


# --------------------------------------------------------------------------- plumbing


class InboxRow(Base):
    """A raw event from a partner, stored before anything acts on it: dedup and replay."""

    __tablename__ = "inbox"
    # Unique per shop: nothing promises that a platform numbers messages across all its shops, and
    # a collision must not drop the second shop's message (it would wait for the next poll).
    __table_args__ = (
        UniqueConstraint("platform", "shop", "message_id", name="uq_inbox_platform_shop_message_id"),
        Index("ix_inbox_status", "status", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50))
    shop: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(30))  # push | message_channel | poll | manual
    kind: Mapped[str] = mapped_column(String(30))
    topic: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the InboundMessage as JSON
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | failed | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(ts())
    swept_at: Mapped[datetime | None] = mapped_column(ts())  # as ``OrderRow.swept_at``


class OutboxRow(Base):
    """An event to publish, written in the transaction that caused it; the relay sends it after."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unpublished", "published_at", "id"),
        # Rows still owed (unpublished, or published to an acknowledging actor that has not
        # finished): the outbox sweep reads only these, however large the published outbox grows.
        Index("ix_outbox_owed", "published_at", "id", postgresql_where=text("done_at IS NULL"),
              sqlite_where=text("done_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(ts())
    #: When its job finished (``hub.db.outbox.ACKED_ACTORS``), or was handed to the broker (the
    #: others, whose follow-up the sweepers re-derive); NULL while owed.
    done_at: Mapped[datetime | None] = mapped_column(ts())


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (
        # Dead letters still waiting for a replay, per actor: the exceptions queue's filter and
        # "replay all of this actor" read only these, however many replayed ones pile up.
        Index("ix_dead_letters_open", "actor", "id", postgresql_where=text("replayed_at IS NULL"),
              sqlite_where=text("replayed_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(50))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text)
    error_class: Mapped[str] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    inbox_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(ts())
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    replayed_by: Mapped[str | None] = mapped_column(String(100))  # who replayed it last


class IdempotencyKeyRow(Base):
    """Records an external effect done once (a waybill created, a shipment confirmed)."""

    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


class ApiKeyRow(Base):
    """An API key: only a hash is stored; ``prefix`` identifies it in lists and logs."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(ts())
    revoked_at: Mapped[datetime | None] = mapped_column(ts())
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    #: The shops this key may see and act on (a JSON list); NULL means every shop.
    shops: Mapped[list[Any] | None] = mapped_column(JSON)


class AuditRow(Base):
    """Append-only record of an operator's action outside an order's own history: API keys made
    and revoked, shops resumed and authorised, dead letters replayed. Who, what, to what, when."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_action", "action", "id"),
        Index("ix_audit_log_subject", "subject", "id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # apikey:<prefix>:<name> | cli:<user> | hub
    action: Mapped[str] = mapped_column(String(50))  # apikey.created | shop.resumed | dead_letter.replayed ...
    subject: Mapped[str] = mapped_column(String(200))  # apikey:<prefix> | shop:<name> | dead_letter:<id>
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UserRow(Base):
    """A person who signs in to the console with a name and password (argon2id hash only)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    password_changed_at: Mapped[datetime | None] = mapped_column(ts())
    #: The shops this person may see and act on (a JSON list); NULL means every shop.
    shops: Mapped[list[Any] | None] = mapped_column(JSON)


class SignInFailureRow(Base):
    """Failed console sign-ins per subject (``user:<name>`` for a user name, known or not, and
    ``key:<address>`` for API keys tried from one address), to refuse guessing: after
    ``[console] sign_in_max_failures`` within the lockout window, ``locked_until`` is set."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime] = mapped_column(ts())
    locked_until: Mapped[datetime | None] = mapped_column(ts())


# --------------------------------------------------------------------------- console


class SavedViewRow(Base):
    """A named set of filters on a console list (``screen``: ``orders``), kept for the person who
    saved it (``owner``: ``user:<name>`` or ``key:<prefix>``) and, when ``shared``, shown to everyone."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner", "screen", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    owner_name: Mapped[str] = mapped_column(String(100))  # the user's or the key's name, for people
    screen: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(80))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


# ------------------------------------------------------------ search, tags, priority and manual holds (0018)


class OrderTagDefRow(Base):
    """A user tag people put on orders (``hub.services.search.tags``): unlike the channel's own
    ``orders.tags``, these are the merchant's words (``VIP``, ``check address``), each with a colour."""

    __tablename__ = "order_tag_defs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    colour: Mapped[str] = mapped_column(String(7))  # #rrggbb
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


class OrderTagLinkRow(Base):
    """One user tag on one order, with who put it there and when."""

    __tablename__ = "order_tag_links"
    __table_args__ = (Index("ix_order_tag_links_tag", "tag_id", "order_id"),)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("order_tag_defs.id", ondelete="CASCADE"), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(120))
    added_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


# --------------------------------------------------------------------------- order edits and approvals (0019)


class OrderEditRow(Base):
    """One edit of an order with its record (``hub.services.order_edits``): what it was and became,
    who asked and why, whether it waits for an approval (money changes), and its write-back."""

    __tablename__ = "order_edits"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_order_edits_order", "order_id", "id"),
        # The approval queue, and the write-backs still to send.
        Index("ix_order_edits_status", "status", "id"),
        Index("ix_order_edits_writeback", "writeback", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shop: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    #: applied | pending_approval | approved | rejected | cancelled (withdrawn by the hub once the order was paid)
    status: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(ts())
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: not_needed | pending | sent | failed | local_only
    writeback: Mapped[str] = mapped_column(String(20))
    writeback_error: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(ts())
    idempotency_key: Mapped[str] = mapped_column(String(100))
    #: The order's version the person saw when they asked.
    order_version: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- batch jobs (0020)


class BatchJobRow(Base):
    """A batch action over many items run in the background (``hub.services.batch.jobs``): who asked,
    with which shops in sight (the worker acts as them), and how far it got. ``done``/``succeeded``/
    ``failed`` move in the same transaction as the chunk of items they count. ``status``: queued |
    running | done | failed | cancelled. Small batches answered at once leave no job."""

    __tablename__ = "batch_jobs"
    __table_args__ = (Index("ix_batch_jobs_created_by", "created_by", "id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    action: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: [item id or CSV row, ...] in the order given; position i is ``items[i]``.
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    shops: Mapped[list[Any] | None] = mapped_column(JSON)  # the creator's shops; NULL = every shop
    status: Mapped[str] = mapped_column(String(12))
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(ts())
    finished_at: Mapped[datetime | None] = mapped_column(ts())


class BatchJobItemRow(Base):
    """One item's outcome in a batch job; (job, position) is recorded once, so a chunk run again
    skips what it already did."""

    __tablename__ = "batch_job_items"
    __table_args__ = (UniqueConstraint("job_id", "position"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(Id, ForeignKey("batch_jobs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(String(200))  # the item id, or the CSV row's reference
    ok: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text, default="")


class BatchFileRow(Base):
    """A file a batch action produced (the labels' PDF), fetched by whoever ran it."""

    __tablename__ = "batch_files"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)



# --------------------------------------------------------------------------- notifications (0021)


class NotificationDeliveryRow(Base):
    """One notification to one channel: pending until sent, retried with backoff, recorded.

    Unique per (channel, dedup_key): the scans insert-or-ignore, so an event seen again (another
    scan, another worker) is not sent twice. ``failed`` will be tried again at ``next_attempt_at``;
    ``dead`` will not (a permanent refusal or too many tries). ``facts`` never holds personal data.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    dedup_key: Mapped[str] = mapped_column(String(200))
    shop: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20), default="info")
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(ts())
    resent_by: Mapped[str | None] = mapped_column(String(100))


class UnpaidReminderRow(Base):
    """An unpaid order a person reminded the buyer about (催付), by hand: who and when."""

    __tablename__ = "unpaid_reminders"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    reminded_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)
    reminded_by: Mapped[str] = mapped_column(String(100))



# ------------------------------------------------------------ reports: costs, freight, fees, rollups (0022, 0024)
# ``ParcelRow.freight`` is this section's column. The rollups hold the reports' additive figures per
# local day (in ``ReportRollupStateRow.time_zone``; with its week and month since 0024), refreshed by
# ``hub.services.reports.refresh``; what each figure means: ``hub.services.reports.figures``.

#: The canonical order statuses a rollup row counts one column each of (``n_<status>``).
ROLLUP_STATUSES = ("pending_payment", "paid", "partially_shipped", "shipped", "delivered", "completed",
                   "cancelled", "closed")


class _DayFigures:
    """The figures a day's rollup row adds up (orders of one day and key)."""

    orders: Mapped[int] = mapped_column(Integer, default=0)
    paid_orders: Mapped[int] = mapped_column(Integer, default=0)
    sales_orders: Mapped[int] = mapped_column(Integer, default=0)
    sales: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    refunded_orders: Mapped[int] = mapped_column(Integer, default=0)
    returned_orders: Mapped[int] = mapped_column(Integer, default=0)
    n_pending_payment: Mapped[int] = mapped_column(Integer, default=0)
    n_paid: Mapped[int] = mapped_column(Integer, default=0)
    n_partially_shipped: Mapped[int] = mapped_column(Integer, default=0)
    n_shipped: Mapped[int] = mapped_column(Integer, default=0)
    n_delivered: Mapped[int] = mapped_column(Integer, default=0)
    n_completed: Mapped[int] = mapped_column(Integer, default=0)
    n_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    n_closed: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    lines_without_cost: Mapped[int] = mapped_column(Integer, default=0)
    freight: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    fees: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=0)
    orders_with_fees: Mapped[int] = mapped_column(Integer, default=0)


class _Buckets:
    """A rollup row's week (its Monday) and month (its first day), stored so that summing rows per
    bucket reads a column instead of computing a date per row."""

    week: Mapped[date] = mapped_column(Date)
    month: Mapped[date] = mapped_column(Date)


class ReportDayOrdersRow(_DayFigures, _Buckets, Base):
    """Orders created on one local day in one shop to one province ('' unknown), with their figures."""

    __tablename__ = "report_day_orders"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50), primary_key=True)
    shop: Mapped[str] = mapped_column(String(100), primary_key=True)
    province: Mapped[str] = mapped_column(String(50), primary_key=True)


class ReportDaySkusRow(_DayFigures, _Buckets, Base):
    """Orders created on one local day in one shop with a line of one SKU ('' none): their figures
    for that SKU (sales and units of its lines, cases with a line of it, its cost)."""

    __tablename__ = "report_day_skus"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50), primary_key=True)
    shop: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str] = mapped_column(String(200), primary_key=True)


class ReportBuyerDaysRow(_Buckets, Base):
    """What one buyer spent on sales orders of one shop on one local day. The buyer is
    ``buyer_key``: a 64-bit hash of the platform and the buyer's nick (``hub.services.reports.rollups.
    buyer_key_sql``), so counting buyers groups integers, and the rollup holds no nick."""

    __tablename__ = "report_buyer_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(String(50), primary_key=True)
    shop: Mapped[str] = mapped_column(String(100), primary_key=True)
    buyer_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: What they spent, in 1/10,000 of the currency unit (an integer: summing ~900,000 buyers'
    #: spends as integers is cheaper than as NUMERIC).
    spend_units: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportRollupStateRow(Base):
    """How far the rollups are: built in ``time_zone`` with the freight settings ``settings_hash``,
    complete for every change to orders, cases and parcels up to ``rolled_to``. No row: no rollups
    (the reports read ``orders``; the next refresh rebuilds them all)."""

    __tablename__ = "report_rollup_state"
    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    settings_hash: Mapped[str] = mapped_column(String(64))
    rolled_to: Mapped[datetime] = mapped_column(ts())
    refreshed_at: Mapped[datetime] = mapped_column(ts(), default=utcnow)


# What the refresh finds changed since its watermark by.
Index("ix_orders_updated", OrderRow.updated_at)
Index("ix_aftersales_updated", AfterSaleRow.updated_at)
Index("ix_parcels_updated", ParcelRow.updated_at)


# --------------------------------------------------------------------------- roles per shop (0023)


__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type) and issubclass(obj, Base)]
