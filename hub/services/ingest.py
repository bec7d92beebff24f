"""Turns stored inbox rows into canonical orders, after-sales and service orders, a batch at a time.

``process_inbox_rows`` is what the worker runs for the inbox ids that ``hub.services.intake``
enqueued. A batch is worked as a batch: its rows loaded with one query, triggers naming one object
coalesced (one fetch), paused shops looked up once, each shop's orders fetched together (one
``get_orders`` list call where the connector has ``GET_ORDERS``, then concurrent ``get_order`` for
what it missed), and every order applied in one transaction (``orders.apply_orders``) that also
marks the rows done. A message whose order cannot be fetched or mapped is set aside alone (retried,
or dead-lettered with its reason); if the batch's transaction fails, its orders are applied one per
transaction so one bad order cannot hold back the rest. Not for storing messages
(``hub.services.intake``), parsing partner formats (connectors do that) nor for order rules
(``hub.services.orders``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from contracts.aftersales import AfterSale
from contracts.connectors import Capability
from contracts.events import InboundMessage, MessageKind
from contracts.orders import Order
from contracts.service_orders import ServiceOrder
from hub import metrics
from hub.context import Hub
from hub.db import inbox, shops
from hub.errors import AuthorizationError, BadInputError, PermanentError, RetryableError, ShopPausedError
from hub.services import orders
from hub.services.aftersales import intake as aftersales
from hub.services.intake import PROCESS_ACTOR, accept_messages, poll_message_id
from hub.services.service_orders import intake as service_intake
from hub.services.shop_health import breaker, pause_for_authorisation

__all__ = ["PROCESS_ACTOR", "BatchOutcome", "accept_messages", "poll_message_id", "process_inbox_rows"]

log = structlog.get_logger(__name__)

#: Inbox attempts after which a message goes to dead letters instead of being retried again.
MAX_INBOX_ATTEMPTS = 8
#: How many after-sales and service orders of one batch are fetched and applied at the same time.
BATCH_CONCURRENCY = 8
#: How many ``get_order`` calls of one shop's batch are in flight at the same time.
FETCH_CONCURRENCY = 16
#: How long a message for a paused shop waits before it is looked at again.
PAUSED_RETRY_S = 30.0
#: Slack around the triggering messages' times in the ``get_orders`` window: platform clocks and
#: message timestamps disagree by seconds, and an order's modification time may precede its message.
GET_ORDERS_SKEW = timedelta(minutes=5)

T = TypeVar("T")


@dataclass
class BatchOutcome:
    done: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    retry_after: float | None = None


@dataclass
class _Work:
    """Inbox rows that one fetch-and-apply settles: one row, or several triggers for one object."""

    row_ids: list[int]
    message: InboundMessage
    shop: str
    platform: str
    source: str
    occurred: list[datetime] = field(default_factory=list)

    @property
    def first(self) -> int:
        return self.row_ids[0]

    @property
    def is_trigger(self) -> bool:
        """Names an object to fetch rather than carrying it."""
        message = self.message
        return (message.kind in TRIGGER_KINDS and message.order is None and message.aftersale is None
                and message.service_order is None)


TRIGGER_KINDS = (MessageKind.ORDER, MessageKind.AFTERSALE, MessageKind.SERVICE_ORDER)


@dataclass
class _Failures:
    """What went wrong in a batch, by how it is recorded: paused (kept, no attempt spent),
    permanent (dead at once), retryable (an attempt counted, dead once out of attempts)."""

    paused: dict[int, str] = field(default_factory=dict)
    permanent: dict[int, str] = field(default_factory=dict)
    retryable: dict[int, str] = field(default_factory=dict)
    retry_after: float | None = None

    def add(self, work: _Work, exc: BaseException) -> None:
        error = _safe(exc)
        if isinstance(exc, (AuthorizationError, ShopPausedError)):
            # The shop must be re-authorised (or its breaker is open): keep the messages for when
            # it is resumed, without spending their attempts.
            target = self.paused
            self.retry_after = max(self.retry_after or 0.0, PAUSED_RETRY_S)
            log.warning("inbox.shop_paused", inbox_ids=work.row_ids, error=error)
        elif isinstance(exc, (PermanentError, BadInputError)) or _refused_data(exc):
            target = self.permanent
            log.error("inbox.dead", inbox_ids=work.row_ids, error=error)
        else:  # retryable partner faults and bugs: counted, retried, bounded
            target = self.retryable
            if not isinstance(exc, RetryableError):
                log.error("inbox.unexpected_error", inbox_ids=work.row_ids, exc_info=exc)
            else:
                log.warning("inbox.retry", inbox_ids=work.row_ids, error=error)
            wait = getattr(exc, "retry_after", None)
            if wait is not None:
                self.retry_after = max(self.retry_after or 0.0, float(wait))
        for row_id in work.row_ids:
            target[row_id] = error

    def __bool__(self) -> bool:
        return bool(self.paused or self.permanent or self.retryable)


def _plan(rows: list[Any], failures: _Failures) -> list[_Work]:
    """The batch's open rows as work; triggers about the same object (TradeCreate and TradeBuyerPay
    of one trade) share one fetch and one apply — half the partner calls on a busy day. A row whose
    stored message no longer validates is set aside (dead, with the reason)."""
    work: list[_Work] = []
    by_object: dict[tuple[str, str, str, str], _Work] = {}
    for row in rows:
        try:
            message = inbox.message_of(row.payload)
        except ValidationError as exc:
            failures.permanent[int(row.id)] = f"stored message does not validate: {exc.error_count()} errors"
            log.error("inbox.dead", inbox_ids=[int(row.id)], error="stored message does not validate")
            continue
        item = _Work([int(row.id)], message, row.shop, row.platform, row.source,
                     [message.occurred_at] if message.occurred_at else [])
        key = (row.shop, row.platform, message.kind.value, message.external_id or "")
        if item.is_trigger and message.external_id:
            existing = by_object.get(key)
            if existing is not None:
                existing.row_ids.append(int(row.id))
                existing.occurred.extend(item.occurred)
                continue
            by_object[key] = item
        work.append(item)
    return work


async def process_inbox_rows(hub: Hub, row_ids: list[int]) -> BatchOutcome:
    """Process a batch: fetch its orders per shop, apply them in one transaction; one bad message
    never blocks the others.

    A retryable failure counts an attempt on the inbox row (so a message that keeps killing its
    worker cannot loop forever) and is returned for a delayed retry; a permanent one, or one out
    of attempts, is marked dead and returned for dead-lettering with its raw payload kept. Rows
    already done (a redelivered batch) are skipped, so every order is applied once. Concurrent
    batches touching one order are safe: the order service locks the order's row.
    """
    database = hub.database()
    async with database.session() as session:
        rows = await inbox.load_open(session, list(dict.fromkeys(row_ids)))
        failures = _Failures()
        work = _plan(rows, failures)
        paused = {}
        if any(item.is_trigger for item in work):
            paused = {s.name: s for s in await shops.all_shop_statuses(session) if s.paused}
    outcome = BatchOutcome()

    order_work: list[tuple[_Work, Order]] = []
    triggers: dict[str, list[_Work]] = {}
    others: list[_Work] = []
    quiet: list[_Work] = []
    for item in work:
        if item.is_trigger and item.shop in paused:
            status = paused[item.shop]
            failures.add(item, ShopPausedError(item.shop, status.paused_reason or "paused"))
        elif item.message.kind is MessageKind.ORDER:
            if item.message.order is not None:
                order_work.append((item, item.message.order))
            else:
                triggers.setdefault(item.shop, []).append(item)
        elif item.message.kind in TRIGGER_KINDS or item.message.kind is MessageKind.SERVICE_ALERT:
            others.append(item)
        else:
            quiet.append(item)

    fetched = await asyncio.gather(*(_fetch_shop(hub, shop, items, failures) for shop, items in triggers.items()))
    for pairs in fetched:
        order_work.extend(pairs)
    order_work.sort(key=lambda pair: pair[0].first)  # reports of one order applied in inbox order

    await _apply(hub, order_work, quiet, outcome, failures)
    if others:
        limit = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def run(item: _Work) -> None:
            async with limit:
                try:
                    await _process_other(hub, item)
                    outcome.done.extend(item.row_ids)
                except Exception as exc:
                    failures.add(item, exc)

        await asyncio.gather(*(run(item) for item in others))
    if failures:
        await _record(hub, failures, outcome)
    log.info("inbox.batch", rows=len(rows), done=len(outcome.done), retry=len(outcome.retry),
             dead=len(outcome.dead))
    return outcome


# --------------------------------------------------------------------------- fetching


class _ShopCalls:
    """One shop's partner calls of a batch behind its breaker, as ``partner_call`` guards a call:
    the breaker checked once for the batch, the outcomes recorded once at the end in the order
    they happened (a success closes it, failures after the last success count), a lost
    authorisation pausing the shop once."""

    def __init__(self, hub: Hub, shop: str) -> None:
        self.hub = hub
        self.shop = shop
        self.guard = breaker(hub, shop)
        self.outcomes: list[str | None] = []  # None: a call went through; else the failure's reason
        self.lost_authorisation: AuthorizationError | None = None

    async def call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await fn()
        except RetryableError as exc:
            self.outcomes.append(f"{what}: {exc}")
            raise
        except AuthorizationError as exc:
            self.lost_authorisation = self.lost_authorisation or exc
            raise
        self.outcomes.append(None)
        return result

    async def settle(self) -> None:
        if self.lost_authorisation is not None:
            await pause_for_authorisation(self.hub, self.shop, self.lost_authorisation)
        if not self.outcomes:
            return
        last_ok = max((i for i, reason in enumerate(self.outcomes) if reason is None), default=-1)
        if last_ok >= 0:
            await self.guard.record_success()
        # More failures in a row than the threshold change nothing: the breaker is open by then.
        for reason in self.outcomes[last_ok + 1:][: self.guard.threshold]:
            await self.guard.record_failure(reason or "")


async def _fetch_shop(hub: Hub, shop: str, items: list[_Work], failures: _Failures) -> list[tuple[_Work, Order]]:
    """Fetch the orders ``items`` name, for one shop; failures are added to ``failures``."""
    try:
        connector = hub.accounts().channel(shop)
    except Exception as exc:
        for item in items:
            failures.add(item, exc)
        return []
    capabilities = connector.capabilities
    if Capability.GET_ORDER not in capabilities and Capability.GET_ORDERS not in capabilities:
        for item in items:
            failures.add(item, PermanentError(
                f"shop {shop!r}: message {item.message.message_id} needs get_order, unsupported"))
        return []
    calls = _ShopCalls(hub, shop)
    try:
        await calls.guard.check()
    except ShopPausedError as exc:
        for item in items:
            failures.add(item, exc)
        return []
    found: dict[str, Order] = {}
    by_id: dict[str, _Work] = {}
    for item in items:
        if item.message.external_id:
            by_id[item.message.external_id] = item  # unique: _plan coalesced triggers per object
        else:
            failures.add(item, PermanentError(f"shop {shop!r}: message {item.message.message_id} names no order"))
    try:
        if Capability.GET_ORDERS in capabilities:
            await _list_orders(calls, connector, items, by_id, found, failures)
        missing = [item for external_id, item in by_id.items() if external_id not in found]
        if missing and Capability.GET_ORDER in capabilities:
            await _get_each(calls, connector, missing, found, failures)
        elif missing:
            for item in missing:
                if not _failed(failures, item):
                    failures.add(item, PermanentError(
                        f"shop {shop!r}: order {item.message.external_id} not returned by get_orders and "
                        "the connector has no get_order"))
    finally:
        await calls.settle()
    return [(item, found[external_id]) for external_id, item in by_id.items() if external_id in found]


def _failed(failures: _Failures, item: _Work) -> bool:
    return any(item.first in bucket for bucket in (failures.paused, failures.permanent, failures.retryable))


async def _list_orders(calls: _ShopCalls, connector: Any, items: list[_Work], by_id: dict[str, _Work],
                       found: dict[str, Order], failures: _Failures) -> None:
    """One ``get_orders`` for the shop's batch; what it rejects is set aside with the reason, what
    it misses is left for ``get_order``. A partner fault fails the batch's messages of this shop
    (retried with their attempts counted); a bug in the plugin's list call falls back to get_order."""
    stamps = [stamp for item in items for stamp in item.occurred]
    window = (min(stamps) - GET_ORDERS_SKEW, max(stamps) + GET_ORDERS_SKEW) if stamps else None
    ids = list(by_id)
    try:
        page = await calls.call("get orders", lambda: connector.get_orders(ids, modified_between=window))
    except (RetryableError, AuthorizationError, ShopPausedError) as exc:
        for item in items:
            failures.add(item, exc)
        return
    except Exception:
        log.exception("inbox.get_orders_failed", shop=calls.shop, orders=len(ids))
        return
    for order in page.orders:
        if order.ref.external_id in by_id:
            found[order.ref.external_id] = order
    for external_id, reason in page.rejected.items():
        rejected = by_id.get(external_id)
        if rejected is not None and external_id not in found:
            failures.add(rejected, BadInputError(reason))


