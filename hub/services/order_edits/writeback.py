"""Writing an applied edit back to the shop's platform: ``writeback_state`` says whether it goes
(``pending``) or stays in the hub (``local_only``: the connector lists no API for the kind, see
``Capability.EDIT_ORDERS`` and ``order_edit_kinds``); ``deliver`` calls ``edit_order`` with short
retries and settles the answer (sent, local_only, failed, or pending — tried again later with the
same key by ``retry_pending``, backing off, at most ``[order_edits] writeback_max_attempts``).

A write-back being sent holds its row (``next_attempt_at`` a ``LEASE`` ahead), so a second sender
(the periodic retry, the actor) leaves it alone. The edit stays applied in the hub whatever the
platform answers. Not for applying edits (``apply``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update

from contracts.connectors import Capability, declared
from contracts.order_edits import LineChange, OrderEditKind, OrderEditRequest, OrderEditResult, OrderEditValues
from contracts.orders import Address
from hub.db.tables import OrderEditRow, OrderEventRow, OrderRow, utcnow
from hub.errors import AuthorizationError, BadInputError, PermanentError, ShopPausedError, describe_error
from hub.services.order_edits.records import FAILED, LOCAL_ONLY, NOT_NEEDED, PENDING, SENT
from hub.services.orders import stored_order
from hub.services.shop_health import partner_call, with_brief_retries

log = structlog.get_logger(__name__)
LEASE = timedelta(minutes=2)
BACKOFF_FIRST_S, BACKOFF_MAX_S = 30.0, 3600.0
RETRY_BATCH = 50


def platform_kinds(hub: Any, platform: str, shop: str) -> frozenset[OrderEditKind]:
    """The edit kinds ``shop``'s connector writes back (empty: none)."""
    if shop not in hub.config.shops:
        return frozenset()
    cls = hub.plugins.channel_class(platform)
    if cls is None or not declared(cls, Capability.EDIT_ORDERS):
        return frozenset()
    return frozenset(OrderEditKind(k) for k in getattr(cls, "order_edit_kinds", frozenset()))


def writeback_state(hub: Any, platform: str, shop: str, kind: OrderEditKind) -> str:
    """``pending`` when the platform takes this kind, else ``local_only``."""
    return PENDING if kind in platform_kinds(hub, platform, shop) else LOCAL_ONLY


def values_of(kind: str, after: dict[str, Any], reason: str) -> OrderEditValues:
    """The edit's new values as the connector takes them, from its record."""
    if kind == OrderEditKind.ADDRESS:
        return OrderEditValues(address=Address.model_validate(after["address"]))
    if kind in (OrderEditKind.SELLER_NOTE, OrderEditKind.BUYER_NOTE):
        return OrderEditValues(note=after.get("note") or "")
    if kind == OrderEditKind.FLAG:
        return OrderEditValues(flag=after["flag"])
    if kind == OrderEditKind.CANCEL:
        return OrderEditValues(reason=reason)
    return OrderEditValues(lines=[LineChange.model_validate(line) for line in after.get("lines", [])])


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


async def _hold(hub: Any, edit_id: int, at: datetime | None = None) -> bool:
    """Take a pending write-back that is due at ``at`` (default now) and not held by another sender."""
    at = at or utcnow()
    async with hub.database().transaction() as session:
        taken = await session.execute(update(OrderEditRow).where(
            OrderEditRow.id == edit_id, OrderEditRow.writeback == PENDING,
            or_(OrderEditRow.next_attempt_at.is_(None), OrderEditRow.next_attempt_at <= at))
            .values(next_attempt_at=at + LEASE).execution_options(synchronize_session=False))
    return bool(getattr(taken, "rowcount", 0))


