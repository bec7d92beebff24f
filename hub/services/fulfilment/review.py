"""The review (审单) of paid orders: the ``[fulfilment.review]`` strategies and the ``audit_order``
hook decide whether an order goes on to fulfilment or waits, held with every reason, for a person.

``review_orders`` reviews a batch inside the caller's transaction (the order follow-up's, so the
holds, the review outcome, its history and the hand-over to the flow commit with the stock): a
set-based handful of statements whatever the batch's size. An order claims its first review
(``review_status`` still None), so a message delivered twice reviews once; a review run again by
a person (``review_again``) never re-opens a hold a person released. An approved order is handed
to the flow by an outbox row for ``FULFIL_ACTOR``; the flow checks the order's other holds (stock
short...) itself. A person approves, holds and releases (``approve``, ``hold``, ``release``), each
attributed; releasing the last review hold approves the order (``after_release``, from the
follow-up of every release). Not for the flow after approval (``flow``) nor for rendering.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from contracts.orders import Order, OrderStatus
from hub.context import Hub
from hub.db import outbox
from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import OrderEventRow, OrderHoldRow, OrderRow
from hub.errors import BadInputError, HubError, NotFoundError
from hub.services import orders
from hub.services.fulfilment import flow
from hub.services.fulfilment.flow_actor import FULFIL_ACTOR
from hub.services.fulfilment.settings import ReviewSettings
from hub.services.order_holds import add_holds

APPROVED, HELD, WAITING = "approved", "held", "waiting"
#: One hold code per strategy.
AMOUNT, REMARK, REGION, BLACKLIST, SKU_COMBO, ADDRESS, RISK = (
    "review_amount", "review_remark", "review_region", "review_blacklist", "review_sku_combo", "review_address",
    "review_risk")
#: ``[rules] high_value_hold_amount`` (kept as it was before the review had its own amount rule).
LEGACY_HIGH_VALUE = "high_value"
#: A person's hold (any reason), and the hold of an order waiting for a person (``auto = false``).
MANUAL, WAITING_CODE = "manual", "review_waiting"
#: Codes the review owns whoever set them; plugins' codes are owned once a review named them.
REVIEW_CODES = frozenset({AMOUNT, REMARK, REGION, BLACKLIST, SKU_COMBO, ADDRESS, RISK, LEGACY_HIGH_VALUE, MANUAL,
                          WAITING_CODE})
#: Order statuses a review applies to: paid and not (all) shipped.
REVIEWABLE = frozenset({OrderStatus.PAID.value, OrderStatus.PARTIALLY_SHIPPED.value})
EVENT = "reviewed"
CAUSE = "review"
#: The cause of a release by a review run again (the rule no longer applies): such a hold comes back
#: when the rule applies again, unlike one a person released.
AGAIN_CAUSE = "review_again"
MAX_REASON = 500
MAX_LIMIT = 200
_CURSOR = "review:"
#: A queue cursor packs (priority, id) in one number: priorities are -9..9 (``hub.services.search.triage``),
#: shifted to 0..18, times a span above any order id.
PRIORITY_SHIFT = 10
ID_SPAN = 10**15


class ReviewConflict(HubError):
    """The order is not in a state the asked review action applies to (cancelled, shipped...)."""


# --------------------------------------------------------------------------- strategies


def _matches(value: str | None, listed: Iterable[str]) -> str | None:
    """The listed name ``value`` begins with (case-insensitive), so 新疆 matches 新疆维吾尔自治区."""
    if not value:
        return None
    text = value.strip().casefold()
    return next((name for name in listed if text.startswith(name.casefold())), None)


def _risky(value: Any, listed: list[str]) -> bool:
    if listed:
        return str(value) in listed
    return value not in (None, False, 0, "", "0", [], {})


def strategy_holds(settings: ReviewSettings, order: Order, *, routed_by_hub: bool = True) -> list[Hold]:
    """The holds the configured strategies call for, one per failing strategy, each naming why.
    Reasons name no personal data (no remark text, no buyer, no street). ``routed_by_hub``: the
    flow routes orders without a person (``flow.automatic``), which turns the address check on
    when ``hold_on_incomplete_address`` is unset."""
    holds: list[Hold] = []
    if settings.amount_above is not None and order.total.amount > settings.amount_above:
        holds.append(Hold(code=AMOUNT, reason=f"order total {order.total.amount} {order.total.currency} is above "
                                              f"{settings.amount_above} ([fulfilment.review] amount_above)"))
    remarks = [who for who, on, note in (("buyer remark", settings.hold_on_buyer_remark, order.buyer_note),
                                         ("seller remark", settings.hold_on_seller_remark, order.seller_note))
               if on and note and note.strip()]
    if remarks:
        holds.append(Hold(code=REMARK, reason=f"the order has a {' and a '.join(remarks)}: read before shipping"))
    address = order.shipping_address
    region = []
    if address is not None and (name := _matches(address.province, settings.provinces)):
        region.append(f"province {address.province} ({name} is listed in provinces)")
    if address is not None and (name := _matches(address.city, settings.cities)):
        region.append(f"city {address.city} ({name} is listed in cities)")
    if region:
        holds.append(Hold(code=REGION, reason="recipient " + " and ".join(region)))
    buyer_ids = {order.buyer.nick, order.buyer.platform_buyer_id} - {None, ""}
    if buyer_ids & set(settings.blacklisted_buyers):
        holds.append(Hold(code=BLACKLIST, reason="the buyer is listed in [fulfilment.review] blacklisted_buyers"))
    skus = {line.merchant_sku for line in order.lines if line.merchant_sku}
    combos = [" + ".join(combo) for combo in settings.sku_combinations if set(combo) <= skus]
    if combos:
        holds.append(Hold(code=SKU_COMBO, reason="the order contains SKUs held together: " + "; ".join(combos)))
    check_address = settings.hold_on_incomplete_address
    if check_address is None:
        check_address = routed_by_hub
    if check_address:
        if address is None:
            holds.append(Hold(code=ADDRESS, reason="the order has no shipping address"))
        else:
            missing = [f for f in settings.address_fields if not (getattr(address, f) or "").strip()]
            if missing:
                holds.append(Hold(code=ADDRESS, reason=f"the shipping address has no {', '.join(missing)}"))
    flags = [f"tag {tag}" for tag in settings.risk_tags if tag in order.tags]
    flags += [f"{key}={order.extra[key]}" for key, listed in settings.risk_extra.items()
              if key in order.extra and _risky(order.extra[key], listed)]
    if flags:
        holds.append(Hold(code=RISK, reason="platform risk flag: " + ", ".join(flags)))
    return holds


def evaluate(hub: Hub, row: OrderRow) -> list[Hold]:
    """Every reason ``row`` fails review for: the strategies, ``[rules] high_value_hold_amount``
    and every plugin's ``audit_order`` (their codes kept), one hold per code (the first wins)."""
    order = orders.stored_order(row)
    holds = strategy_holds(hub.config.fulfilment.review, order, routed_by_hub=flow.automatic(hub))
    limit = hub.config.rules.high_value_hold_amount
    if limit is not None and order.total.amount > Decimal(str(limit)):
        holds.append(Hold(code=LEGACY_HIGH_VALUE, reason=f"order total {order.total} is above {limit}"))
    for result in hub.plugins.hook.audit_order(order=order, order_id=row.id, shop=row.shop):
        holds.extend(result or [])
    seen: dict[str, Hold] = {}
    for hold in holds:
        seen.setdefault(hold.code, hold)
    return list(seen.values())