async def _get_each(calls: _ShopCalls, connector: Any, items: list[_Work], found: dict[str, Order],
                    failures: _Failures) -> None:
    limit = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(item: _Work) -> None:
        if _failed(failures, item):
            return
        external_id = item.message.external_id or ""
        async with limit:
            try:
                found[external_id] = await calls.call("get order", lambda: connector.get_order(external_id))
            except Exception as exc:
                failures.add(item, exc)

    await asyncio.gather(*(one(item) for item in items))


# --------------------------------------------------------------------------- applying


async def _apply(hub: Hub, order_work: list[tuple[_Work, Order]], quiet: list[_Work], outcome: BatchOutcome,
                 failures: _Failures) -> None:
    """Apply the batch's orders in one transaction with their rows marked done; if that fails,
    one transaction per order, so a bad order is set aside alone."""
    if not order_work and not quiet:
        return
    database = hub.database()
    reports = [orders.OrderReport(order, item.source, item.first) for item, order in order_work]
    settled = [row_id for item, _ in order_work for row_id in item.row_ids] + [
        row_id for item in quiet for row_id in item.row_ids]
    try:
        async with database.transaction() as session:
            results = await orders.apply_orders(session, reports)
            # Cases that came before their order (another message stream) are linked to it now.
            await aftersales.link_orders(session, [
                (order.ref.platform, order.ref.shop, order.ref.external_id, result.order_id)
                for (_, order), result in zip(order_work, results, strict=True)
                if result.change is orders.Change.CREATED])
            await service_intake.link_orders(session, [
                (order.ref.platform, order.ref.shop, order.ref.external_id, result.order_id)
                for (_, order), result in zip(order_work, results, strict=True)
                if result.change is orders.Change.CREATED])
            await inbox.mark_many_done(session, settled)
    except Exception as exc:
        if len(order_work) + len(quiet) <= 1:
            for item in [*(item for item, _ in order_work), *quiet]:
                failures.add(item, exc)
            return
        log.warning("inbox.batch_apply_failed", orders=len(order_work), error=_safe(exc))
        # A commit that failed on the way back may have landed: only rows still open go on.
        async with database.session() as session:
            still_open = {int(row.id) for row in await inbox.load_open(session, settled)}
        order_work = [(item, order) for item, order in order_work if item.first in still_open]
        quiet = [item for item in quiet if item.first in still_open]
        outcome.done.extend(row_id for row_id in settled if row_id not in still_open)
        for item in quiet:
            await _apply(hub, [], [item], outcome, failures)
        for pair in order_work:
            await _apply(hub, [pair], [], outcome, failures)
        return
    outcome.done.extend(settled)
    changes: Counter[tuple[str, str]] = Counter()
    for (item, _), result in zip(order_work, results, strict=True):
        changes[(item.platform, result.change.value)] += 1
        log.debug("order.ingested", order_id=result.order_id, shop=item.shop, change=result.change.value,
                  status=result.new_status.value, inbox_ids=item.row_ids)
    for (platform, change), count in changes.items():
        metrics.ORDERS_CHANGED.labels(platform, change).inc(count)