async def _send(hub: Any, shop: str, request: OrderEditRequest) -> tuple[str, OrderEditResult | None, str | None]:
    """(sent | local_only | refused | unknown, result, error); never raises for the platform's answer."""
    connector = hub.accounts().channel(shop)

    async def once() -> OrderEditResult:
        async with partner_call(hub, shop, "order edit"):
            result: OrderEditResult = await connector.edit_order(request)
            return result

    try:
        result = await with_brief_retries(once)
    except AuthorizationError as exc:
        return "unknown", None, f"shop paused, waiting for re-authorisation: {describe_error(exc)}"
    except (BadInputError, PermanentError) as exc:
        return "refused", None, describe_error(exc)
    except ShopPausedError as exc:
        return "unknown", None, describe_error(exc)
    except Exception as exc:  # RetryableError, a timeout: did it land? the same edit again later
        return "unknown", None, describe_error(exc)
    return (SENT if result.written_back else LOCAL_ONLY), result, None


async def deliver(hub: Any, edit_id: int, *, held: bool = False) -> str:
    """Send write-back ``edit_id`` once (with short retries) and settle it; returns its state after.
    ``held``: the caller holds the row already; otherwise a held or settled row is left alone."""
    if not held and not await _hold(hub, edit_id):
        async with hub.database().session() as session:
            return str(await session.scalar(select(OrderEditRow.writeback).where(OrderEditRow.id == edit_id)))
    async with hub.database().session() as session:
        edit = (await session.execute(select(OrderEditRow).where(OrderEditRow.id == edit_id))).scalar_one()
        order_row = (await session.execute(select(OrderRow).where(OrderRow.id == edit.order_id))).scalar_one()
        request = OrderEditRequest(order=stored_order(order_row), kind=OrderEditKind(edit.kind),
                                   values=values_of(edit.kind, dict(edit.after or {}), edit.reason),
                                   key=edit.idempotency_key)
        attempts = edit.attempts + 1
    answer, result, error = await _send(hub, edit.shop, request)
    at = utcnow()
    values: dict[str, Any] = {"attempts": attempts, "next_attempt_at": None}
    if answer in (SENT, LOCAL_ONLY):
        state = answer
        values.update(writeback=state, writeback_error=result.note if result else None)
    elif answer == "refused" or attempts >= hub.config.order_edits.writeback_max_attempts:
        state = FAILED
        note = (f"the platform refused the {edit.kind} edit: {error}" if answer == "refused"
                else f"gave up after {attempts} attempts; last: {error}")
        values.update(writeback=state, writeback_error=note[:1000])
    else:
        state = PENDING
        values.update(writeback_error=(error or "")[:1000] or None, next_attempt_at=at + _backoff(attempts))
    async with hub.database().transaction() as session:
        await session.execute(update(OrderEditRow).where(OrderEditRow.id == edit_id, OrderEditRow.writeback == PENDING)
                              .values(**values).execution_options(synchronize_session=False))
        if state != PENDING:
            session.add(OrderEventRow(order_id=edit.order_id, at=at, kind=f"edit_{state}", cause="writeback",
                                      actor=edit.requested_by, detail={"edit_id": edit_id, "kind": edit.kind,
                                                                       "note": values.get("writeback_error")}))
    log.info("order_edit.writeback", edit_id=edit_id, kind=edit.kind, shop=edit.shop, state=state, attempts=attempts)
    return state


async def retry_pending(hub: Any, *, now: datetime | None = None) -> int:
    """Send the pending write-backs that are due, oldest first; returns how many were tried."""
    moment = now or utcnow()
    async with hub.database().session() as session:
        due = list((await session.scalars(select(OrderEditRow.id).where(
            OrderEditRow.writeback == PENDING,
            or_(OrderEditRow.next_attempt_at.is_(None), OrderEditRow.next_attempt_at <= moment))
            .order_by(OrderEditRow.id).limit(RETRY_BATCH))).all())
    tried = 0
    for edit_id in due:
        if await _hold(hub, edit_id, moment):
            tried += 1
            await deliver(hub, edit_id, held=True)
    return tried


__all__ = ["FAILED", "LOCAL_ONLY", "NOT_NEEDED", "PENDING", "SENT", "deliver", "platform_kinds", "retry_pending",
           "writeback_state"]
