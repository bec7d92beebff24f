"""The connector protocols plugins implement: channels, couriers and warehouses.

A plugin's registration hook returns connector *classes*; the hub instantiates one per configured
account (shop, courier account, warehouse) with a ``ConnectorContext``. Every class declares
``platform``, ``capabilities`` and a pydantic ``Settings`` model; the hub validates a shop's config
against ``Settings`` at start-up and calls only the methods whose capability is declared. A
connector declares only what it really does: nothing pretends.

All partner I/O is ``async``. Errors are raised as the hub's error classes (``hub.errors``):
``RetryableError`` for transient faults (with ``retry_after`` when the partner says how long),
``PermanentError`` for bad data or a partner's final refusal, ``AuthorizationError`` when the
account must be re-authorised (the hub pauses it and shows the reason), ``SignatureError`` for a
push that fails verification, ``BadInputError`` for a malformed push. Never return ``None`` to
mean failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from contracts.aftersales import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    RefuseReason,
)
from contracts.events import InboundMessage, OrderPage, PushReceipt
from contracts.inventory import ChannelStock, ChannelStockChange, ChannelStockReading, StockLevel, StockPushResult
from contracts.listings import ListingPage
from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditResult
from contracts.orders import Address, Order
from contracts.service_orders import ServiceOrder, ServiceOrderStep, ServiceStepResult
from contracts.shipments import Shipment, ShipmentConfirmation, TrackingEvent
from contracts.waybills import Waybill, WaybillRequest


class Capability(StrEnum):
    """What a connector can do. The hub reads these; ``hub plugins`` and the API list them."""

    # channels
    POLL_ORDERS = "poll_orders"  # fetch_orders(window)
    GET_ORDER = "get_order"  # get_order(id)
    # get_orders(ids, modified_between): many orders per partner call (a list call over the window
    # the triggering messages name); ids it does not return are fetched one by one with get_order.
    GET_ORDERS = "get_orders"
    RECEIVE_PUSH = "receive_push"  # parse_push(headers, body): HTTP webhooks
    # One push URL for all the shops of one platform app (POST /webhooks/{platform}): push_app_of,
    # push_app and account_id; each parsed message names its shop in InboundMessage.account_id.
    RECEIVE_APP_PUSH = "receive_app_push"
    MESSAGE_CHANNEL = "message_channel"  # open_message_channel / consume_messages / confirm_messages (TMC)
    PUSH_STOCK = "push_stock"  # push_stock(values)
    ADJUST_STOCK = "adjust_stock"  # adjust_stock(changes): relative changes (partitioned groups)
    READ_STOCK = "read_stock"  # read_stock(listings), for reconciliation
    CONFIRM_SHIPMENT = "confirm_shipment"  # confirm_shipment(order, shipment)
    AFTERSALES = "aftersales"  # fetch_aftersales / get_aftersale
    # decide_aftersale(case, decision) / aftersale_refuse_reasons(case); ``aftersale_actions`` lists
    # the AfterSaleActions the platform has an API for (the hub records the others itself).
    DECIDE_AFTERSALES = "decide_aftersales"
    SERVICE_ORDERS = "service_orders"  # fetch_service_orders / get_service_order
    # write_service_order(order, step); ``service_order_writes`` lists the ServiceOrderActions the
    # platform has an API for (the hub records the others itself).
    WRITE_SERVICE_ORDERS = "write_service_orders"
    # edit_order(request); ``order_edit_kinds`` lists the OrderEditKinds the platform has an API
    # for (the hub records the others itself, local-only).
    EDIT_ORDERS = "edit_orders"
    REVEAL_BUYER = "reveal_buyer"  # reveal_address(order): decrypt for roles that may see it
    AUTHORIZE = "authorize"  # authorize(code): exchange a merchant's authorisation code for tokens
    LIST_LISTINGS = "list_listings"  # fetch_listings(cursor): the shop's items and SKUs, for binding
    # couriers
    CREATE_WAYBILL = "create_waybill"
    TRACK = "track"
    RECEIVE_TRACKING_PUSH = "receive_tracking_push"
    # warehouses
    DELIVERY_ORDERS = "delivery_orders"
    QUERY_STOCK = "query_stock"
    RECEIVE_WAREHOUSE_PUSH = "receive_warehouse_push"


class ShopAuthorization(BaseModel):
    """What a platform says about a shop it has just authorised the app for (``authorize``)."""

    model_config = ConfigDict(frozen=True)

    #: The hub's name of the shop.
    shop: str
    #: The platform's id of the authorised shop (or seller account).
    account_id: str
    account_name: str | None = None
    #: When the access token expires; the connector refreshes it before then by itself.
    expires_at: datetime | None = None


class ShopState(Protocol):
    """Small persistent key/value state per account (tokens, cursors), kept by the hub."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class ConnectorContext(Protocol):
    """What the hub hands a connector when it instantiates it for one account."""

    #: The account's configured name (``[shops.<name>]`` in hub.toml).
    name: str
    platform: str
    #: The validated ``Settings`` instance (config table merged with resolved credentials).
    settings: Any
    #: Persistent per-account state.
    state: ShopState
    #: Wait for the account's rate limit (the per-shop token bucket). Call before each request.
    throttle: Callable[[], Awaitable[None]]


