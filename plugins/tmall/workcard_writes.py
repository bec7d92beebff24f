"""Steps on Tmall service work cards (服务工单) written back with the ``tmall.servicecenter.workcard.*`` APIs.

``WorkcardDesk.write(order, step)``:

- ASSIGN → ``tmall.servicecenter.workcard.assignworker`` (``workcard_id``, ``target_worker_id`` = the
  technician's code, ``target_worker_name``, ``target_worker_mobile``);
- BOOK → ``tmall.servicecenter.workcard.reserve`` (``reserve_time_start``/``_end``, ``worker_name``,
  ``worker_mobile``, ``reserve_remark``);
- CHECK_IN → ``tmall.servicecenter.workcard.signin``;
- COMPLETE → ``tmall.servicecenter.workcard.complete`` (``complete_count`` = the quantity, ``sequence``
  echoed from the card);
- CANCEL → ``alibaba.servicecenter.workcard.cancel`` (``memo``, ``reason_desc``);
- FAIL is not written: ``reservefail``/``suspend`` need a ``fail_code`` whose values are not
  published [U], so the step is recorded in the hub only (``written_back=False`` with a note).

These are service-provider (TP) APIs [U: whether a seller's session may call them]. The shop's
``workcard_writes`` setting (default true) turns writing off: every step is then recorded in the hub
only. A TOP permission refusal (codes 11/12, ``isv.permission-*``) raises ``PermanentError`` naming
it. Each answer's ``result{success, msg_code, msg_info}`` is read: success false → ``BadInputError``
(a parameter the platform refused) or ``PermanentError``, with the platform's words.

TOP keeps no idempotency key, so each step reads the card first (``tmall.servicecenter.workcard.
querybyseller`` by id): a card already where the step leads (the same worker, the same window,
signed in, completed, cancelled) is done and nothing is sent again; a refusal is read back the
same way, so a write whose answer was lost and is sent again reports done. After writing the card
is read again and returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import (
    ServiceOrder,
    ServiceOrderAction,
    ServiceOrderStatus,
    ServiceOrderStep,
    ServiceStepResult,
)
from contracts.service_orders import TERMINAL_SERVICE_STATUSES
from hub.plugin_api import AuthorizationError, BadInputError, PermanentError
from plugins.taobao.client import TopClient
from plugins.taobao.mapping import format_top_time

METHODS: dict[ServiceOrderAction, str] = {
    ServiceOrderAction.ASSIGN: "tmall.servicecenter.workcard.assignworker",
    ServiceOrderAction.BOOK: "tmall.servicecenter.workcard.reserve",
    ServiceOrderAction.CHECK_IN: "tmall.servicecenter.workcard.signin",
    ServiceOrderAction.COMPLETE: "tmall.servicecenter.workcard.complete",
    ServiceOrderAction.CANCEL: "alibaba.servicecenter.workcard.cancel",
}
#: The steps this connector writes (``service_order_writes``).
WORKCARD_WRITES: frozenset[ServiceOrderAction] = frozenset(METHODS)
#: TOP param → the step field it comes from, to name the culprit of a refused parameter.
PARAM_FIELDS = {"target_worker_id": "technician", "target_worker_name": "technician",
                "target_worker_mobile": "technician", "worker_name": "technician", "worker_mobile": "technician",
                "reserve_time_start": "appointment_start", "reserve_time_end": "appointment_end",
                "reserve_remark": "note", "memo": "note", "reason_desc": "reason",
                "complete_count": "quantity", "sequence": "sequence"}
FAIL_NOTE = ("Tmall's reservefail/suspend need a fail_code whose values are not published [U]: the failure is "
             "recorded in the hub only")
OFF_NOTE = "this shop's workcard_writes setting is off: the step is recorded in the hub only, not written to Tmall"

Reader = Callable[[str], Awaitable[ServiceOrder]]


def _result(body: Mapping[str, Any]) -> dict[str, Any]:
    result = body.get("result")
    return dict(result) if isinstance(result, Mapping) else {}


def is_permission_refusal(exc: PermanentError) -> bool:
    """TOP codes 11/12 (insufficient ISV/user permissions) or an ``isv.permission-*`` sub_code."""
    return exc.code in ("11", "12") or "permission" in (exc.partner_message or "").lower()


def already_done(current: ServiceOrder, step: ServiceOrderStep) -> bool:
    """Whether the card already is where ``step`` leads."""
    action = step.action
    if action is ServiceOrderAction.ASSIGN:
        return (step.technician is not None and current.assignee == step.technician.name
                and current.status not in TERMINAL_SERVICE_STATUSES)
    if action is ServiceOrderAction.BOOK:
        start, end = step.appointment_start, step.appointment_end
        return (current.status is ServiceOrderStatus.BOOKED and start is not None and end is not None
                and current.appointment_start == start.replace(microsecond=0)
                and current.appointment_end == end.replace(microsecond=0))
    if action is ServiceOrderAction.CHECK_IN:
        return current.status in (ServiceOrderStatus.ON_SITE, ServiceOrderStatus.COMPLETED)
    if action is ServiceOrderAction.COMPLETE:
        return current.status is ServiceOrderStatus.COMPLETED
    return current.status is ServiceOrderStatus.CANCELLED


class WorkcardDesk:
    """Writes one shop's work-card steps (see the module docstring); ``read`` reads a card by id."""

    def __init__(self, client: TopClient, shop: str, read: Reader, *, enabled: bool = True) -> None:
        self.client = client
        self.shop = shop
        self.read = read
        self.enabled = enabled

    async def write(self, order: ServiceOrder, step: ServiceOrderStep) -> ServiceStepResult:
        if step.action is ServiceOrderAction.FAIL:
            return ServiceStepResult(written_back=False, note=FAIL_NOTE)
        method = METHODS.get(step.action)
        if method is None:
            raise BadInputError(f"shop '{self.shop}': no Tmall work-card call for {step.action.value!r}",
                                field="action")
        if not self.enabled:
            return ServiceStepResult(written_back=False, note=OFF_NOTE)
        card_id = order.ref.external_id
        self._check(step)
        current = await self.read(card_id)
        if already_done(current, step):
            return ServiceStepResult(written_back=True, service_order=current,
                                     note=f"already done at Tmall (work card {current.status.value})")
        if current.status in TERMINAL_SERVICE_STATUSES:
            raise PermanentError(f"shop '{self.shop}': Tmall work card {card_id} is {current.status.value}; "
                                 f"{step.action.value} no longer applies")
        params = self._params(card_id, current, step)
        try:
            body = await self.client.call(method, params, retry=False)
        except AuthorizationError:
            raise
        except PermanentError as exc:
            if is_permission_refusal(exc):
                raise PermanentError(
                    f"shop '{self.shop}': Tmall refused {method} (TOP code {exc.code}: {exc.partner_message}). "
                    "Work-card writes are service-provider APIs [U: whether a seller's session may call them]; "
                    "set the shop's workcard_writes = false to record steps in the hub only",
                    code=exc.code, partner_message=exc.partner_message) from exc
            return await self._after_refusal(card_id, step, method, exc)
        result = _result(body)
        if result.get("success") is False:
            words = f"{result.get('msg_info') or '?'} ({result.get('msg_code') or 'no code'})"
            refusal = PermanentError(f"shop '{self.shop}': {method} refused work card {card_id}: {words}",
                                     code=str(result.get("msg_code") or ""), partner_message=words)
            return await self._after_refusal(card_id, step, method, refusal)
        return ServiceStepResult(written_back=True, service_order=await self.read(card_id))

    async def _after_refusal(self, card_id: str, step: ServiceOrderStep, method: str,
                             exc: PermanentError) -> ServiceStepResult:
        """A refused write: done after all (an earlier attempt took it), or refused for a value
        (``BadInputError`` naming the step's field), or refused as such (``PermanentError``)."""
        current = await self.read(card_id)
        if already_done(current, step):
            return ServiceStepResult(written_back=True, service_order=current,
                                     note=f"already done at Tmall (work card {current.status.value})")
        text = f"{exc.code or ''} {exc.partner_message or ''}"
        for param, field in PARAM_FIELDS.items():
            if f"isv.invalid-parameter:{param}" in text or f"isv.missing-parameter:{param}" in text:
                raise BadInputError(f"shop '{self.shop}': {method} refused {field} for work card {card_id}: "
                                    f"{exc.partner_message}", field=field, code=exc.code) from exc
        if "param" in (exc.code or "").lower():
            raise BadInputError(f"shop '{self.shop}': {method} refused work card {card_id}: {exc.partner_message}",
                                field="step", code=exc.code) from exc
        raise exc

    # -- the params of each step -----------------------------------------------------------------

    @staticmethod
    def _check(step: ServiceOrderStep) -> None:
        """The step carries what its call needs (``BadInputError`` naming the field)."""
        if step.action is ServiceOrderAction.ASSIGN and step.technician is None:
            raise BadInputError("assigning a Tmall work card needs the technician", field="technician")
        if step.action is ServiceOrderAction.BOOK and (step.appointment_start is None or step.appointment_end is None):
            raise BadInputError("booking a Tmall work card needs the appointment's start and end",
                                field="appointment_start")

    @staticmethod
    def _params(card_id: str, current: ServiceOrder, step: ServiceOrderStep) -> dict[str, Any]:
        params: dict[str, Any] = {"workcard_id": card_id}
        technician = step.technician
        if step.action is ServiceOrderAction.ASSIGN and technician is not None:
            params.update(target_worker_id=technician.code, target_worker_name=technician.name,
                          target_worker_mobile=technician.mobile)
        elif step.action is ServiceOrderAction.BOOK and step.appointment_start and step.appointment_end:
            params.update(reserve_time_start=format_top_time(step.appointment_start),
                          reserve_time_end=format_top_time(step.appointment_end),
                          worker_name=technician.name if technician else current.assignee,
                          worker_mobile=technician.mobile if technician else None, reserve_remark=step.note)
        elif step.action is ServiceOrderAction.COMPLETE:
            params.update(complete_count=current.quantity, sequence=current.extra.get("sequence"))
        elif step.action is ServiceOrderAction.CANCEL:
            params.update(memo=step.note or step.reason, reason_desc=step.reason)
        return {key: value for key, value in params.items() if value not in (None, "")}