# --------------------------------------------------------------------------- reviewing a batch


@dataclass
class ReviewResult:
    """What a review of a batch did: the orders by outcome (those it reviewed; a first review of an
    order reviewed already is left out)."""

    approved: list[int] = field(default_factory=list)
    held: dict[int, list[Hold]] = field(default_factory=dict)
    waiting: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


async def _holds_of(session: AsyncSession, order_ids: Sequence[int]) -> list[OrderHoldRow]:
    return list((await session.execute(select(OrderHoldRow).where(OrderHoldRow.order_id.in_(order_ids))))
                .scalars())


async def _released_by_review(session: AsyncSession, order_ids: Sequence[int]) -> set[tuple[int, str]]:
    """(order, code) pairs whose last release was a review run's, not a person's."""
    rows = await session.execute(select(OrderEventRow.order_id, OrderEventRow.cause, OrderEventRow.detail).where(
        OrderEventRow.order_id.in_(order_ids), OrderEventRow.kind == "hold_released").order_by(OrderEventRow.id))
    last: dict[tuple[int, str], str] = {}
    for order_id, cause, detail in rows.all():
        last[(order_id, str((detail or {}).get("code")))] = cause
    return {pair for pair, cause in last.items() if cause == AGAIN_CAUSE}


async def _named_codes(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per order, the hold codes its reviews named (plugins' codes the review owns from then on)."""
    rows = await session.execute(select(OrderEventRow.order_id, OrderEventRow.detail).where(
        OrderEventRow.order_id.in_(order_ids), OrderEventRow.kind == EVENT))
    out: dict[int, set[str]] = {}
    for order_id, detail in rows.all():
        out.setdefault(order_id, set()).update(str(r.get("code")) for r in (detail or {}).get("reasons", []))
    return out


async def _set_status(session: AsyncSession, by_status: dict[str, list[int]], now: datetime, *,
                      first: bool) -> set[int]:
    """Set each order's review status (a first review only where none is set yet): the ids set."""
    done: set[int] = set()
    for status, ids in by_status.items():
        if not ids:
            continue
        stmt = update(OrderRow).where(OrderRow.id.in_(ids))
        if first:
            stmt = stmt.where(OrderRow.review_status.is_(None))
        result = await session.execute(stmt.values(review_status=status, reviewed_at=now)
                                       .returning(OrderRow.id).execution_options(synchronize_session=False))
        done.update(int(i) for i in result.scalars())
    return done


async def review_orders(session: AsyncSession, hub: Hub, rows: Sequence[OrderRow], *, actor: str | None = None,
                        again: bool = False) -> ReviewResult:
    """Review ``rows`` in the caller's transaction: every reason becomes a hold (``add_holds``), the
    order's ``review_status`` is set, a ``reviewed`` event written, approved orders handed to the flow.

    A first review (``again`` false) applies only to orders not reviewed yet (claimed by the status
    update, so a duplicated message reviews once). ``again``: a person asked after a change of the
    rules; review holds no longer called for are released under ``actor``. Either way a hold a
    person released is not put back, and an open manual hold keeps the order held.
    """
    result = ReviewResult()
    rows = list({row.id: row for row in rows}.values())
    if not rows:
        return result
    settings = hub.config.fulfilment.review
    ids = [row.id for row in rows]
    verdicts = {row.id: evaluate(hub, row) for row in rows}
    existing = await _holds_of(session, ids)
    released = {(h.order_id, h.code) for h in existing if h.released_at is not None}
    open_codes: dict[int, set[str]] = {}
    for h in existing:
        if h.released_at is None:
            open_codes.setdefault(h.order_id, set()).add(h.code)
    if released:  # released by a person, or by an earlier review run no longer calling for it
        released -= await _released_by_review(session, ids)
    named = await _named_codes(session, ids) if again else {}
    previous = {row.id: row.review_status for row in rows}
    outcome: dict[int, str] = {}
    wanted: dict[int, list[Hold]] = {}
    for order_id, holds in verdicts.items():
        wanted[order_id] = [h for h in holds if (order_id, h.code) not in released]
        if wanted[order_id] or MANUAL in open_codes.get(order_id, set()):
            outcome[order_id] = HELD
        elif settings.auto or previous[order_id] == APPROVED:
            outcome[order_id] = APPROVED
        else:
            outcome[order_id] = WAITING
            wanted[order_id] = [Hold(code=WAITING_CODE, reason="waits for a person's approval "
                                                                "([fulfilment.review] auto = false)")]
    now = _now()
    by_status: dict[str, list[int]] = {APPROVED: [], HELD: [], WAITING: []}
    for order_id, status in outcome.items():
        by_status[status].append(order_id)
    done = await _set_status(session, by_status, now, first=not again)
    result.skipped = sorted(set(ids) - done)
    if again:  # review holds the rules no longer call for go, under the name of who asked
        to_release: dict[str, list[int]] = {}
        for order_id in done:
            owned = (REVIEW_CODES | named.get(order_id, set())) - {MANUAL}
            for code in (open_codes.get(order_id, set()) & owned) - {h.code for h in wanted[order_id]}:
                to_release.setdefault(code, []).append(order_id)
        for code, order_ids in sorted(to_release.items()):
            await orders.release_holds(session, code, sorted(order_ids), actor=actor or "hub", cause=AGAIN_CAUSE)
    await add_holds(session, [(o, h) for o in sorted(done) for h in wanted[o]], cause=CAUSE, actor=actor)
    events = []
    for order_id in sorted(done):
        status = outcome[order_id]
        reasons = [{"code": h.code, "reason": h.reason} for h in wanted[order_id] if h.code != WAITING_CODE]
        events.append({"order_id": order_id, "at": now, "kind": EVENT, "old_status": None, "new_status": None,
                       "cause": CAUSE, "actor": actor, "inbox_id": None,
                       "detail": {"outcome": status, "reasons": reasons, "again": again,
                                  **({"reviewed_by": actor} if actor else {})}})
        if status == APPROVED:
            result.approved.append(order_id)
        elif status == HELD:
            result.held[order_id] = wanted[order_id]
        else:
            result.waiting.append(order_id)
    if events:
        await session.execute(insert(OrderEventRow), events)
    handed = [o for o in result.approved if previous[o] != APPROVED]
    if handed:
        outbox.add(session, FULFIL_ACTOR, handed)
    return result


async def _load_rows(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, OrderRow]:
    rows = (await session.execute(select(OrderRow).where(OrderRow.id.in_(set(order_ids))))).scalars().all()
    return {row.id: row for row in rows}


def reviewable(row: OrderRow) -> bool:
    """Paid, not shipped, fulfilment not past routing: what a review may still hold."""
    return row.status in REVIEWABLE and row.fulfilment_status in ("unfulfilled", "routed")


async def review_again(hub: Hub, order_ids: Sequence[int], *, actor: str) -> tuple[ReviewResult, list[int]]:
    """Review ``order_ids`` again with the rules as configured now (one transaction); returns the
    result and the ids of no order. Orders a review no longer applies to are ``skipped``."""
    wanted = sorted(set(order_ids))
    async with hub.database().transaction() as session:
        rows = await _load_rows(session, wanted)
        eligible = [rows[i] for i in wanted if i in rows and reviewable(rows[i])]
        result = await review_orders(session, hub, eligible, actor=actor, again=True)
    result.skipped = sorted(set(result.skipped) | {i for i in wanted if i in rows and not reviewable(rows[i])})
    return result, [i for i in wanted if i not in rows]


# --------------------------------------------------------------------------- a person's actions


@dataclass(frozen=True)
class ReviewState:
    """One order's review: its status, when, the open holds (every reason it waits for) and the
    last review event (who decided)."""

    order_id: int
    status: str
    review_status: str | None
    reviewed_at: datetime | None
    open_holds: list[OrderHoldRow]
    last_event: OrderEventRow | None
    order: OrderRow


async def state(session: AsyncSession, order_id: int) -> ReviewState:
    row = await session.get(OrderRow, order_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"order {order_id} does not exist")
    holds = list((await session.execute(select(OrderHoldRow).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)).order_by(OrderHoldRow.id))).scalars())
    last = (await session.execute(select(OrderEventRow).where(
        OrderEventRow.order_id == order_id, OrderEventRow.kind == EVENT)
        .order_by(OrderEventRow.id.desc()).limit(1))).scalar_one_or_none()
    return ReviewState(order_id, row.status, row.review_status, row.reviewed_at, holds, last, row)


