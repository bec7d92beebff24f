"""The after-sales half of ``hub run --demo``: buyers who ask for their money back, send goods back
and want another size, so the console always has cases for a person to decide.

``configure`` gives the demo an ``[aftersales]`` section (sections the operator's config already
sets are kept): a return address for each demo shop (the platform's address id, which every demo
platform's agreement carries, and the address itself, which Taobao's needs), the auto-approval of
small refunds before shipment (``DEMO_AUTO_APPROVE_BELOW``), a deadline alert wide enough that the
cases waiting on Taobao, Tmall and Douyin show as due soon (``DEMO_DEADLINE_ALERT_HOURS``), and an
after-sales poll quick enough for AliExpress, whose disputes arrive only by polling.

``AftersalesDriver`` then plays the buyers, one move per ``demo_pace()`` at most, on this run's
orders of every demo shop as the hub knows them: it opens cases in a rotating mix (``DEMO_PLAN``:
refund-only on paid orders nothing of which has shipped — some small enough for the rule, some a
person decides —, return-and-refund and exchange on shipped or delivered ones; AliExpress has no
exchanges) through each sandbox's uniform ``create_aftersale``; it ships the goods back once the
seller agreed (the hub shows the case ``awaiting_return``), confirms a replacement that arrived
(``replacement_shipped``) and, on a sandbox whose platform has no "goods received" API (AliExpress),
has the return parcel delivered (``return_delivered``) once the buyer sent it. A case the hub
decided only locally (no platform API, e.g. a Taobao exchange) gets no more moves: the platform's
case did not move. It keeps at most ``MAX_OPEN`` of its cases open (no more than half of them of
one kind; the small refunds, which the rule settles at once, aside), so the console has a steady
few to decide and is never flooded. Every loop logs a failure and goes on. Never used in
production mode; not a model of how buyers behave.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog

from contracts.aftersales import TERMINAL_AFTERSALE_STATUSES, AfterSaleStatus
from hub.demo_fulfilment import demo_pace, run_paced
from hub.sandbox_ids import run_offset
from hub.services.aftersales.settings import ReturnAddressConfig

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

#: Refund-only cases below this amount, nothing of the order shipped, are approved by the rule.
DEMO_AUTO_APPROVE_BELOW = Decimal("30.00")
#: What a "small" refund of the demo asks (below the rule's threshold; every demo line pays more).
DEMO_SMALL_REFUND = Decimal("12.00")
#: The sandboxes give the seller 48 hours (Taobao, Tmall, Douyin) or 5 days (AliExpress) to answer
#: a request: an alert 72 hours ahead marks the first ones due soon as they arrive, not the last.
DEMO_DEADLINE_ALERT_HOURS = 72.0
#: AliExpress disputes reach the hub only through the after-sales poll (no push is known).
DEMO_POLL_INTERVAL_S = 15.0
#: The demo shops' return address. The ids are numbers because TOP's ``seller_address_id`` and
#: Douyin's ``receiver_address_id`` are; the sandboxes accept any such id (AliExpress any text).
DEMO_RETURN_ADDRESS = {"name": "Demo Returns 演示退货仓", "phone": "13800000000", "province": "浙江省",
                       "city": "杭州市", "district": "余杭区", "detail": "文一西路 1 号 退货仓", "zip_code": "311121"}
DEMO_ADDRESS_IDS = {"taobao": "20001", "tmall": "20002", "douyin": "20003", "aliexpress": "20004"}
#: At most this many of the driver's cases open at once, and at most half of them of one kind.
MAX_OPEN = 6
#: A buyer's move the sandbox refused this often is left alone (a person's now).
MAX_TRIES = 3
#: The courier the demo's buyers send goods back with (every sandbox knows SF).
RETURN_COURIER = "SF"
#: Hub order statuses: nothing shipped yet / the goods are with the buyer (or on their way).
UNSHIPPED = ("paid",)
SHIPPED = ("shipped", "delivered")
#: The order's fulfilment before anything left a warehouse (as the auto-approval rule reads it).
NOTHING_LEFT = ("unfulfilled", "routed", "sent_to_warehouse")
#: Cases the driver no longer counts as open: over, or refused (the ball is with the buyer).
SETTLED = frozenset({*(s.value for s in TERMINAL_AFTERSALE_STATUSES), AfterSaleStatus.REJECTED.value})
#: Statuses in which the case waits for its buyer (to send the goods back, to confirm a replacement).
BUYERS_TURN = frozenset({AfterSaleStatus.AWAITING_RETURN.value, AfterSaleStatus.REPLACEMENT_SHIPPED.value})
#: What ``case_statuses`` says of a case in ``BUYERS_TURN`` by a decision the hub recorded only.
RECORDED_ONLY = "recorded_only"


@dataclass(frozen=True)
class Opening:
    """A case the demo's buyers open: on a shop of ``platform``, of ``kind``; ``small`` asks
    ``DEMO_SMALL_REFUND`` (the rule approves it) instead of what the line paid, on an order the
    review holds (so nothing of it ships before the case arrives)."""

    platform: str
    kind: str
    small: bool = False

    @property
    def before_shipment(self) -> bool:
        return self.kind == "refund_only"


#: The openings of one round of the buyers, in order; an opening no order suits yet (a return
#: before anything shipped), or the caps hold back, waits in its round until it can be made. The
#: demo's AliExpress orders are never held and reach the hub by polling: their refunds are mostly
#: for a person (the interception comes too late for the rule).
DEMO_PLAN = (
    Opening("taobao", "refund_only", small=True),
    Opening("douyin", "return_and_refund"),
    Opening("tmall", "exchange"),
    Opening("aliexpress", "refund_only"),
    Opening("taobao", "return_and_refund"),
    Opening("tmall", "refund_only", small=True),
    Opening("douyin", "exchange"),
    Opening("aliexpress", "return_and_refund"),
    Opening("douyin", "refund_only"),
    Opening("tmall", "return_and_refund"),
    Opening("taobao", "exchange"),
    Opening("taobao", "refund_only"),
)


def configure(hub: Hub, env: Any) -> AftersalesDriver | None:
    """Fill the demo's ``[aftersales]`` section (what the operator's config sets is kept) and
    return the buyers' driver for the demo shops (``env.sandboxes``); None without a shop."""
    section = hub.config.aftersales
    given = section.model_fields_set
    if section.auto_approve_refund_below is None:
        section.auto_approve_refund_below = DEMO_AUTO_APPROVE_BELOW
    if "deadline_alert_hours" not in given:
        section.deadline_alert_hours = DEMO_DEADLINE_ALERT_HOURS
    if "poll_interval_s" not in given:
        section.poll_interval_s = DEMO_POLL_INTERVAL_S
    platforms: dict[str, str] = {}
    for shop, sandbox in env.sandboxes.items():
        platform = str(getattr(sandbox, "platform", "") or hub.config.shops[shop].platform)
        platforms[shop] = platform
        if shop not in section.return_addresses:
            section.return_addresses[shop] = ReturnAddressConfig(
                address_id=DEMO_ADDRESS_IDS.get(platform, "20000"), **DEMO_RETURN_ADDRESS)
    if not platforms:
        return None
    log.info("demo.aftersales_started", shops=sorted(platforms))
    return AftersalesDriver(hub, sandboxes=dict(env.sandboxes), platforms=platforms,
                            numbers=itertools.count(run_offset() + 1))