class Connector(Protocol):
    """What every connector class has."""

    platform: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    Settings: ClassVar[type[BaseModel]]

    def __init__(self, context: ConnectorContext) -> None: ...

    async def aclose(self) -> None:
        """Release HTTP clients and other resources. Called once at shutdown."""
        ...


@runtime_checkable
class ChannelConnector(Connector, Protocol):
    """A sales channel account (a shop). Implement the methods your capabilities name.

    ``max_stock_batch`` is how many ``ChannelStock`` values (or changes) one ``push_stock`` (or
    ``adjust_stock``) call may carry (TOP: 20); the hub batches accordingly.
    ``stock_adjust_idempotent`` is True when the platform applies a change sent twice with the
    same key once (Tmall ``outer_biz_key``, Douyin ``idempotent_id``); the hub then resends a
    change whose answer was lost, and otherwise never resends it.

    Optional, with ``CONFIRM_SHIPMENT``: ``courier_known(courier_code: str) -> bool | None``, no
    I/O — whether ``confirm_shipment`` can name this hub courier code (any case; compare it through
    ``contracts.canonical_courier_code``) to the platform: True, False (surely not: the API then
    refuses the shipment with 422 instead of recording one whose confirmation must fail), or None
    (cannot tell without asking the platform). A connector without it is treated as None.
    """

    max_stock_batch: ClassVar[int]
    stock_adjust_idempotent: ClassVar[bool]

    async def fetch_orders(self, start: datetime, end: datetime, cursor: str | None) -> OrderPage:
        """Orders modified in ``[start, end)``; page with ``cursor`` until ``next_cursor`` is None."""
        ...

    async def get_order(self, external_id: str) -> Order: ...

    async def get_orders(
        self, external_ids: Sequence[str], *, modified_between: tuple[datetime, datetime] | None = None
    ) -> OrderPage:
        """With ``GET_ORDERS``: as many of ``external_ids`` as the platform's list calls give, in as
        few calls as it allows. ``modified_between`` is the hub's hint: the messages that asked for
        these orders were raised in that window (allow for clock skew), so a list call over it
        (TOP ``trades.sold.increment.get``, Douyin ``order.searchList`` by update time) finds them.
        Return only the asked-for orders (``next_cursor`` None), each as complete as ``get_order``
        gives it (leave out one the list answer describes less fully); put ids whose data did not
        map in ``rejected`` (id → reason); ids missing from both are fetched with ``get_order``.
        Must not page through more than a few times the asked-for count: a busy window costs more
        calls than fetching each order alone, so give up (return what was found) instead
        (``hub.plugin_api.bulk_listing_pays``). Without a window, ask nothing."""
        ...

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushReceipt:
        """Verify a push on the raw bytes and parse it; raise ``SignatureError``/``BadInputError``."""
        ...

    @classmethod
    def push_app_of(cls, headers: Mapping[str, str]) -> str | None:
        """The platform app a push to the app-level URL says it comes from (``RECEIVE_APP_PUSH``).

        Read from the headers *before* any verification, only to pick the shops whose
        ``push_app()`` matches; one of them then verifies the push with ``parse_push``. ``None``
        when the request names no app (the hub answers 401).
        """
        ...

    def push_app(self) -> str:
        """The platform app this shop is authorised to, whose pushes it receives (Douyin
        ``app_key``). Shops of one app share its credentials, so any of them can verify its pushes."""
        ...

    def account_id(self) -> str:
        """The platform's own id of this shop (Douyin ``shop_id``), as ``InboundMessage.account_id``
        names it. On the app-level URL the hub hands each message to the shop whose ``account_id()``
        it names; on the per-shop URL it rejects a message that names another shop. Implement it
        whenever your messages set ``account_id``, app-level URL or not."""
        ...

    async def open_message_channel(self) -> list[str]:
        """Ask the platform to deliver this account's messages (TOP: ``taobao.tmc.user.permit``
        with the seller's session and the topics the plugin maps); return the topics opened
        (``[]``: every topic the app subscribes to).

        Must be safe to call again (the hub calls it at start, after the shop is resumed or
        re-authorised, and again after a failure, with backoff). The hub consumes only once it has
        succeeded: raise ``AuthorizationError`` when the session is invalid, ``RetryableError``
        for a transient fault, ``PermanentError`` when the platform refuses (e.g. a topic the app
        is not subscribed to). A platform whose channel needs no opening returns ``[]`` at once.
        """
        ...

    async def consume_messages(self, limit: int) -> list[InboundMessage]:
        """Take up to ``limit`` messages from the platform's message channel (not yet confirmed).
        Called only after ``open_message_channel`` succeeded."""
        ...

    async def confirm_messages(self, message_ids: list[str]) -> None:
        """Acknowledge messages; called only after they are durably in the hub's inbox."""
        ...

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        """Set absolute quantities; report one result per value, in any order.

        ``ok=False`` for a value the platform refused; with ``retryable=True`` (a transient fault,
        or ``outcome_unknown=True``: a lost answer) the hub pushes it again later and, in a
        partitioned group, counts it as possibly applied.
        """
        ...

    async def adjust_stock(self, changes: list[ChannelStockChange]) -> list[StockPushResult]:
        """Change what the shop shows by ``delta`` per listing (the platform's incremental update).

        Report one result per change: ``ok=False`` when the platform certainly did not apply it
        (a refusal for that SKU), ``ok=False, outcome_unknown=True`` when its answer was lost (a
        timeout); ``quantity`` = what the shop shows after, when the platform says; ``applied`` =
        the change really made, when the platform says. A decrement whose ``applied`` is unknown
        is credited in full only when ``quantity`` > 0 afterwards (it cannot have been cut short
        at 0); otherwise the hub assumes it removed nothing, and a change with an unknown outcome
        counts as made if it is a raise and as not made if it is a decrement. Raise
        ``ThrottledError`` or ``AuthorizationError`` (nothing applied, the shop must back off) and
        ``RetryableError`` (the outcome of the whole call is unknown) as for ``push_stock``. Never
        resend a change inside the connector unless the platform deduplicates it by ``key``.
        """
        ...

    async def read_stock(self, listings: list[ChannelStock]) -> list[ChannelStockReading]: ...

    async def confirm_shipment(self, order: Order, shipment: Shipment) -> ShipmentConfirmation:
        """Tell the channel the order shipped. Must be safe to call twice (check first)."""
        ...

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]: ...

    async def get_aftersale(self, external_id: str) -> AfterSale: ...

    #: DECIDE_AFTERSALES: the decisions this platform has a write API for; the hub records the
    #: others locally and says so (e.g. a platform with no "goods received" call).
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]]

    async def decide_aftersale(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        """Write a merchant's decision on ``case`` back to the platform (DECIDE_AFTERSALES).

        ``case`` is the hub's copy (with ``version`` and ``extra`` as the connector mapped them).
        Must be safe to call twice with the same ``decision.key`` (a retry after a timeout): where
        the platform keeps no key, read the case first and treat "already in the state this
        decision leads to" as done. Raise ``StaleAfterSaleError`` (``hub.plugin_api``) with the
        platform's current case when it moved on (stale version, closed, another decision taken),
        ``BadInputError`` naming the field for a value the platform refuses (an amount above what
        was paid, a reason not in its list), ``RetryableError`` for a transient fault. Return
        ``written_back=False`` with a ``note`` for a step the platform has no API for."""
        ...

    async def aftersale_refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        """The platform's reasons for refusing ``case`` now (DECIDE_AFTERSALES); empty when the
        platform takes free text only. Read-only."""
        ...

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        """The service orders created or changed in ``[start, end)`` (SERVICE_ORDERS), full. The hub
        splits its poll into windows no longer than the connector's ``max_service_window_s`` (when
        it declares one) and re-reads an overlap; read-only, retried freely."""
        ...

    async def get_service_order(self, external_id: str) -> ServiceOrder:
        """One service order, full, by the platform's id (SERVICE_ORDERS): what a message that
        only names one (a trigger) is completed with. ``NotFoundError`` when the platform has none."""
        ...

    async def write_service_order(self, order: ServiceOrder, step: ServiceOrderStep) -> ServiceStepResult:
        """Write one step a person took on ``order`` back to the platform (WRITE_SERVICE_ORDERS).

        ``order`` is the hub's copy (with ``extra`` as the connector mapped it). Safe to call twice
        with the same ``step.key``. Raise ``BadInputError`` naming the field for a value the
        platform refuses, ``PermanentError`` when the platform refuses the step (e.g. the session
        may not write work cards), ``RetryableError`` for a transient fault. Return
        ``written_back=False`` with a ``note`` for a step the platform has no API for."""
        ...

    #: EDIT_ORDERS: the edits this platform has a write API for; the hub keeps the others local-only.
    order_edit_kinds: ClassVar[frozenset[OrderEditKind]]

    async def edit_order(self, request: OrderEditRequest) -> OrderEditResult:
        """Write one edit a person made to ``request.order`` back to the platform (EDIT_ORDERS).

        Safe to call twice with the same ``request.key`` (the edits are "set to", so a repeat
        lands on the same state). Raise ``BadInputError`` naming the field for a value the
        platform refuses (too long, wrong status), ``PermanentError`` for a final refusal,
        ``RetryableError`` for a transient fault. Return ``written_back=False`` with a ``note``
        for a kind the platform has no API for."""
        ...

    async def reveal_address(self, order: Order) -> Address:
        """Decrypt the order's shipping address for a role allowed to see it."""
        ...

    async def authorize(self, code: str) -> ShopAuthorization:
        """Exchange ``code`` — what the platform hands over when the merchant authorises the app
        (OAuth authorisation-code grant) — for tokens, and keep them in ``context.state``.

        The connector refreshes the tokens by itself from then on (before they expire, and when
        the platform says they did); when it cannot it raises ``AuthorizationError`` and the hub
        pauses the shop until an operator authorises it again. Raise ``BadInputError`` with the
        platform's reason for a code it refuses (expired, used, for another shop) and nothing is
        stored; ``RetryableError`` when the platform could not be asked. Called by ``hub shop
        authorize`` and ``POST /api/v1/shops/{shop}/authorize``; the hub then resumes a shop that
        was paused for its authorisation.
        """
    async def fetch_listings(self, cursor: str | None) -> ListingPage:
        """One page of the shop's listings (``contracts.ChannelListing``: item id, SKU id, merchant
        code, title, quantity shown, status), from the first page when ``cursor`` is None; the hub
        calls again with ``next_cursor`` until it is None. Item and SKU ids must be the ones the
        connector's order lines carry, so a listing bound from this page is the one an order names.
        Read-only: retried freely."""
        ...


@runtime_checkable
class CourierConnector(Connector, Protocol):
    """A courier account: waybills and tracking."""

    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        """Issue a waybill number for one parcel (CREATE_WAYBILL). ``request.key`` is an
        idempotency key: asked again with the same key (a retry after a timeout), return the
        waybill issued the first time, never a second one."""
        ...

    async def cancel_waybill(self, courier_code: str, waybill_number: str) -> bool:
        """Cancel (recycle) an issued waybill that will not be used (CREATE_WAYBILL). True when
        cancelled, or already cancelled; False when the provider says it can no longer be
        (collected already)."""
        ...

    async def track(self, tracking_number: str, courier_code: str | None = None) -> list[TrackingEvent]:
        """Tracking events for a waybill; ``courier_code`` is the hub courier code when known."""
        ...

    def parse_tracking_push(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]: ...


@runtime_checkable
class WarehouseConnector(Connector, Protocol):
    """A warehouse (WMS): delivery orders out, stock and shipment reports in."""

    async def create_delivery_order(self, order: Order, lines: list[str], key: str) -> str:
        """Ask the warehouse to ship ``lines`` of ``order``; returns the warehouse's order code."""
        ...

    async def cancel_delivery_order(self, code: str) -> bool: ...

    async def query_stock(self, merchant_skus: list[str]) -> list[StockLevel]: ...

    def parse_warehouse_push(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> Any:
        """Verify and parse a WMS callback (shipment confirmation, stock change report).

        ``query`` carries the URL query parameters (Qimen signs ``method``, ``timestamp`` and
        ``sign`` there). Raise ``SignatureError`` / ``BadInputError`` on bad input.
        """
        ...


@runtime_checkable
class ChannelSandbox(Protocol):
    """An in-process emulator of a partner, returned by ``register_sandboxes``.

    ``app`` is an ASGI application speaking the partner's real protocol. The hub's demo mode and
    benchmarks start it on a local port, configure a shop against it with ``shop_settings`` and
    drive it with ``demo_step``.
    """

    platform: ClassVar[str]
    app: Any
    #: The merchant SKUs ``demo_step`` orders; the hub's demo sets it to its demo catalogue.
    demo_skus: list[str]

    def shop_settings(self, shop: str, base_url: str) -> dict[str, Any]:
        """Settings (credential values included) for a hub shop that talks to this sandbox."""
        ...

    def set_push_target(self, shop: str, url: str | None) -> None:
        """Where the sandbox sends HTTP pushes for ``shop`` (the hub's webhook URL); a sandbox of a
        platform without HTTP pushes records it and ignores it."""
        ...

    async def demo_step(self, shop: str) -> None:
        """Create an order or move one along, as a real shop would in a busy minute."""
        ...

    def create_order(self, shop: str, merchant_sku: str, quantity: int = 1, *, paid: bool = True) -> str:
        """Create an order in the emulated shop (a listing of ``merchant_sku`` is created if
        needed) and queue the platform's events for it; returns the platform's order id."""
        ...

    def advance_order(self, shop: str, external_id: str) -> str:
        """Move an order one step along its platform's normal path; returns the new raw status."""
        ...

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 1.0) -> None:
        """Make the next ``count`` API calls fail: ``"throttle"`` (the platform's rate-limit error,
        ban of ``seconds``), ``"unavailable"`` (its transient server error), ``"auth"`` (session or
        token invalid), or ``"slow"`` (answer after ``seconds``)."""
        ...

    def shown_stock(self, shop: str, merchant_sku: str) -> int | None:
        """What the emulated shop shows for ``merchant_sku`` now (None if not listed)."""
        ...


def declared(connector: type[Any], capability: Capability) -> bool:
    """True when the connector class declares ``capability``."""
    return capability in getattr(connector, "capabilities", frozenset())