def _check_open(row: OrderRow | None, order_id: int, what: str) -> OrderRow:
    if row is None:
        raise NotFoundError(f"order {order_id} does not exist")
    if row.status not in REVIEWABLE or row.fulfilment_status == "shipped":
        raise ReviewConflict(f"order {order_id} is {row.status} (fulfilment {row.fulfilment_status}): "
                             f"nothing to {what}")
    return row


async def _review_owned_open(session: AsyncSession, order_id: int) -> list[str]:
    named = (await _named_codes(session, [order_id])).get(order_id, set())
    return list((await session.execute(select(OrderHoldRow.code).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None),
        OrderHoldRow.code.in_(sorted(REVIEW_CODES | named))).order_by(OrderHoldRow.id))).scalars())


async def approve(hub: Hub, order_id: int, *, actor: str) -> tuple[ReviewState, list[str]]:
    """A person approves the order: its open review holds released under their name, the order
    approved and handed to the flow (its other holds, stock short..., stay: the flow waits for
    them). Approving an approved order changes nothing. Returns the state and the codes released."""
    async with hub.database().transaction() as session:
        row = _check_open(await session.get(OrderRow, order_id, with_for_update=True), order_id, "approve")
        released: list[str] = []
        if row.review_status != APPROVED:
            for code in await _review_owned_open(session, order_id):
                if await orders.release_hold(session, order_id, code, actor=actor, cause=CAUSE):
                    released.append(code)
            await _approve(session, order_id, actor=actor, released=released)
        return await state(session, order_id), released


