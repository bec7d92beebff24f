"""Response models of the API: what each endpoint returns, as the OpenAPI docs show it.

Built from ORM rows and contracts by the routes; never ORM rows themselves. Money is a decimal
string with its currency; ids the hub owns are integers, platforms' ids strings. Not for request
validation of partner pushes (connectors parse those from raw bytes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from contracts.money import Money
from contracts.orders import Order
from contracts.shipments import Parcel
from hub.api.params import INT64_MAX


class Health(BaseModel):
    status: str = Field(description="'ok' when the process is alive.")


class Readiness(BaseModel):
    status: str = Field(description="'ready', or 'unavailable' with the failing checks.")
    checks: dict[str, str] = Field(description="Each dependency: 'ok', 'not configured', or why it failed.")
    failed: list[str] = Field(default_factory=list, description="Names of the failing checks (database, broker; "
                                                                "redis when RabbitMQ is the broker).")


class ConnectorOut(BaseModel):
    kind: str = Field(description="channel, courier or warehouse")
    platform: str
    capabilities: list[str]


class PluginOut(BaseModel):
    name: str
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = Field(default_factory=list)
    connectors: list[ConnectorOut] = Field(default_factory=list)
    status: str = Field(description="loaded, failed or disabled")
    error: str | None = None


class MessageChannelOut(BaseModel):
    """A shop's message channel (e.g. TOP's TMC), for shops whose connector has one."""

    open: bool = Field(description="The platform was asked to deliver this shop's messages and agreed "
                                   "(TOP: taobao.tmc.user.permit), and no re-opening is pending.")
    opened_at: datetime | None = Field(default=None, description="When it was last opened (while open).")
    topics: list[str] = Field(default_factory=list, description="Topics opened; empty = every topic "
                                                                "the app subscribes to (or not open).")
    last_error: str | None = Field(default=None, description="The last failure to open or consume it.")
    last_error_at: datetime | None = None
    retry_at: datetime | None = Field(default=None, description="When a failed opening is tried again.")
    last_intake_at: datetime | None = Field(default=None, description="Last successful consume (to ~10 s).")
    held_since: datetime | None = Field(
        default=None, description="Since when the channel is not drained because the hub's processing is behind "
                                  "([queue] inbox_backlog_limit); its messages wait at the platform. Null: drained.")


class ShopOut(BaseModel):
    name: str
    platform: str
    enabled: bool
    capabilities: list[str] = Field(description="What the shop's connector can do; empty if none is installed.")
    connector_installed: bool
    status: str = Field(description="active (everything it needs works), paused (breaker open or "
                                    "authorisation lost: see paused_reason), degraded (running, but its "
                                    "message channel is not open or its last poll failed), disabled, or "
                                    "unknown (no connector, or not started yet). status_reason says why.")
    status_reason: str | None = Field(default=None, description="Why the shop is not active.")
    paused_reason: str | None = None
    paused_until: datetime | None = None
    message_channel: MessageChannelOut | None = Field(
        default=None, description="Its message channel; null when the connector has none.")
    last_poll_ok_at: datetime | None = Field(default=None, description="When a poll last succeeded.")
    last_poll_error: str | None = None
    last_poll_error_at: datetime | None = None


class DeadLetterOut(BaseModel):
    id: int
    actor: str
    queue: str
    reason: str
    error_class: str
    attempts: int
    inbox_id: int | None = None
    created_at: datetime
    replayed_at: datetime | None = None
    replay_count: int = 0
    replayed_by: str | None = Field(default=None, description="Who replayed it last.")


class DeadLetterDetail(DeadLetterOut):
    args: list[Any] = Field(default_factory=list, description="The actor's positional arguments (ids).")
    # Not "kwargs": pydantic's generated __init__ takes **kwargs, and mypy rejects the clash.
    keyword_args: dict[str, Any] = Field(default_factory=dict, description="The actor's keyword arguments.")


class ReplayResult(BaseModel):
    id: int
    replayed: bool
    detail: str


class ActorReplayIn(BaseModel):
    """Replay every open dead letter of one actor, up to the newest one you looked at."""

    actor: str = Field(min_length=1, max_length=100, description="The actor whose dead letters to replay, as "
                                                                  "listed (process_inbox_batch, push_stock...).")
    up_to_id: int = Field(ge=1, le=INT64_MAX, description="The newest dead letter you saw: letters that died "
                                                           "after it are left for you to look at first.")


class ActorReplayResult(BaseModel):
    actor: str
    replayed: list[int] = Field(description="The dead letters sent again, oldest first (each in the audit log).")
    remaining: int = Field(description="Open letters of this actor up to up_to_id still waiting: one call "
                                       "replays at most 200, so call again while this is above 0.")


class UserTagOut(BaseModel):
    """A user tag (``hub.services.search.tags``) as an order shows it."""

    name: str
    colour: str = Field(description="#rrggbb")
    description: str = ""


class OrderSummary(BaseModel):
    id: int
    platform: str
    shop: str
    external_id: str = Field(description="The platform's order id (a string: it may exceed 2^53).")
    status: str
    raw_status: str
    fulfilment_status: str
    on_hold: bool
    total: Money
    buyer_nick: str | None = Field(default=None, description="The platform handle, not a real name.")
    tags: list[str]
    created_at: datetime = Field(description="When the buyer placed it, per the channel.")
    updated_at: datetime = Field(description="The channel's last modification time.")
    paid_at: datetime | None = None
    priority: int = Field(default=0, description="Set by people, -9..9: higher first in the work queues.")
    user_tags: list[UserTagOut] = Field(default_factory=list, description="The merchant's own tags, with colours.")


class OrderList(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class OrderLineOut(BaseModel):
    id: int
    external_id: str
    merchant_sku: str | None
    channel_item_id: str | None
    channel_sku_id: str | None
    title: str
    quantity: int
    unit_price: Money
    status: str | None


class HoldOut(BaseModel):
    id: int
    code: str
    reason: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None


class HoldReleaseIn(BaseModel):
    order_ids: list[Annotated[int, Field(ge=1, le=INT64_MAX)]] = Field(
        min_length=1, max_length=500, description="The orders to release the hold on (at most 500; repeats count "
                                                  "once). All in one transaction.")


class HoldReleaseResult(BaseModel):
    code: str
    released: list[int] = Field(description="Orders whose open hold of this code was released now, each in its "
                                            "history under your name; those with no other open hold proceed.")
    not_held: list[int] = Field(description="Orders with no open hold of this code (released before, or never "
                                            "held for it): nothing changed for them.")
    unknown: list[int] = Field(description="Ids of no order.")


class OrderEventOut(BaseModel):
    id: int
    at: datetime
    kind: str
    old_status: str | None
    new_status: str | None
    cause: str
    actor: str | None
    inbox_id: int | None
    detail: dict[str, Any]


class SourceEventOut(BaseModel):
    """An inbox row an order event came from (the raw payload stays in the inbox)."""

    id: int
    platform: str
    message_id: str
    source: str
    kind: str
    topic: str
    status: str
    received_at: datetime


class ShipmentOut(BaseModel):
    """A shipment and how telling the channel about it went."""

    id: int
    order_id: int
    warehouse: str | None
    status: str = Field(description="pending (the channel is still to be told), confirmed, not_supported "
                                    "(the shop's connector cannot confirm shipments) or failed.")
    parcels: list[Parcel]
    partial: bool = Field(description="True when lines of the order remained unshipped after this shipment.")
    shipped_at: datetime | None
    confirmed_to_channel_at: datetime | None
    attempts: int = Field(description="Calls made to the channel so far.")
    last_error: str | None = Field(description="Why the channel confirmation is still pending, or failed.")
    created_at: datetime
    created_by: str | None = Field(description="The API key that recorded it.")


class AfterSaleSummaryOut(BaseModel):
    """One after-sale case in a list (``hub.services.aftersales.queries.CaseSummary``)."""

    id: int
    platform: str
    shop: str
    external_id: str = Field(description="The platform's case id (hub-<n> for a case opened in the hub).")
    order_id: int | None = Field(description="The hub's order (null while the order is not stored yet).")
    order_external_id: str
    type: str = Field(description="refund_only, return_and_refund, exchange, reissue, repair or other.")
    status: str
    raw_status: str = Field(description="The platform's own status.")
    refund_amount: Money | None = Field(description="What the buyer asks back, when the platform says.")
    reason: str | None
    applied_at: datetime | None = Field(description="When the buyer applied, per the platform.")
    deadline: datetime | None = Field(description="When the platform decides for the buyer without an answer.")
    updated_at: datetime


def aftersale_summary_out(summary: Any) -> AfterSaleSummaryOut:
    """A ``CaseSummary`` as the API shows it."""
    amount = (Money(amount=summary.refund_amount, currency=summary.currency)
              if summary.refund_amount is not None and summary.currency else None)
    return AfterSaleSummaryOut(
        id=summary.id, platform=summary.platform, shop=summary.shop, external_id=summary.external_id,
        order_id=summary.order_id, order_external_id=summary.order_external_id, type=summary.type,
        status=summary.status, raw_status=summary.raw_status, refund_amount=amount, reason=summary.reason,
        applied_at=summary.applied_at, deadline=summary.deadline, updated_at=summary.updated_at)


class OrderDetail(OrderSummary):
    order: Order = Field(description="The canonical order; buyer and address masked unless the key may see them.")
    pii_masked: bool
    lines: list[OrderLineOut]
    holds: list[HoldOut]
    history: list[OrderEventOut]
    source_events: list[SourceEventOut]
    shipments: list[ShipmentOut] = Field(default_factory=list, description="Shipments recorded, oldest first.")
    aftersales: list[AfterSaleSummaryOut] = Field(
        default_factory=list, description="The order's after-sale cases (refunds, returns, exchanges), newest first.")


class WebhookRejected(BaseModel):
    error: str
    detail: str


class ApiKeyOut(BaseModel):
    name: str
    prefix: str = Field(description="Identifies the key in lists and logs; the key starts with chk_<prefix>_.")
    role: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: str | None = Field(default=None, description="Who created it (null for keys made before this "
                                                              "was recorded).")
    revoked_by: str | None = Field(default=None, description="Who revoked it.")
    shops: list[str] | None = Field(default=None, description="The shops the key is limited to; null: every shop.")


class UserOut(BaseModel):
    """A console user (never the password or its hash)."""

    name: str
    role: str
    active: bool
    created_at: datetime
    created_by: str | None = None
    password_changed_at: datetime
    shops: list[str] | None = Field(default=None, description="The shops the user is limited to; null: every shop.")


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Store it now: it is never shown again.")
