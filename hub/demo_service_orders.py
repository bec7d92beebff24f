"""The service-order half of ``hub run --demo``: technicians, Tmall installation work cards and the
work done on them, so the service board always has cards moving, a few open and one overdue.

``configure`` gives the demo's ``[service_orders]`` section (what the operator's config sets is
kept) the Tmall sandbox's service code (``DEMO_SERVICE_CODES``) and a rule for the demo Douyin
shop's installable goods (``DEMO_RULE``: Douyin has no work cards, so the hub creates the
installation order itself once such an order shipped) and returns the driver for the demo Tmall
shop; ``seed_technicians`` adds the demo's technicians once (``DEMO_TECHNICIANS``: two installers,
in 杭州 西湖区 and in 上海, a repair technician, and one who left, inactive).

``ServiceOrdersDriver`` then plays the platform and the technicians, one move per ``demo_pace()``
at most. As this run's Tmall orders of installable goods (``INSTALLABLE_SKUS``) are paid, the Tmall
sandbox issues an installation work card for each (``create_workcard``, in one of
``DEMO_REGIONS``): it reaches the hub over TMC like a real one and the hub assigns it by skill and
region. The driver books each assigned order a few paces later, checks the technician in, and
completes it with the buyer's rating, through the same service as the API
(``lifecycle.take_step``, as ``DEMO_ACTOR``); the rule's Douyin orders are worked on alike. Now and
then the platform raises a service alert on a card (``raise_service_alert``, level 2). At most
``MAX_OPEN`` of its cards are open at once, so the board has a steady few. The first card of a run
is back-dated two days (``BACKDATED``) and never booked, so the board shows one overdue order —
unless an open overdue order is already there (a restart). Every loop logs a failure and goes on.
``HUB_DEMO_SERVICE_ORDERS=0`` turns the driver off (the technicians and the rule stay). Never used
in production mode; not a model of how long real installations take.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any

import structlog

from contracts.service_orders import (
    TERMINAL_SERVICE_STATUSES,
    ServiceOrderAction,
    ServiceOrderStatus,
    ServiceOrderType,
    Technician,
)
from hub.demo_fulfilment import CHINA_TZ, demo_pace, run_paced
from hub.services.service_orders.settings import ServiceRule

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

#: Goods that need installing: the demo Tmall and Douyin shops sell them (``SELLING_PLATFORMS``).
INSTALLABLE_SKUS = {"DEMO-AC-1P": "空调 1.5匹 挂机 · air conditioner 1.5 HP"}
SELLING_PLATFORMS = ("tmall", "douyin")
#: ``HUB_DEMO_SERVICE_ORDERS=0`` (or false, no, off) turns the driver off.
ENABLED_VAR = "HUB_DEMO_SERVICE_ORDERS"
#: Who the technicians' steps are attributed to.
DEMO_ACTOR = "demo:technician"
#: The demo's technicians: two installers (one per region of the demo's cards), a repair
#: technician (never given an installation) and an installer who left (inactive: never given one).
_EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)
_HOURS = {"work_days": _EVERY_DAY, "work_start": clock_time(8, 0), "work_end": clock_time(20, 0)}
DEMO_TECHNICIANS = (
    Technician(code="DEMO-T01", name="王师傅 Wang", mobile="13800000001", skills=frozenset({
        ServiceOrderType.INSTALLATION, ServiceOrderType.MAINTENANCE}), regions=("西湖区",), **_HOURS),
    Technician(code="DEMO-T02", name="李师傅 Li", mobile="13800000002",
               skills=frozenset({ServiceOrderType.INSTALLATION}), regions=("上海市",), **_HOURS),
    Technician(code="DEMO-T03", name="张师傅 Zhang", mobile="13800000003",
               skills=frozenset({ServiceOrderType.REPAIR, ServiceOrderType.MAINTENANCE}), **_HOURS),
    Technician(code="DEMO-T04", name="赵师傅 Zhao", mobile="13800000004",
               skills=frozenset({ServiceOrderType.INSTALLATION}), active=False, **_HOURS),
)
#: Where the demo's work cards are (province, city, district), in turn: the installers' regions.
DEMO_REGIONS = (("浙江省", "杭州市", "西湖区"), ("上海市", "上海市", "浦东新区"))
#: The Tmall sandbox's service code (its own, not Tmall's: Tmall publishes none [U]) in the code table.
DEMO_SERVICE_CODES = {"TMALL_INSTALL": ServiceOrderType.INSTALLATION}
#: The Douyin shop's installable goods get a hub-created installation order once shipped.
DEMO_RULE_SHOP = "demo-douyin"
DEMO_RULE = ServiceRule(shops=[DEMO_RULE_SHOP], skus=["DEMO-AC-*"], type=ServiceOrderType.INSTALLATION,
                        when="shipped")
#: How old the run's first card is said to be: past every installation deadline (72 h is not, but
#: its first milestone, an appointment within 24 h, is), so it shows overdue at once.
BACKDATED = timedelta(days=2)
#: At most this many of the driver's cards open at once (the back-dated one aside).
MAX_OPEN = 4
#: Every this many cards, the platform raises a service alert on one (and on the back-dated one).
ALERT_EVERY = 3
ALERT_LEVEL = 2
#: Paces between a technician's steps on one order (booked, on site, completed).
STEP_PACES = 3
#: A step the hub refused this often is left alone (a person's now).
MAX_TRIES = 3
#: The buyers' ratings, in turn.
RATINGS = (5, 5, 4, 5, 3)
#: Hub order statuses in which the goods are paid for (and not refunded).
PAID = ("paid", "shipped", "delivered")
#: At most this many steps per tick.
BATCH = 10
_TERMINAL = tuple(s.value for s in TERMINAL_SERVICE_STATUSES)


def enabled() -> bool:
    """Whether the driver runs (``HUB_DEMO_SERVICE_ORDERS``, default on)."""
    return os.environ.get(ENABLED_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def sold_by(platform: str, skus: list[str]) -> list[str]:
    """The demo SKUs a demo shop of ``platform`` sells and lists: the installable ones only on
    ``SELLING_PLATFORMS`` (the 3PL that AliExpress orders go to holds none)."""
    return [sku for sku in skus if sku not in INSTALLABLE_SKUS or platform in SELLING_PLATFORMS]


def configure(hub: Hub, env: Any) -> ServiceOrdersDriver | None:
    """Add ``DEMO_RULE`` to ``[service_orders]`` when the config has no rules and the demo has its
    Douyin shop, and return the driver for the demo Tmall shop; None without one (or a sandbox
    that issues work cards), or when ``HUB_DEMO_SERVICE_ORDERS`` turns it off."""
    section = hub.config.service_orders
    if not section.service_codes:
        section.service_codes = dict(DEMO_SERVICE_CODES)
    if not section.rules and DEMO_RULE_SHOP in env.sandboxes:
        section.rules = [DEMO_RULE.model_copy(deep=True)]
    tmall = next(((shop, sandbox) for shop, sandbox in env.sandboxes.items()
                  if hub.config.shops[shop].platform == "tmall" and hasattr(sandbox, "create_workcard")), None)
    if tmall is None:
        log.warning("demo.service_orders_missing", detail="no demo Tmall shop whose sandbox issues work cards")
        return None
    if not enabled():
        log.info("demo.service_orders_off", variable=ENABLED_VAR)
        return None
    log.info("demo.service_orders_started", shop=tmall[0])
    return ServiceOrdersDriver(hub, shop=tmall[0], sandbox=tmall[1], shops=tuple(env.sandboxes))


async def seed_technicians(hub: Hub) -> list[str]:
    """Add the demo technicians missing from the registry (a restart keeps them as a person left
    them); returns the codes added. A registry that cannot take them is logged: the demo goes on."""
    from sqlalchemy import select

    from hub.db.tables import TechnicianRow
    from hub.services.service_orders import technicians

    added: list[str] = []
    try:
        async with hub.database().transaction() as session:
            codes = [t.code for t in DEMO_TECHNICIANS]
            known = set((await session.execute(select(TechnicianRow.code).where(TechnicianRow.code.in_(codes))))
                        .scalars())
            for technician in DEMO_TECHNICIANS:
                if technician.code in known:
                    continue
                created = await technicians.create(session, technician, actor="demo")
                if created.active and not technician.active:
                    await technicians.update(session, technician.code, {"active": False}, actor="demo")
                added.append(technician.code)
    except Exception as exc:  # the rest of the demo does not need them
        log.warning("demo.technicians_not_seeded", reason=f"{type(exc).__name__}: {exc}")
        return []
    if added:
        log.info("demo.technicians_seeded", codes=added)
    return added


@dataclass
class DemoCard:
    """A work card the sandbox issued for the driver: for which order, and what is still to do."""

    external_id: str
    order_id: int
    #: Created back-dated and never booked: the board's overdue order.
    backdated: bool = False
    #: The platform is to raise a service alert on it once the hub has it.
    alert: bool = False


@dataclass
class ServiceOrdersDriver:
    """The demo's Tmall service platform and technicians (see the module docstring); ``run`` until stopped."""

    hub: Hub
    shop: str  # the demo Tmall shop
    sandbox: Any  # plugins.tmall.sandbox.TmallSandbox
    shops: tuple[str, ...]  # the demo shops whose service orders the technicians work on
    pace_s: float = field(default_factory=demo_pace)
    clock: Callable[[], float] = time.monotonic
    max_open: int = MAX_OPEN
    cards: dict[str, DemoCard] = field(default_factory=dict)
    #: The last order and service order ids before this run: the driver acts only on newer ones
    #: (an earlier run's belong to sandboxes that are gone).
    _before_order: int | None = None
    _before_service: int | None = None
    #: Whether this run has its overdue order (issued, or an open one was already there).
    _overdue: bool = False
    _issued: int = 0
    _last_issued: float | None = None
    _carded: set[int] = field(default_factory=set)
    #: (service order id, status) → when first seen so: the next step waits ``STEP_PACES`` paces.
    _seen: dict[tuple[int, str], float] = field(default_factory=dict)
    _tries: dict[tuple[int, str], int] = field(default_factory=dict)
    _left: set[int] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        await run_paced(stop, name="service_orders", pace_s=self.pace_s, start=self._note_last_ids,
                        steps=(("issue", self.issue_card), ("alert", self.raise_alerts), ("work", self.work)))

    async def _note_last_ids(self) -> None:
        from sqlalchemy import func, select

        from hub.db.tables import OrderRow, ServiceOrderRow

        if self._before_service is not None:
            return
        async with self.hub.database().session() as session:
            before_order = int(await session.scalar(select(func.max(OrderRow.id))) or 0)
            before_service = int(await session.scalar(select(func.max(ServiceOrderRow.id))) or 0)
            overdue = await session.scalar(select(ServiceOrderRow.id).where(
                ServiceOrderRow.shop.in_(self.shops), ServiceOrderRow.status.not_in(_TERMINAL),
                ServiceOrderRow.due_at < datetime.now(UTC)).limit(1))
        self._before_order, self._before_service, self._overdue = before_order, before_service, overdue is not None

    # ------------------------------------------------------------------ the hub's view

    async def card_statuses(self) -> dict[str, tuple[int, str]]:
        """The driver's cards the hub has stored: external id → (service order id, status)."""
        from sqlalchemy import select

        from hub.db.tables import ServiceOrderRow

        if not self.cards:
            return {}
        async with self.hub.database().session() as session:
            rows = await session.execute(select(ServiceOrderRow.external_id, ServiceOrderRow.id, ServiceOrderRow.status)
                                         .where(ServiceOrderRow.shop == self.shop,
                                                ServiceOrderRow.external_id.in_(list(self.cards))))
            return {row.external_id: (row.id, row.status) for row in rows}

    async def orders_to_serve(self) -> list[tuple[int, str, str, str | None, str]]:
        """This run's paid Tmall orders with an installable line and no card yet, oldest first:
        (order id, order external id, line external id, merchant SKU, line title)."""
        from sqlalchemy import select

        from hub.db.tables import OrderLineRow, OrderRow

        query = (select(OrderRow.id, OrderRow.external_id, OrderLineRow.external_id.label("line"),
                        OrderLineRow.merchant_sku, OrderLineRow.title)
                 .join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
                 .where(OrderRow.shop == self.shop, OrderRow.id > (self._before_order or 0),
                        OrderRow.status.in_(PAID), OrderLineRow.merchant_sku.in_(list(INSTALLABLE_SKUS)))
                 .order_by(OrderRow.id).limit(50))
        async with self.hub.database().session() as session:
            rows = (await session.execute(query)).all()
        return [(row.id, row.external_id, row.line, row.merchant_sku, row.title) for row in rows
                if row.id not in self._carded]

    # ------------------------------------------------------------------ the platform's moves

    async def issue_card(self) -> DemoCard | None:
        """The sandbox issues a work card for the oldest paid installable order without one, at most
        one per ``2 × pace_s`` and while fewer than ``max_open`` of the driver's cards are open."""
        now = self.clock()
        if self._last_issued is not None and now - self._last_issued < 2 * self.pace_s:
            return None
        statuses = await self.card_statuses()
        open_cards = [card for card in self.cards.values() if not card.backdated
                      and statuses.get(card.external_id, (0, "new"))[1] not in _TERMINAL]
        if len(open_cards) >= self.max_open:
            return None
        orders = await self.orders_to_serve()
        if not orders:
            return None
        order_id, order_external_id, line_external_id, sku, title = orders[0]
        self._carded.add(order_id)  # once, whatever happens next: a refused card is not asked again
        backdated = not self._overdue
        province, city, district = DEMO_REGIONS[self._issued % len(DEMO_REGIONS)]
        today = datetime.now(CHINA_TZ)
        extra = {"created_at": today - BACKDATED} if backdated else {}
        card_id = self.sandbox.create_workcard(
            order_external_id=order_external_id, line_external_id=line_external_id, merchant_sku=sku,
            title=title or INSTALLABLE_SKUS.get(sku or "", sku), province=province, city=city, district=district,
            expect_date=(today + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0), **extra)
        self._issued += 1
        self._last_issued = now
        self._overdue = self._overdue or backdated
        card = DemoCard(str(card_id), order_id, backdated=backdated,
                        alert=backdated or self._issued % ALERT_EVERY == 0)
        self.cards[card.external_id] = card
        log.info("demo.workcard_issued", shop=self.shop, workcard=card.external_id, order_id=order_id,
                 backdated=backdated)
        return card

    async def raise_alerts(self) -> int:
        """The platform raises a level-2 service alert on each card due one, once the hub has it."""
        due = [card for card in self.cards.values() if card.alert]
        if not due:
            return 0
        stored = await self.card_statuses()
        raised = 0
        for card in due:
            if card.external_id not in stored:
                continue
            card.alert = False
            self.sandbox.raise_service_alert(card.external_id, level=ALERT_LEVEL)
            log.info("demo.service_alert_raised", shop=self.shop, workcard=card.external_id)
            raised += 1
        return raised

    # ------------------------------------------------------------------ the technicians' moves

    async def work(self) -> int:
        """Each assigned, booked or on-site order of this run (the back-dated one aside) moves one
        step ``STEP_PACES`` paces after it got there: booked, checked in, completed with a rating."""
        from sqlalchemy import select

        from hub.db.tables import ServiceOrderRow
        from hub.services.service_orders import lifecycle

        held_back = [card.external_id for card in self.cards.values() if card.backdated]
        working = (ServiceOrderStatus.ASSIGNED.value, ServiceOrderStatus.BOOKED.value, ServiceOrderStatus.ON_SITE.value)
        async with self.hub.database().session() as session:
            rows = (await session.execute(
                select(ServiceOrderRow.id, ServiceOrderRow.status, ServiceOrderRow.shop, ServiceOrderRow.external_id)
                .where(ServiceOrderRow.id > (self._before_service or 0), ServiceOrderRow.shop.in_(self.shops),
                       ServiceOrderRow.status.in_(working), ServiceOrderRow.technician_id.is_not(None))
                .order_by(ServiceOrderRow.id))).all()
        now, moved, current = self.clock(), 0, set()
        for row in rows:
            key = (row.id, row.status)
            current.add(key)
            if row.id in self._left or (row.shop == self.shop and row.external_id in held_back) or moved >= BATCH:
                continue
            if now - self._seen.setdefault(key, now) < STEP_PACES * self.pace_s:
                continue
            request = self._step(row.id, ServiceOrderStatus(row.status))
            try:
                await lifecycle.take_step(self.hub, row.id, request, actor=DEMO_ACTOR, cause="demo")
            except Exception as exc:  # refused or the platform did not answer: tried again, then left
                self._tries[key] = tries = self._tries.get(key, 0) + 1
                log.info("demo.technician_step_refused", service_order_id=row.id, action=request.action.value,
                         tries=tries, reason=f"{type(exc).__name__}: {exc}")
                if tries >= MAX_TRIES:
                    self._left.add(row.id)
                self._seen[key] = now
            moved += 1
        for gone in set(self._seen) - current:
            self._seen.pop(gone, None)
        return moved

    def _step(self, service_order_id: int, status: ServiceOrderStatus) -> Any:
        from hub.services.service_orders.lifecycle import StepRequest

        if status is ServiceOrderStatus.ASSIGNED:
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
            return StepRequest(ServiceOrderAction.BOOK, appointment_start=start,
                               appointment_end=start + timedelta(hours=2), note="已与买家约好 · agreed with the buyer")
        if status is ServiceOrderStatus.BOOKED:
            return StepRequest(ServiceOrderAction.CHECK_IN)
        return StepRequest(ServiceOrderAction.COMPLETE, rating=RATINGS[service_order_id % len(RATINGS)],
                           note="安装完成，已试机 · installed and tested")