async def _approve(session: AsyncSession, order_id: int, *, actor: str, released: list[str]) -> None:
    await session.execute(update(OrderRow).where(OrderRow.id == order_id)
                          .values(review_status=APPROVED, reviewed_at=_now())
                          .execution_options(synchronize_session=False))
    session.add(OrderEventRow(order_id=order_id, at=_now(), kind=EVENT, old_status=None, new_status=None,
                              cause=CAUSE, actor=actor, inbox_id=None,
                              detail={"outcome": APPROVED, "reasons": [], "reviewed_by": actor,
                                      "released": released}))
    outbox.add(session, FULFIL_ACTOR, [order_id])


def clean_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise BadInputError("say why the order is held", field="body.reason")
    if len(text) > MAX_REASON:
        raise BadInputError(f"reason is {len(text)} characters; at most {MAX_REASON}", field="body.reason")
    return text


async def hold(hub: Hub, order_id: int, reason: str, *, actor: str) -> tuple[ReviewState, bool]:
    """A person holds the order (code ``manual``, their reason): it waits for a person whatever the
    review said; returns the state and whether the hold is new (an open manual hold keeps its reason)."""
    text = clean_reason(reason)
    async with hub.database().transaction() as session:
        _check_open(await session.get(OrderRow, order_id, with_for_update=True), order_id, "hold")
        added = await add_holds(session, [(order_id, Hold(code=MANUAL, reason=text))], cause="api", actor=actor)
        # Not reviewed yet: the review, when it comes, finds the hold open and holds the order.
        await session.execute(update(OrderRow).where(OrderRow.id == order_id, OrderRow.review_status.is_not(None))
                              .values(review_status=HELD, reviewed_at=_now())
                              .execution_options(synchronize_session=False))
        if added:
            session.add(OrderEventRow(order_id=order_id, at=_now(), kind=EVENT, old_status=None, new_status=None,
                                      cause="api", actor=actor, inbox_id=None,
                                      detail={"outcome": HELD, "reasons": [{"code": MANUAL, "reason": text}],
                                              "reviewed_by": actor}))
        return await state(session, order_id), bool(added)