async def _process_other(hub: Hub, work: _Work) -> None:
    """Fetch (for a trigger) and apply one after-sale, service order or service alert; marks the
    work's rows done."""
    database = hub.database()
    message, shop, source = work.message, work.shop, work.source
    if message.kind is MessageKind.SERVICE_ALERT:
        if message.service_alert is None:
            raise BadInputError("a service alert message without its alert", field="service_alert")
        async with database.transaction() as session:
            await service_intake.apply_service_alert(session, message.service_alert, cause=source)
            await inbox.mark_many_done(session, work.row_ids)
    elif message.kind is MessageKind.AFTERSALE:
        case: AfterSale = message.aftersale or await _fetch_one(
            hub, shop, "get after-sale", lambda: hub.accounts().channel(shop).get_aftersale(message.external_id or ""))
        async with database.transaction() as session:
            await aftersales.apply_aftersale(session, case, cause=source)
            await inbox.mark_many_done(session, work.row_ids)
    else:
        job: ServiceOrder = message.service_order or await _fetch_one(
            hub, shop, "get service order",
            lambda: hub.accounts().channel(shop).get_service_order(message.external_id or ""))
        async with database.transaction() as session:
            await service_intake.apply_service_order(session, job, cause=source,
                                                     settings=hub.config.service_orders)
            await inbox.mark_many_done(session, work.row_ids)


