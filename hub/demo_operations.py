"""The operations half of ``hub run --demo``: what staff do with orders every day, so the search,
tags, approvals, notifications and reports screens have something to show from the first minute.

``configure`` (at start) gives the demo a search key of its own (``SEARCH_KEY_VAR`` in
``hub-demo.secrets``, so ``hub --config hub-demo.toml orders list --q …`` hashes alike), starts the
notifier sandbox (``plugins.notifiers.sandbox``: a signed webhook receiver and a DingTalk robot,
strict about signatures) and, unless the config has channels of its own, sends the hub's
notifications there (``DEMO_RULES``: held orders, refunds asked for, low stock, sync failing, shop
paused, and the daily summary). ``seed`` adds the demo's user tags (``DEMO_TAGS``) and the SKUs'
cost prices (``DEMO_COSTS``, only where none is set), so the reports show gross profit.

``OperationsDriver`` then works like a person, one move per ``demo_pace()`` at most, through the
same services as the API (attributed to ``DEMO_ACTOR``): it tags the newest held orders "VIP" and
raises their priority, writes a gift-wrap note on a paid Taobao order (written back to the sandbox
by ``taobao.trade.memo.update``), and asks for a price change on an order not paid yet, which
waits in the approval queue for finance (at most ``MAX_PENDING`` at once). ``HUB_DEMO_OPERATIONS=0``
turns the driver off (the tags, costs and channels stay). Never used in production mode.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import secrets
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select

from contracts.order_edits import LineChange, OrderEditKind, OrderEditValues
from hub.demo_fulfilment import demo_pace, run_paced
from hub.services.notifications.settings import NotificationChannel, NotificationRule

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

ENABLED_VAR = "HUB_DEMO_OPERATIONS"
SEARCH_KEY_VAR = "HUB_DEMO_SEARCH_KEY"
WEBHOOK_SECRET_VAR = "HUB_DEMO_WEBHOOK_SECRET"
ROBOT_SECRET_VAR = "HUB_DEMO_ROBOT_SECRET"
DEMO_ACTOR = "demo:operator"
#: Name → (colour, description).
DEMO_TAGS = {"VIP": ("#c0392b", "Big spender: answer first · 大客户优先"),
             "加急": ("#e67e22", "Rush: ship today · 当天发货"),
             "gift": ("#27ae60", "Gift wrap · 礼品包装")}
#: What one unit costs the merchant (CNY), for the reports' gross profit.
DEMO_COSTS = {"DEMO-TEE-M": Decimal("21.00"), "DEMO-TEE-L": Decimal("22.50"), "DEMO-MUG": Decimal("11.00"),
              "DEMO-AC-1P": Decimal("1650.00")}
DEMO_CHANNELS = ("ops-webhook", "ops-robot")
DEMO_RULES = (("order_held", ["ops-robot", "ops-webhook"]), ("refund_requested", ["ops-robot"]),
              ("low_stock", ["ops-webhook"]), ("sync_failing", ["ops-robot"]), ("shop_paused", ["ops-robot"]))
#: Price changes waiting for approval at once.
MAX_PENDING = 2


def enabled() -> bool:
    return os.environ.get(ENABLED_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def configure(hub: Hub, env: Any, server_factory: Any) -> OperationsDriver | None:
    """The demo's search key and notification channels (see the module's docstring); returns the
    driver, or None when ``HUB_DEMO_OPERATIONS`` turns it off."""
    env.secrets.setdefault(SEARCH_KEY_VAR, secrets.token_urlsafe(32))
    if hub.config.search.key_secret == type(hub.config.search)().key_secret:
        hub.config.search.key_secret = SEARCH_KEY_VAR
    section = hub.config.notifications
    if not section.channels:
        sandbox_module = _beside_notifier(hub, "webhook", "sandbox")
        if sandbox_module is None:
            log.warning("demo.notifiers_missing", detail="no webhook notifier with a sandbox is installed")
        else:
            sandbox = sandbox_module.NotifierSandbox()
            server = server_factory(sandbox.app())
            env.servers.append(server)
            env.notifier_sandbox = sandbox
            env.secrets[WEBHOOK_SECRET_VAR] = sandbox.webhook_secret
            env.secrets[ROBOT_SECRET_VAR] = sandbox.dingtalk_secret
            section.channels = {
                "ops-webhook": NotificationChannel(kind="webhook", settings={"url": f"{server.base_url}/webhook"},
                                                   credentials={"secret": WEBHOOK_SECRET_VAR}),
                "ops-robot": NotificationChannel(kind="dingtalk", settings={
                    "access_token": sandbox.dingtalk_token, "url": f"{server.base_url}/robot/send"},
                    credentials={"secret": ROBOT_SECRET_VAR}),
            }
            section.rules = [NotificationRule.model_validate({"event": event, "channels": channels})
                             for event, channels in DEMO_RULES]
            section.daily_summary = section.daily_summary.model_copy(update={"channels": ["ops-robot"]})
            log.info("demo.notifications_configured", url=server.base_url)
    if not enabled():
        log.info("demo.operations_off", variable=ENABLED_VAR)
        return None
    return OperationsDriver(hub)


def _beside_notifier(hub: Hub, name: str, module: str) -> ModuleType | None:
    """``module`` of the plugin package that registered the notifier ``name`` (the hub names no
    plugin: it loads them by entry point); None when it is not installed or ships no such module."""
    cls = hub.plugins.notifier_classes().get(name)
    if cls is None:
        return None
    try:
        return importlib.import_module(f"{cls.__module__.rpartition('.')[0]}.{module}")
    except ImportError:
        return None


async def seed(hub: Hub) -> None:
    """The demo's tags and cost prices, where missing (a restart keeps what a person changed)."""
    from hub.db.tables import OrderTagDefRow, SkuRow
    from hub.services.reports import costs
    from hub.services.search import tags

    try:
        async with hub.database().transaction() as session:
            have = set((await session.execute(select(OrderTagDefRow.name))).scalars())
            for name, (colour, description) in DEMO_TAGS.items():
                if name not in have:
                    await tags.create_tag(session, name, colour=colour, description=description, actor=DEMO_ACTOR)
            unset = set((await session.execute(select(SkuRow.merchant_sku).where(
                SkuRow.merchant_sku.in_(list(DEMO_COSTS)), SkuRow.cost_price.is_(None)))).scalars())
            for sku in sorted(unset):
                await costs.set_cost(session, sku, DEMO_COSTS[sku], actor=DEMO_ACTOR)
    except Exception as exc:  # the demo goes on without them
        log.warning("demo.operations_seed_failed", error=f"{type(exc).__name__}: {exc}"[:300])