async def release(hub: Hub, order_id: int, *, actor: str, code: str | None = None) -> tuple[ReviewState, list[str]]:
    """A person releases the order's open review holds (or the one ``code``); releasing the last one
    approves it (``after_release``, as any release does). Returns the state and the codes released."""
    async with hub.database().transaction() as session:
        row = await session.get(OrderRow, order_id)
        if row is None:
            raise NotFoundError(f"order {order_id} does not exist")
        codes = await _review_owned_open(session, order_id) if code is None else [code]
        released = [c for c in codes if await orders.release_hold(session, order_id, c, actor=actor)]
        if code is not None and not released:
            raise NotFoundError(f"order {order_id} has no open hold {code!r}")
    await after_release(hub, order_id)
    async with hub.database().session() as session:
        return await state(session, order_id), released


async def after_release(hub: Hub, order_id: int) -> bool:
    """After a person released a hold of ``order_id``: if the order was held by review and none of its
    review holds is open now, it is approved (by whoever released the last one) and handed to the
    flow. Idempotent (an approved order stays as it is); True when this approved it."""
    async with hub.database().transaction() as session:
        named = (await _named_codes(session, [order_id])).get(order_id, set())
        owned = sorted(REVIEW_CODES | named)
        still_held = exists().where(OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None),
                                    OrderHoldRow.code.in_(owned))
        approved = (await session.execute(
            update(OrderRow).where(OrderRow.id == order_id, OrderRow.review_status.in_([HELD, WAITING]),
                                   OrderRow.status.in_(sorted(REVIEWABLE)), ~still_held)
            .values(review_status=APPROVED, reviewed_at=_now()).returning(OrderRow.id)
            .execution_options(synchronize_session=False))).scalar_one_or_none()
        if approved is None:
            return False
        last = (await session.execute(select(OrderHoldRow.released_by, OrderHoldRow.code).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.code.in_(owned),
            OrderHoldRow.released_at.is_not(None)).order_by(OrderHoldRow.released_at.desc()).limit(1))).first()
        by = last[0] if last else None
        session.add(OrderEventRow(order_id=order_id, at=_now(), kind=EVENT, old_status=None, new_status=None,
                                  cause=CAUSE, actor=by, inbox_id=None,
                                  detail={"outcome": APPROVED, "reasons": [], "reviewed_by": by,
                                          "released": [last[1]] if last else []}))
        outbox.add(session, FULFIL_ACTOR, [order_id])
        return True


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueEntry:
    order: OrderRow
    holds: list[OrderHoldRow]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueEntry]
    next_cursor: str | None