@dataclass
class DemoCase:
    """A case the driver opened: where, on which hub order, and the buyer's moves made or given up."""

    shop: str
    case_id: str
    kind: str
    order_id: int
    #: Moves made or given up (not tried again) / made.
    done: set[str] = field(default_factory=set)
    made: set[str] = field(default_factory=set)
    tries: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CandidateOrder:
    """One of this run's orders a buyer could open a case on."""

    id: int
    shop: str
    external_id: str
    shipped: bool
    #: Held (by the review): nothing of it ships while a case on it arrives.
    held: bool
    delivered: bool

    def suits(self, opening: Opening) -> bool:
        """A refund-only case before shipment, a return or exchange after; a small refund only on a
        held order (the rule approves it only while nothing has shipped)."""
        if opening.before_shipment:
            return not self.shipped and (self.held or not opening.small)
        return self.shipped


@dataclass
class AftersalesDriver:
    """The demo's buyers after the sale (see the module docstring); ``run`` until stopped."""

    hub: Hub
    sandboxes: dict[str, Any]  # shop -> its channel sandbox
    platforms: dict[str, str]  # shop -> platform
    #: Tracking numbers of the buyers' return parcels (above every earlier run's).
    numbers: Iterator[int]
    pace_s: float = field(default_factory=demo_pace)
    clock: Callable[[], float] = time.monotonic
    max_open: int = MAX_OPEN
    plan: tuple[Opening, ...] = DEMO_PLAN
    cases: dict[tuple[str, str], DemoCase] = field(default_factory=dict)
    #: The last order id before this run: the buyers act only on newer orders (an earlier run's
    #: belong to sandboxes that are gone).
    _before: int | None = None
    #: The plan's openings not yet made in this round (indices): each is made once a round, when
    #: an order suits it and the caps allow, so no kind waits behind another for long.
    _round: list[int] = field(default_factory=list)
    _last_opened: float | None = None
    _tried_orders: set[int] = field(default_factory=set)
    #: When the hub was first seen waiting for the buyer's next move on a case: made ``pace_s`` later.
    _waiting: dict[tuple[str, str, str], float] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        await run_paced(stop, name="aftersales", pace_s=self.pace_s, start=self._note_last_order,
                        steps=(("open", self.open_case), ("follow", self.follow_cases)))

    # ------------------------------------------------------------------ the hub's view

    async def _note_last_order(self) -> None:
        from sqlalchemy import func, select

        from hub.db.tables import OrderRow

        if self._before is None:
            async with self.hub.database().session() as session:
                self._before = int(await session.scalar(select(func.max(OrderRow.id))) or 0)

    async def case_statuses(self) -> dict[tuple[str, str], str]:
        """(shop, case id) → the hub's status, for the driver's cases the hub has stored. A case the
        hub shows waiting for its buyer only because of a decision it recorded only (the platform
        has no API for it: the platform's case did not move, so its buyer has nothing to do) shows
        as ``RECORDED_ONLY``."""
        from sqlalchemy import select

        from hub.db.tables import AfterSaleActionRow, AfterSaleRow

        if not self.cases:
            return {}
        ids = {case_id for _, case_id in self.cases}
        async with self.hub.database().session() as session:
            rows = (await session.execute(select(AfterSaleRow.id, AfterSaleRow.shop, AfterSaleRow.external_id,
                                                 AfterSaleRow.status)
                                          .where(AfterSaleRow.shop.in_(list(self.sandboxes)),
                                                 AfterSaleRow.external_id.in_(ids)))).all()
            mine = {row.id: (row.shop, row.external_id) for row in rows if (row.shop, row.external_id) in self.cases}
            actions = await session.execute(select(AfterSaleActionRow.aftersale_id, AfterSaleActionRow.state)
                                            .where(AfterSaleActionRow.aftersale_id.in_(list(mine)),
                                                   AfterSaleActionRow.state != "failed")
                                            .order_by(AfterSaleActionRow.id))
            last = dict(actions.tuples().all())  # the latest decision per case wins
        return {mine[row.id]: RECORDED_ONLY if last.get(row.id) == "recorded" and row.status in BUYERS_TURN
                else row.status for row in rows if row.id in mine}

    async def candidate_orders(self) -> list[CandidateOrder]:
        """This run's paid (nothing shipped) and shipped or delivered orders without a case, the
        held and delivered ones first, then the newest."""
        from sqlalchemy import exists, or_, select

        from hub.db.tables import AfterSaleRow, OrderRow

        unshipped = (OrderRow.status.in_(UNSHIPPED)) & OrderRow.fulfilment_status.in_(NOTHING_LEFT)
        query = (select(OrderRow.id, OrderRow.shop, OrderRow.external_id, OrderRow.status, OrderRow.on_hold,
                        OrderRow.review_status)
                 .where(OrderRow.id > (self._before or 0), OrderRow.shop.in_(list(self.sandboxes)),
                        or_(unshipped, OrderRow.status.in_(SHIPPED)),
                        ~exists().where(AfterSaleRow.order_id == OrderRow.id))
                 .order_by(OrderRow.id.desc()).limit(500))
        async with self.hub.database().session() as session:
            rows = (await session.execute(query)).all()
        found = [CandidateOrder(id=row.id, shop=row.shop, external_id=row.external_id,
                                shipped=row.status in SHIPPED,
                                held=bool(row.on_hold) or row.review_status == "held",
                                delivered=row.status == "delivered")
                 for row in rows if row.id not in self._tried_orders]
        return sorted(found, key=lambda order: (not (order.held or order.delivered), -order.id))

    # ------------------------------------------------------------------ the buyers' moves

    def _capped(self, opening: Opening, open_cases: list[DemoCase]) -> bool:
        """Whether the caps hold ``opening`` back: ``max_open`` open cases, or half of them of its
        kind. A small refund is not held back: the rule settles it at once."""
        if opening.small:
            return False
        return (len(open_cases) >= self.max_open
                or sum(1 for case in open_cases if case.kind == opening.kind) >= max(1, self.max_open // 2))

    async def open_case(self) -> DemoCase | None:
        """Open the first opening of this round of the plan that an order suits and the caps allow,
        at most one per ``2 × pace_s``."""
        now = self.clock()
        if self._last_opened is not None and now - self._last_opened < 2 * self.pace_s:
            return None
        if not self._round:
            self._round = list(range(len(self.plan)))
        statuses = await self.case_statuses()
        open_cases = [case for key, case in self.cases.items() if statuses.get(key) not in SETTLED]
        if all(self._capped(self.plan[index], open_cases) for index in self._round):
            return None
        candidates = await self.candidate_orders()
        for index in list(self._round):
            opening = self.plan[index]
            if self._capped(opening, open_cases):
                continue
            order = next((o for o in candidates if self.platforms.get(o.shop) == opening.platform and o.suits(opening)),
                         None)
            if order is None:
                continue
            self._round.remove(index)
            self._tried_orders.add(order.id)
            case = self._open(opening, order)
            if case is not None:
                self._last_opened = now
                return case
        return None

    def _open(self, opening: Opening, order: CandidateOrder) -> DemoCase | None:
        amount = DEMO_SMALL_REFUND if opening.small else None
        try:
            case_id = str(self.sandboxes[order.shop].create_aftersale(order.shop, order.external_id, opening.kind,
                                                                      amount=amount))
        except Exception as exc:  # the platform would not take it (its order moved on): try another
            log.info("demo.aftersale_not_opened", shop=order.shop, order=order.external_id, kind=opening.kind,
                     reason=f"{type(exc).__name__}: {exc}")
            return None
        case = DemoCase(order.shop, case_id, opening.kind, order.id)
        self.cases[(order.shop, case_id)] = case
        log.info("demo.aftersale_opened", shop=order.shop, case=case_id, order=order.external_id, kind=opening.kind,
                 amount=str(amount) if amount is not None else "paid")
        return case

    def _next_move(self, case: DemoCase, status: str) -> str | None:
        """The buyer's (or the carrier's) move a case in ``status`` waits for, if any."""
        if status == AfterSaleStatus.AWAITING_RETURN.value:
            return "return_goods"
        if status == AfterSaleStatus.REPLACEMENT_SHIPPED.value:
            return "receive_replacement"
        if (status in (AfterSaleStatus.RETURNED.value, AfterSaleStatus.REFUNDING.value) and "return_goods" in case.made
                and hasattr(self.sandboxes[case.shop], "return_delivered")):
            # A platform with no "received" API of the seller's refunds once the parcel arrives
            # (a person may have confirmed the return in the hub before that).
            return "return_delivered"
        return None

    async def follow_cases(self) -> None:
        """Each case the hub shows waiting for its buyer gets the buyer's move ``pace_s`` later."""
        statuses = await self.case_statuses()
        now = self.clock()
        for key, case in list(self.cases.items()):
            status = statuses.get(key)
            if status is None:
                continue  # not in the hub yet
            if status in SETTLED and status != AfterSaleStatus.REJECTED.value:
                self.cases.pop(key)  # over: no longer counted or followed
                continue
            move = self._next_move(case, status)
            if move is None or move in case.done:
                continue
            seen = self._waiting.setdefault((*key, move), now)
            if now - seen < self.pace_s:
                continue
            if not self._make(case, move):
                self._waiting[(*key, move)] = now  # refused: tried again a pace later, a few times

    def _make(self, case: DemoCase, move: str) -> bool:
        """Make ``move`` on the sandbox; False when the platform refused it."""
        sandbox = self.sandboxes[case.shop]
        try:
            if move == "return_goods":
                sandbox.buyer_returns_goods(case.shop, case.case_id, tracking_number=f"SF{next(self.numbers)}",
                                            company=RETURN_COURIER)
            elif move == "receive_replacement":
                sandbox.buyer_receives_replacement(case.shop, case.case_id)
            else:
                sandbox.return_delivered(case.shop, case.case_id)
        except Exception as exc:  # the platform's case is elsewhere (decided only in the hub): a few tries
            case.tries[move] = case.tries.get(move, 0) + 1
            if case.tries[move] >= MAX_TRIES:
                case.done.add(move)
            log.info("demo.aftersale_move_refused", shop=case.shop, case=case.case_id, move=move,
                     tries=case.tries[move], reason=f"{type(exc).__name__}: {exc}")
            return False
        case.done.add(move)
        case.made.add(move)
        log.info("demo.aftersale_buyer_moved", shop=case.shop, case=case.case_id, move=move)
        return True
