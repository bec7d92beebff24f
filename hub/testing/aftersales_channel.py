"""A fake channel that takes after-sale decisions as the connector contract says
(``ChannelConnector.decide_aftersale``): for the hub's own tests of deciding cases, not for any
platform's behaviour.

``AfterSalesPlatform`` holds the cases as "the platform" sees them, with a version that changes on
every move; a decision with an older version, or one its state machine does not allow now, is
``StaleAfterSaleError`` with the current case; an amount above ``max_refund`` or a refusal without
a reason is ``BadInputError`` naming the field; the same key twice is answered from memory (applied
once). Faults are injected in order: ``timeouts`` raise ``RetryableError`` before applying,
``lost_answers`` apply and then raise it (the hub cannot tell the two apart).
``make_channel(platform, actions=...)`` makes a connector class of its own (its own platform state)
taking only ``actions``; ``plugin_for(*classes)`` registers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from contracts.aftersales import (
    AfterSale,
    AfterSaleAction,
    AfterSaleDecision,
    AfterSaleDecisionResult,
    AfterSaleStatus,
    RefuseReason,
    allowed_actions,
)
from contracts.connectors import Capability
from hub.plugin_api import BadInputError, RetryableError, StaleAfterSaleError, hookimpl

#: Where each decision takes a case at this fake platform.
MOVES: dict[AfterSaleAction, AfterSaleStatus] = {
    AfterSaleAction.APPROVE_REFUND: AfterSaleStatus.REFUNDING,
    AfterSaleAction.REFUSE: AfterSaleStatus.REJECTED,
    AfterSaleAction.AGREE_RETURN: AfterSaleStatus.AWAITING_RETURN,
    AfterSaleAction.CONFIRM_RETURN: AfterSaleStatus.REFUNDING,
    AfterSaleAction.REFUSE_RETURN: AfterSaleStatus.REJECTED,
    AfterSaleAction.AGREE_EXCHANGE: AfterSaleStatus.AWAITING_RETURN,
    AfterSaleAction.RECEIVE_EXCHANGE: AfterSaleStatus.RETURNED,
    AfterSaleAction.SHIP_EXCHANGE: AfterSaleStatus.REPLACEMENT_SHIPPED,
    AfterSaleAction.REISSUE: AfterSaleStatus.APPROVED,
}
REASONS = [RefuseReason(id="R1", text="goods not as described by the buyer", proof_required=True),
           RefuseReason(id="R2", text="the return parcel arrived empty")]


@dataclass
class AfterSalesPlatform:
    """The fake platform's state: its cases, the decisions it saw and took, faults to inject."""

    cases: dict[str, AfterSale] = field(default_factory=dict)
    received: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (case id, action, key)
    applied: dict[str, AfterSaleDecisionResult] = field(default_factory=dict)
    decisions: list[AfterSaleDecision] = field(default_factory=list)
    taken_log: list[tuple[str, str]] = field(default_factory=list)  # (case id, action) applied
    timeouts: int = 0
    lost_answers: int = 0
    #: Report the case back after a decision (False: the hub moves it itself).
    report_back: bool = True

    def reset(self) -> None:
        self.cases.clear()
        self.received.clear()
        self.calls.clear()
        self.applied.clear()
        self.decisions.clear()
        self.taken_log.clear()
        self.timeouts = self.lost_answers = 0
        self.report_back = True

    def add(self, case: AfterSale) -> AfterSale:
        """Hold ``case`` (version "1" unless it has one); returns it as held."""
        held = case if case.version else case.model_copy(update={"version": "1"})
        self.cases[case.ref.external_id] = held
        return held

    def move(self, external_id: str, status: AfterSaleStatus) -> AfterSale:
        """The platform moves a case by itself (the buyer withdrew, a timeout decided)."""
        case = self.cases[external_id]
        moved = case.model_copy(update={"status": status, "raw_status": status.value.upper(),
                                        "version": str(int(case.version or "1") + 1),
                                        "updated_at": case.updated_at + timedelta(minutes=1)})
        self.cases[external_id] = moved
        return moved

    def taken(self, external_id: str) -> list[str]:
        """The actions the platform took on a case, in order (each once)."""
        return [action for case_id, action in self.taken_log if case_id == external_id]

    def decide(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        external_id = case.ref.external_id
        self.calls.append((external_id, decision.action.value, decision.key))
        if self.timeouts:
            self.timeouts -= 1
            raise RetryableError(f"after-sale {external_id}: timed out (injected)")
        if decision.key in self.applied:
            return self.applied[decision.key]
        current = self.cases[external_id]
        if decision.version is not None and decision.version != current.version:
            raise StaleAfterSaleError(f"after-sale {external_id}: version {decision.version} is stale (now "
                                      f"{current.version})", current=current, code="stale")
        allowed = allowed_actions(current.type, current.status, received=external_id in self.received)
        if decision.action not in allowed:
            raise StaleAfterSaleError(f"after-sale {external_id} is {current.status.value}: {decision.action.value} "
                                      "no longer applies", current=current, code="state")
        if decision.refund_amount is not None and current.max_refund is not None and \
                decision.refund_amount.amount > current.max_refund.amount:
            raise BadInputError(f"refund {decision.refund_amount.amount} is above {current.max_refund.amount}",
                                field="refund_amount")
        if decision.action in (AfterSaleAction.REFUSE, AfterSaleAction.REFUSE_RETURN) and not (
                decision.reason_id or decision.reason_text):
            raise BadInputError("a refusal needs a reason", field="reason_id")
        if decision.action is AfterSaleAction.RECEIVE_EXCHANGE:
            self.received.add(external_id)
        moved = self.move(external_id, MOVES[decision.action])
        result = AfterSaleDecisionResult(written_back=True, case=moved if self.report_back else None)
        self.applied[decision.key] = result
        self.decisions.append(decision)
        self.taken_log.append((external_id, decision.action.value))
        if self.lost_answers:
            self.lost_answers -= 1
            raise RetryableError(f"after-sale {external_id}: the answer was lost (injected)")
        return result


class _Settings(BaseModel):
    app_key: str = "fake"


class FakeAfterSalesChannel:
    """The connector: every call goes to its class's ``platform_state``."""

    platform: ClassVar[str] = "asfake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.AFTERSALES, Capability.DECIDE_AFTERSALES})
    aftersale_actions: ClassVar[frozenset[AfterSaleAction]] = frozenset(AfterSaleAction)
    platform_state: ClassVar[AfterSalesPlatform] = AfterSalesPlatform()
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def decide_aftersale(self, case: AfterSale, decision: AfterSaleDecision) -> AfterSaleDecisionResult:
        if decision.action not in self.aftersale_actions:
            return AfterSaleDecisionResult(written_back=False, note=f"no API for {decision.action.value}")
        return self.platform_state.decide(case, decision)

    async def aftersale_refuse_reasons(self, case: AfterSale) -> list[RefuseReason]:
        return list(REASONS)

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        return [c for c in self.platform_state.cases.values() if start <= c.updated_at.astimezone(UTC) < end]

    async def get_aftersale(self, external_id: str) -> AfterSale:
        return self.platform_state.cases[external_id]

    async def aclose(self) -> None:
        return None


def make_channel(platform: str, *, actions: frozenset[AfterSaleAction] | None = None,
                 decides: bool = True) -> type[FakeAfterSalesChannel]:
    """A connector class of its own for ``platform`` (its own ``platform_state``), taking only
    ``actions``; ``decides=False``: one without ``DECIDE_AFTERSALES`` at all."""
    capabilities = {Capability.AFTERSALES} | ({Capability.DECIDE_AFTERSALES} if decides else set())
    return type(f"Fake_{platform}", (FakeAfterSalesChannel,), {
        "platform": platform, "capabilities": frozenset(capabilities),
        "aftersale_actions": actions if actions is not None else frozenset(AfterSaleAction),
        "platform_state": AfterSalesPlatform()})


class ChannelsPlugin:
    """Registers the given fake connector classes."""

    def __init__(self, *classes: type[Any]) -> None:
        self.classes = list(classes)

    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return self.classes