def _encode_queue_cursor(last: OrderRow) -> str:
    """The review queue's cursor: the last row's priority and id (``_CURSOR`` tags it)."""
    return encode_id_cursor(_CURSOR, (last.priority + PRIORITY_SHIFT) * ID_SPAN + last.id)


def _decode_queue_cursor(cursor: str) -> tuple[int, int]:
    """(priority, id) of a review-queue cursor; ``BadInputError`` naming ``query.cursor`` otherwise."""
    value = decode_id_cursor(_CURSOR, cursor)
    priority, last_id = divmod(value, ID_SPAN)
    if last_id < 1:
        raise BadInputError("cursor is not one this API returned; start again without it", field="query.cursor")
    return priority - PRIORITY_SHIFT, last_id


async def queue(session: AsyncSession, *, code: str | None = None, shop: str | None = None, limit: int = 50,
                cursor: str | None = None, shops: frozenset[str] | None = None) -> QueuePage:
    """Orders held by review or waiting for a person (or held by a person), highest priority first
    (``orders.priority``, set by people), then oldest first, with every open hold (keyset pages on
    (priority, id)). Served by the held-orders index: such an order is always on hold."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit must be between 1 and {MAX_LIMIT}", field="query.limit")
    manual = exists().where(OrderHoldRow.order_id == OrderRow.id, OrderHoldRow.code == MANUAL,
                            OrderHoldRow.released_at.is_(None))
    # A person's hold on an order not reviewed yet (paid before the review ran) is in the queue too.
    stmt = select(OrderRow).where(OrderRow.on_hold.is_(True),
                                  or_(OrderRow.review_status.in_([HELD, WAITING]), manual))
    if shop:
        stmt = stmt.where(OrderRow.shop == shop)
    if shops is not None:  # the caller's shops (None: every shop)
        stmt = stmt.where(OrderRow.shop.in_(sorted(shops)) if shops else false())
    if code:
        stmt = stmt.where(exists().where(and_(OrderHoldRow.order_id == OrderRow.id, OrderHoldRow.code == code,
                                              OrderHoldRow.released_at.is_(None))))
    if cursor:
        last_priority, last_id = _decode_queue_cursor(cursor)
        stmt = stmt.where(or_(OrderRow.priority < last_priority,
                              and_(OrderRow.priority == last_priority, OrderRow.id > last_id)))
    found = list((await session.execute(stmt.order_by(OrderRow.priority.desc(), OrderRow.id)
                                        .limit(limit + 1))).scalars())
    page = found[:limit]
    holds: dict[int, list[OrderHoldRow]] = {}
    if page:
        for h in (await session.execute(select(OrderHoldRow).where(
                OrderHoldRow.order_id.in_([r.id for r in page]), OrderHoldRow.released_at.is_(None))
                .order_by(OrderHoldRow.id))).scalars():
            holds.setdefault(h.order_id, []).append(h)
    more = len(found) > limit
    return QueuePage([QueueEntry(r, holds.get(r.id, [])) for r in page],
                     _encode_queue_cursor(page[-1]) if more and page else None)