class OperationsDriver:
    """Plays the merchant's operations staff (see the module's docstring)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.since_id = 0

    async def _start(self) -> None:
        from hub.db.tables import OrderRow

        async with self.hub.database().session() as session:
            self.since_id = int((await session.execute(select(func.coalesce(func.max(OrderRow.id), 0)))).scalar_one())

    async def run(self, stop: asyncio.Event) -> None:
        await run_paced(stop, name="operations", pace_s=demo_pace() * 2, start=self._start,
                        steps=[("triage", self.triage), ("note", self.gift_note), ("price", self.ask_price)])

    async def triage(self) -> None:
        """Tag this run's newest held orders VIP (once each) and raise their priority."""
        from hub.db.tables import OrderRow, OrderTagLinkRow
        from hub.services.search import tags, triage

        async with self.hub.database().transaction() as session:
            tagged = select(OrderTagLinkRow.order_id)
            ids = list((await session.execute(select(OrderRow.id).where(
                OrderRow.id > self.since_id, OrderRow.on_hold.is_(True), OrderRow.id.not_in(tagged))
                .order_by(OrderRow.id.desc()).limit(2))).scalars())
            if ids:
                await tags.attach(session, "VIP", ids, actor=DEMO_ACTOR)
                await triage.set_priority(session, ids, 5, actor=DEMO_ACTOR, reason="VIP buyer: first in the queue")

    async def gift_note(self) -> None:
        """A gift-wrap note on one paid, unshipped Taobao order of this run without edits yet."""
        from hub.db.tables import OrderEditRow, OrderRow

        async with self.hub.database().session() as session:
            row = (await session.execute(select(OrderRow.id, OrderRow.version).where(
                OrderRow.id > self.since_id, OrderRow.platform == "taobao", OrderRow.status == "paid",
                OrderRow.id.not_in(select(OrderEditRow.order_id))).order_by(OrderRow.id.desc()).limit(1))).first()
        if row is not None:
            await self._edit(row.id, row.version, OrderEditKind.SELLER_NOTE,
                             OrderEditValues(note="礼品包装 · gift wrap, no price tag"), "buyer asked in chat")

    async def ask_price(self) -> None:
        """A 5% discount asked for on one order not paid yet: it waits for finance's approval."""
        from hub.db.tables import OrderEditRow, OrderLineRow, OrderRow

        async with self.hub.database().session() as session:
            # Waiting changes on orders still unpaid (one paid meanwhile can no longer be approved:
            # finance rejects it, and it no longer counts).
            pending = (await session.execute(select(func.count()).select_from(OrderEditRow).join(
                OrderRow, OrderRow.id == OrderEditRow.order_id).where(
                OrderEditRow.status == "pending_approval", OrderRow.status == "pending_payment"))).scalar_one()
            if pending >= MAX_PENDING:
                return
            row = (await session.execute(select(OrderRow.id, OrderRow.version).where(
                OrderRow.id > self.since_id, OrderRow.status == "pending_payment",
                OrderRow.id.not_in(select(OrderEditRow.order_id))).order_by(OrderRow.id.desc()).limit(1))).first()
            if row is None:
                return
            line = (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == row.id)
                                          .order_by(OrderLineRow.id).limit(1))).scalar_one_or_none()
        if line is not None:
            price = (line.unit_price * Decimal("0.95")).quantize(Decimal("0.01"))
            await self._edit(row.id, row.version, OrderEditKind.PRICE,
                             OrderEditValues(lines=[LineChange(line=line.external_id, unit_price=price)]),
                             "returning buyer: 5% off agreed in chat")

    async def _edit(self, order_id: int, version: int, kind: OrderEditKind, values: OrderEditValues,
                    reason: str) -> None:
        from hub.services.order_edits.request import EditAsk, request_edit

        await request_edit(self.hub, order_id, EditAsk(kind=kind, values=values, reason=reason, version=version),
                           actor=DEMO_ACTOR, principal=None)
