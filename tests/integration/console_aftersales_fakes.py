"""Small stand-ins for the after-sales services the console screens call (``queries``, ``decisions``,
``figures``), for testing the screens while those services are built elsewhere. Not a test module.

They read the cases the test stored through the public intake (``apply_aftersale``: the
``aftersales`` rows and the report kept in ``data``), answer with the services' own dataclasses,
and record every decision (``decided``) instead of writing it back. ``install`` replaces the
services' functions; ``install_where_stubbed`` only those still raising ``NotImplementedError``,
so a test using it runs unchanged once the real services are merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import (
    TERMINAL_AFTERSALE_STATUSES,
    AfterSale,
    AfterSaleAction,
    AfterSaleStatus,
    AfterSaleType,
    RefuseReason,
    allowed_actions,
)
from hub.context import Hub
from hub.db.tables import AfterSaleRow
from hub.errors import BadInputError, NotFoundError
from hub.services.aftersales import decisions, figures, queries
from hub.services.aftersales.intake import apply_aftersale

_TERMINAL = {s.value for s in TERMINAL_AFTERSALE_STATUSES}


async def seed_case(hub: Hub, case: AfterSale) -> int:
    """Store ``case`` through the public intake, as a platform's report would; its id."""
    async with hub.database().transaction() as session:
        case_id, _ = await apply_aftersale(session, case, cause="test")
    return case_id


