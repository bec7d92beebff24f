"""The case page's decision forms: ``POST /console/aftersales/{id}/decide`` with the ``action`` and
its fields (an amount, a reason with proof files — multipart —, the quality of each returned line,
a warehouse or a courier and tracking number), the session's token and the form's idempotency key.

The form is read into the service's ``DecisionIn`` and handed to ``decisions.decide`` (the API's
own service) under the signed-in person's name with ``cause="console"``. Taken: back to the case
page with a notice of where the write-back stands. Refused: the case page again, the problem beside
the form (422 naming the field; 409 with what the platform reports now). The key is made when the
page is drawn, so a form sent twice is one decision. Included by ``aftersales.router`` under ``/console``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from contracts.aftersales import AfterSaleAction, Proof
from hub.console.auth import CSRF_FIELD, ConsolePrincipal, checked_form
from hub.console.i18n import Translator
from hub.console.pages import error_page, translator, with_notice, write_session
from hub.console.routes.aftersales_case import BASE, case_page_response
from hub.console.routes.aftersales_support import DECIDE, PROOF_MOST_BYTES, FormProblem
from hub.context import Hub
from hub.errors import BadInputError, HubError, NotFoundError
from hub.services.access.owners import ensure_owned
from hub.services.aftersales import decisions

router = APIRouter(include_in_schema=False)

_ACTIONS = frozenset(a.value for a in AfterSaleAction)
_REFUSALS = (AfterSaleAction.REFUSE.value, AfterSaleAction.REFUSE_RETURN.value)
_RECEIPTS = (AfterSaleAction.CONFIRM_RETURN.value, AfterSaleAction.RECEIVE_EXCHANGE.value)
_SHIPPING = (AfterSaleAction.SHIP_EXCHANGE.value, AfterSaleAction.REISSUE.value)
#: The longest idempotency key a decision takes (``AfterSaleDecision.key``).
KEY_MOST = 100
_AMOUNTS = (AfterSaleAction.APPROVE_REFUND.value, AfterSaleAction.CONFIRM_RETURN.value)


class FormInputError(Exception):
    """A form value the console can tell is wrong before asking the service (``field``, sentence)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _amount(form: dict[str, str], t: Translator) -> Decimal | None:
    text = _text(form, "refund_amount")
    if text is None:
        return None
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise FormInputError("refund_amount", t.t("aftersales.problem_amount")) from None
    if not amount.is_finite() or amount <= 0:
        raise FormInputError("refund_amount", t.t("aftersales.problem_amount"))
    return amount


def _count(form: dict[str, str], name: str, t: Translator) -> int:
    text = _text(form, name)
    if text is None:
        return 0
    if not text.isdigit():
        raise FormInputError(name, t.t("aftersales.problem_count"))
    return int(text)


def _quality(form: dict[str, str], t: Translator) -> tuple[decisions.LineQuality, ...]:
    """Per line, ``good_<position>`` and ``damaged_<position>``; all empty: every unit came back good."""
    positions = sorted({int(k.split("_", 1)[1]) for k in form
                        if k.startswith(("good_", "damaged_")) and k.split("_", 1)[1].isdigit()})
    if not any(_text(form, f"{kind}_{p}") for p in positions for kind in ("good", "damaged")):
        return ()
    return tuple(decisions.LineQuality(position=p, good=_count(form, f"good_{p}", t),
                                       damaged=_count(form, f"damaged_{p}", t)) for p in positions)