async def _fetch_one(hub: Hub, shop: str, what: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    calls = _ShopCalls(hub, shop)
    await calls.guard.check()
    try:
        return await calls.call(what, fn)
    finally:
        await calls.settle()


async def _record(hub: Hub, failures: _Failures, outcome: BatchOutcome) -> None:
    """Record the batch's failures on their inbox rows, in one transaction."""
    async with hub.database().transaction() as session:
        await inbox.record_failures(session, failures.paused, count_attempt=False)
        dead = await inbox.record_failures(session, failures.permanent, count_attempt=True, dead=True)
        counted = await inbox.record_failures(session, failures.retryable, count_attempt=True,
                                              max_attempts=MAX_INBOX_ATTEMPTS)
    outcome.retry.extend(sorted(failures.paused))
    outcome.dead.extend(sorted(dead))
    for row_id, is_dead in sorted(counted.items()):
        (outcome.dead if is_dead else outcome.retry).append(row_id)
    if failures.retry_after is not None:
        outcome.retry_after = max(outcome.retry_after or 0.0, failures.retry_after)


def _refused_data(exc: BaseException) -> bool:
    """The database refused the data itself (SQLSTATE class 22, data exception — a value too long
    or out of range —, or 23, integrity constraint): retrying the same order cannot help."""
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and code[:2] in ("22", "23"):
            return True
    return False


def _safe(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError):  # the driver's words, without the statement and its values
        return f"{type(exc).__name__}: {exc.orig}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]