def _when(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _summary(row: AfterSaleRow) -> queries.CaseSummary:
    report = AfterSale.model_validate(row.data)
    amount = report.refund_amount
    return queries.CaseSummary(
        id=row.id, platform=row.platform, shop=row.shop, external_id=row.external_id, order_id=row.order_id,
        order_external_id=row.order_external_id, type=row.type, status=row.status, raw_status=row.raw_status,
        refund_amount=amount.amount if amount else None, currency=amount.currency if amount else None,
        reason=report.reason, applied_at=report.created_at, deadline=report.deadline, updated_at=report.updated_at)


@dataclass
class FakeAftersales:
    """The services' answers over the stored cases; set the attributes to steer a test."""

    #: What the shops' connectors write back (every action but ``reissue``: recorded only).
    platform_acts: frozenset[str] = frozenset(a.value for a in AfterSaleAction) - {AfterSaleAction.REISSUE.value}
    #: Raised by ``decide`` instead of deciding (a conflict, a bad field), when set.
    refusal: Exception | None = None
    #: ``decide``'s outcome state.
    state: str = "done"
    refuse_reasons_list: list[RefuseReason] = field(default_factory=lambda: [
        RefuseReason(id="r-1", text="已发货，请拒收后申请", proof_required=False),
        RefuseReason(id="r-2", text="商品无质量问题", proof_required=True, hint="附商品照片")])
    #: (case id, the decision, actor, key, cause) for every ``decide``.
    decided: list[tuple[int, decisions.DecisionIn, str, str | None, str]] = field(default_factory=list)
    rate_rows: list[figures.RateRow] = field(default_factory=lambda: [
        figures.RateRow("MUG", 120, 9, 3, 1, 0.075, 0.025, {"CNY": Decimal("450.00")}),
        figures.RateRow("TEE", 80, 2, 2, 0, 0.025, 0.025, {"CNY": Decimal("76.00")})])
    reason_rows: list[figures.ReasonRow] = field(default_factory=lambda: [
        figures.ReasonRow("不想要了", 7, 0.5833), figures.ReasonRow("质量问题", 5, 0.4167)])

    async def _rows(self, session: AsyncSession) -> list[AfterSaleRow]:
        return list((await session.execute(select(AfterSaleRow))).scalars())

    async def list_cases(self, session: AsyncSession, flt: queries.CaseFilter, *, sort: str = "due",
                         cursor: str | None = None, limit: int = 50) -> queries.CasePage:
        if cursor is not None and not cursor.isdigit():
            raise BadInputError("cursor: not one this list issued", field="cursor")
        found = [_summary(r) for r in await self._rows(session)]
        found = [c for c in found if (not flt.statuses or c.status in flt.statuses)
                 and (not flt.types or c.type in flt.types) and (flt.shop in (None, c.shop))
                 and (flt.platform in (None, c.platform)) and (flt.order_id in (None, c.order_id))
                 and (not flt.open_only or c.status not in _TERMINAL)
                 and (flt.deadline_before is None or (c.deadline is not None and c.deadline < flt.deadline_before))]
        far = datetime.max.replace(tzinfo=UTC)
        found.sort(key=lambda c: (c.deadline is None, c.deadline or far, c.id))
        start = int(cursor or 0)
        more = len(found) > start + limit
        return queries.CasePage(found[start:start + limit], str(start + limit) if more else None)

    async def case_detail(self, session: AsyncSession, case_id: int, *,
                          platform_actions: frozenset[str] | None = None) -> queries.CaseDetail:
        row = await session.get(AfterSaleRow, case_id)
        if row is None:
            raise NotFoundError(f"after-sale case {case_id} not found")
        report = AfterSale.model_validate(row.data)
        allowed = [queries.AllowedAction(a.value, platform_actions is not None and a.value in platform_actions)
                   for a in allowed_actions(AfterSaleType(row.type), AfterSaleStatus(row.status))]
        lines = [queries.CaseLine(position=i, order_line_id=None, line_external_id=line.line_external_id,
                                  merchant_sku=line.merchant_sku, quantity=line.quantity,
                                  refund_amount=line.refund_amount.amount if line.refund_amount else None,
                                  received_good=0, received_damaged=0) for i, line in enumerate(report.lines, 1)]
        history = [queries.CaseEvent(id=1, at=report.created_at, kind="reported", old_status=None,
                                     new_status=row.status, cause="test", actor=None, detail={})]
        taken = [queries.CaseDecision(id=n, action=d.action, state=self.state, actor=actor, attempts=1, error=None,
                                      result={}, created_at=datetime.now(UTC))
                 for n, (cid, d, actor, _, _) in enumerate(self.decided, 1) if cid == case_id]
        return queries.CaseDetail(
            summary=_summary(row), description=report.description, evidence=list(report.evidence),
            max_refund=report.max_refund.amount if report.max_refund else None, return_courier=report.return_courier,
            return_tracking_number=report.return_tracking_number, exchange_sku=report.exchange_sku,
            version=report.version, received=False, resolution=None, delivery_order_id=None, decided_by=None,
            lines=lines, history=history, decisions=taken, allowed=allowed)

    async def cases_of_order(self, session: AsyncSession, order_id: int) -> list[queries.CaseSummary]:
        found = [_summary(r) for r in await self._rows(session) if r.order_id == order_id]
        return sorted(found, key=lambda c: -c.id)

    def platform_actions(self, hub: Any, shop: str) -> frozenset[str] | None:
        return self.platform_acts if shop in hub.config.shops else None

    async def decide(self, hub: Any, case_id: int, decision: decisions.DecisionIn, *, actor: str,
                     key: str | None = None, cause: str = "api") -> decisions.DecisionOutcome:
        if self.refusal is not None:
            raise self.refusal
        async with hub.database().session() as session:
            row = await session.get(AfterSaleRow, case_id)
        if row is None:
            raise NotFoundError(f"after-sale case {case_id} not found")
        repeated = key is not None and any(k == key for _, _, _, k, _ in self.decided)
        if not repeated:
            self.decided.append((case_id, decision, actor, key, cause))
        return decisions.DecisionOutcome(case_id=case_id, action_id=len(self.decided), action=decision.action,
                                         state=self.state, written_back=self.state == "done", status=row.status,
                                         repeated=repeated)

    async def refuse_reasons(self, hub: Any, case_id: int) -> list[RefuseReason]:
        return list(self.refuse_reasons_list)

    async def rates(self, session: AsyncSession, *, by: str, since: datetime, until: datetime,
                    shop: str | None = None, limit: int = 50) -> list[figures.RateRow]:
        if by == "shop":
            return [figures.RateRow("shop-a", 200, 11, 5, 1, 0.055, 0.025, {"CNY": Decimal("526.00")})]
        return list(self.rate_rows[:limit])

    async def reasons(self, session: AsyncSession, *, since: datetime, until: datetime, shop: str | None = None,
                      limit: int = 20) -> list[figures.ReasonRow]:
        return list(self.reason_rows[:limit])

    def install(self, monkeypatch: pytest.MonkeyPatch, *, modules: tuple[str, ...] = ("queries", "decisions",
                                                                                           "figures")) -> None:
        """Replace the services' functions of ``modules`` with this fake's."""
        names = {"queries": (queries, ("list_cases", "case_detail", "cases_of_order", "platform_actions")),
                 "decisions": (decisions, ("decide", "refuse_reasons")),
                 "figures": (figures, ("rates", "reasons"))}
        for module_name in modules:
            module, functions = names[module_name]
            for name in functions:
                monkeypatch.setattr(module, name, getattr(self, name))

    async def install_where_stubbed(self, monkeypatch: pytest.MonkeyPatch, hub: Hub) -> tuple[str, ...]:
        """Replace only the service modules still raising ``NotImplementedError``; their names."""
        stubbed: list[str] = []
        try:
            queries.platform_actions(hub, "-")
        except NotImplementedError:
            stubbed.append("queries")
        try:
            await decisions.refuse_reasons(hub, -1)
        except NotImplementedError:
            stubbed.append("decisions")
        except Exception:  # a real service refusing an unknown case: it is built
            pass
        async with hub.database().session() as session:
            try:
                await figures.reasons(session, since=datetime.now(UTC), until=datetime.now(UTC))
            except NotImplementedError:
                stubbed.append("figures")
        self.install(monkeypatch, modules=tuple(stubbed))
        return tuple(stubbed)