async def _proof(request: Request, t: Translator) -> tuple[Proof, ...]:
    """The files of the ``proof`` input (none chosen: an empty part, skipped)."""
    files = [f for f in (await request.form()).getlist("proof") if isinstance(f, UploadFile) and f.filename]
    proof = []
    for upload in files:
        content = await upload.read(PROOF_MOST_BYTES + 1)
        if len(content) > PROOF_MOST_BYTES:
            raise FormInputError("proof", t.t("aftersales.problem_proof_size",
                                                  most=PROOF_MOST_BYTES // (1024 * 1024)))
        proof.append(Proof(filename=upload.filename or "proof", content=content,
                           content_type=upload.content_type or "application/octet-stream"))
    return tuple(proof)


async def decision_from_form(request: Request, form: dict[str, str], t: Translator) -> decisions.DecisionIn:
    """The form as the service's ``DecisionIn``; ``FormInputError`` for what is plainly wrong."""
    action = form.get("action", "")
    if action not in _ACTIONS:
        raise FormInputError("action", t.t("aftersales.problem_action"))
    values: dict[str, Any] = {"action": action, "remark": _text(form, "remark")}
    if action in _AMOUNTS:
        values["refund_amount"] = _amount(form, t)
    if action in _REFUSALS:
        values.update(reason_id=_text(form, "reason_id"), reason_text=_text(form, "reason_text"),
                      proof=await _proof(request, t))
        if values["reason_id"] is None and values["reason_text"] is None:
            raise FormInputError("reason_text", t.t("aftersales.problem_reason"))
    if action in _RECEIPTS:
        values["quality"] = _quality(form, t)
    if action in _SHIPPING:
        values["warehouse"] = _text(form, "warehouse")
    if action == AfterSaleAction.SHIP_EXCHANGE.value:
        courier, tracking = _text(form, "courier_code"), _text(form, "tracking_number")
        if (courier is None) != (tracking is None):
            raise FormInputError("tracking_number" if tracking is None else "courier_code",
                                 t.t("aftersales.problem_tracking"))
        values.update(courier_code=courier, tracking_number=tracking)
    return decisions.DecisionIn(**values)


#: What a conflict shows of the platform's case, in this order, when it says them.
_CURRENT_KEYS = ("status", "raw_status", "type", "refund_amount", "updated_at", "version")


def _current(value: Any) -> dict[str, Any]:
    """What a conflict says the platform reports now, as a few plain values to show (an amount as
    "25.50 CNY"); every plain value when it names none of ``_CURRENT_KEYS``."""
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if not isinstance(value, dict):
        return {"status": str(value)}
    plain: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and {"amount", "currency"} <= set(item):
            plain[str(key)] = f"{item['amount']} {item['currency']}"
        elif isinstance(item, str | int | float | bool):
            plain[str(key)] = item
    chosen = {k: plain[k] for k in _CURRENT_KEYS if k in plain}
    return chosen or plain


async def _refused(request: Request, principal: ConsolePrincipal, case_id: int, form: dict[str, str],
                   problem: FormProblem, status: int) -> Response:
    kept = {k: v for k, v in form.items() if k not in (CSRF_FIELD, "key")}
    return await case_page_response(request, principal, case_id, problem=problem, values=kept, status=status)


@router.post("/aftersales/{case_id}/decide")
async def decide_from_form(request: Request, case_id: int) -> Response:
    form, principal = await checked_form(request, DECIDE)
    hub: Hub = request.app.state.hub
    t = translator(request)
    action = form.get("action", "")
    try:
        await ensure_owned(hub, principal, "aftersale", [case_id])
        decision = await decision_from_form(request, form, t)
        key = _text(form, "key")
        outcome = await decisions.decide(hub, case_id, decision, actor=principal.actor,
                                         key=key[:KEY_MOST] if key else None, cause="console")
    except FormInputError as exc:
        return await _refused(request, principal, case_id, form,
                              FormProblem(action, str(exc), field=exc.field), 422)
    except NotFoundError:
        return error_page(request, t.t("aftersales.missing", id=case_id), status=404)
    except decisions.CaseConflictError as exc:
        return await _refused(request, principal, case_id, form, FormProblem(
            action, t.t("aftersales.conflict", detail=str(exc)), conflict=True, current=_current(exc.current)), 409)
    except BadInputError as exc:
        return await _refused(request, principal, case_id, form, FormProblem(action, str(exc), field=exc.field), 422)
    except HubError as exc:  # the platform could not be asked (a paused shop, a partner fault the service raised)
        return await _refused(request, principal, case_id, form, FormProblem(action, str(exc)), 502)
    notice: dict[str, object] = {"done": outcome.action, "state": outcome.state}
    if outcome.repeated:
        notice["repeated"] = 1
    target = with_notice(f"{BASE}/{case_id}", **notice) + "#decisions"
    return write_session(request, RedirectResponse(target, status_code=303))
