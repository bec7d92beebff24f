"""Deciding after-sale cases over HTTP: take a decision (JSON, or multipart/form-data with proof
files), see where one decision's write-back stands, and the platform's refuse reasons.

``POST /api/v1/aftersales/{id}/decisions`` answers 200 when the platform took the decision (or the
hub recorded it: the platform has no API for it), 202 while the write-back waits for a retry (a
timeout: tried again with the same key), 409 with the platform's ``current`` case when it moved
on, 422 naming the field for a decision that does not apply or a value refused, 404 for an
unknown case, 502 when the platform never answered and no retry is left. An ``Idempotency-Key``
makes a retried call decide once. Writes need ``orders.write`` and are attributed to the caller.
The logic is ``hub.services.aftersales.decisions``; not for reading cases (``aftersales`` routes).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from contracts.aftersales import Proof
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody, field_problems
from hub.api.params import RowId
from hub.db.tables import AfterSaleActionRow
from hub.errors import BadInputError, PartnerError, describe_error
from hub.services.access.owners import ensure_owned
from hub.services.aftersales import decisions
from hub.services.aftersales.decisions import CaseConflictError, DecisionIn, LineQuality

log = structlog.get_logger(__name__)
router = APIRouter(tags=["aftersales"])

#: Proof files: at most this many, each at most this large, of these types (what platforms take
#: as evidence images; the whole request is also bounded by ``[limits] api_body_bytes``).
PROOF_MAX_FILES = 5
PROOF_MAX_BYTES = 512 * 1024
PROOF_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class QualityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=0, le=10_000, description="The case line's position (as the case shows it).")
    good: int = Field(default=0, ge=0, le=1_000_000, description="Units back in a state to sell again.")
    damaged: int = Field(default=0, ge=0, le=1_000_000, description="Units back damaged: to the defective location.")


class DecisionBody(BaseModel):
    """A decision; which fields matter depends on ``action``."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=30, description="approve_refund, refuse, agree_return, "
                        "confirm_return, refuse_return, agree_exchange, receive_exchange, ship_exchange, reissue.")
    refund_amount: Decimal | None = Field(default=None, gt=0, max_digits=16, decimal_places=2,
                                          description="approve_refund / confirm_return: the refund (default: "
                                                      "what the buyer asked); at most what was paid.")
    reason_id: str | None = Field(default=None, max_length=100, description="A refusal: a refuse reason's id.")
    reason_text: str | None = Field(default=None, max_length=500, description="A refusal: the reason in words.")
    remark: str | None = Field(default=None, max_length=500)
    quality: list[QualityIn] = Field(default_factory=list, max_length=200,
                                     description="confirm_return / receive_exchange: per line; none = all good.")
    warehouse: str | None = Field(default=None, max_length=100,
                                  description="ship_exchange / reissue: ship from here (default: routed).")
    courier_code: str | None = Field(default=None, max_length=50,
                                     description="ship_exchange / reissue shipped outside the hub: the courier.")
    tracking_number: str | None = Field(default=None, max_length=100, description="... and its tracking number.")


class DecisionOut(BaseModel):
    case_id: int
    action_id: int
    action: str
    state: str = Field(description="done (the platform took it), recorded (the hub only: no API), pending "
                                   "(tried again later with the same key).")
    written_back: bool
    status: str = Field(description="The case's status now.")
    note: str | None = None
    repeated: bool = Field(default=False, description="The Idempotency-Key was used before: the first outcome.")
    delivery_order_id: int | None = None
    stock: list[dict[str, Any]] = Field(default_factory=list, description="Stock movements of goods received.")


class ConflictBody(BaseModel):
    error: str = "conflict"
    detail: str
    current: dict[str, Any] | None = Field(description="The case as the platform reports it now, when known.")


class RefuseReasonOut(BaseModel):
    id: str
    text: str
    proof_required: bool
    hint: str | None = None


class DecisionStateOut(BaseModel):
    id: int
    case_id: int
    action: str
    state: str
    actor: str | None
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    result: dict[str, Any]
    created_at: datetime
    updated_at: datetime


_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": DecisionBody.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["action"], "properties": {
        **{name: {"type": "string"} for name in ("action", "refund_amount", "reason_id", "reason_text", "remark",
                                                   "warehouse", "courier_code", "tracking_number")},
        "quality": {"type": "string", "description": "JSON list of {position, good, damaged}."},
        "proof": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": f"Evidence images ({', '.join(sorted(PROOF_TYPES))}), at most {PROOF_MAX_FILES}, "
                                 f"each at most {PROOF_MAX_BYTES // 1024} KiB."}}}}}}}


def _invalid(exc: ValidationError) -> ApiError:
    problems = field_problems(exc.errors())
    for problem in problems:
        problem["field"] = f"body.{problem['field']}" if problem["field"] else "body"
    return ApiError(422, "invalid_request", problems, field=problems[0]["field"] if problems else None)


async def _proofs(parts: list[Any]) -> list[Proof]:
    if len(parts) > PROOF_MAX_FILES:
        raise ApiError(422, "bad_input", f"at most {PROOF_MAX_FILES} proof files", field="proof")
    out = []
    for i, part in enumerate(parts):
        if not isinstance(part, UploadFile):
            raise ApiError(422, "bad_input", "proof must be a file part", field=f"proof[{i}]")
        media = (part.content_type or "").split(";", 1)[0].strip().lower()
        if media not in PROOF_TYPES:
            raise ApiError(415, "unsupported_media_type", f"proof[{i}] is {media or 'untyped'}; send "
                           f"{', '.join(sorted(PROOF_TYPES))}", field=f"proof[{i}]")
        content = await part.read(PROOF_MAX_BYTES + 1)
        if len(content) > PROOF_MAX_BYTES:
            raise ApiError(413, "too_large", f"proof[{i}] is larger than {PROOF_MAX_BYTES // 1024} KiB",
                           field=f"proof[{i}]")
        out.append(Proof(filename=(part.filename or f"proof-{i + 1}")[:200], content_type=media, content=content))
    return out


async def _read_decision(request: Request) -> tuple[DecisionBody, list[Proof]]:
    """The decision from a JSON body, or from a multipart form with its proof files."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if media == "application/json":
            try:
                raw = json.loads(await request.body())
            except ValueError:
                raise ApiError(422, "invalid_request", "the body is not JSON", field="body") from None
            return DecisionBody.model_validate(raw), []
        if media == "multipart/form-data":
            form = await request.form(max_files=PROOF_MAX_FILES + 1, max_fields=20)
            fields: dict[str, Any] = {k: v for k, v in form.items() if k != "proof" and isinstance(v, str) and v != ""}
            if "quality" in fields:
                try:
                    fields["quality"] = json.loads(fields["quality"])
                except ValueError:
                    raise ApiError(422, "invalid_request", "quality must be a JSON list", field="body.quality") \
                        from None
            return DecisionBody.model_validate(fields), await _proofs(form.getlist("proof"))
    except ValidationError as exc:
        raise _invalid(exc) from None
    raise ApiError(415, "unsupported_media_type", f"send application/json or multipart/form-data (got "
                   f"{media[:100] or 'no Content-Type'!r})")


def decision_in(body: DecisionBody, proof: list[Proof]) -> DecisionIn:
    return DecisionIn(action=body.action, refund_amount=body.refund_amount, reason_id=body.reason_id,
                      reason_text=body.reason_text, proof=tuple(proof), remark=body.remark,
                      quality=tuple(LineQuality(q.position, q.good, q.damaged) for q in body.quality),
                      warehouse=body.warehouse, courier_code=body.courier_code, tracking_number=body.tracking_number)


def caller_key(principal: Principal, key: str) -> str:
    """The caller's own namespace, so two callers' keys never meet."""
    return f"{principal.prefix or principal.actor}:{key}"


@router.post("/api/v1/aftersales/{case_id}/decisions", response_model=DecisionOut, openapi_extra=_BODY_DOC,
             summary="Decide an after-sale case (written back to the platform once)",
             responses={202: {"model": DecisionOut, "description": "Waiting for a retry of the write-back."},
                        409: {"model": ConflictBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody},
                        422: {"model": ErrorBody}, 502: {"model": ErrorBody}})
async def post_decision(
    request: Request, response: Response, case_id: RowId,
    principal: Principal = Depends(require(Permission.ORDERS_WRITE)),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1, max_length=80,
                                         description="Any unique string per intended decision: the same call "
                                                     "again with it decides nothing and answers the first outcome."),
) -> DecisionOut | JSONResponse:
    await ensure_owned(get_hub(request), principal, "aftersale", [case_id])
    body, proof = await _read_decision(request)
    try:
        outcome = await decisions.decide(
            get_hub(request), case_id, decision_in(body, proof), actor=principal.actor, cause="api",
            key=caller_key(principal, idempotency_key) if idempotency_key else None)
    except CaseConflictError as exc:
        return JSONResponse({"error": "conflict", "detail": str(exc), "current": exc.current}, status_code=409)
    except BadInputError as exc:
        raise ApiError(422, "bad_input", str(exc), field=exc.field) from None
    if outcome.state == decisions.PENDING:
        response.status_code = 202
    elif outcome.state == decisions.FAILED:  # the platform never answered: retries used up
        raise ApiError(502, "partner_error", f"case {case_id}: {outcome.note}; decision {outcome.action_id} failed, "
                       "check the case in the seller backend and decide again")
    return DecisionOut(**{k: getattr(outcome, k) for k in DecisionOut.model_fields})


@router.get("/api/v1/aftersales/{case_id}/decisions/{action_id}", response_model=DecisionStateOut,
            summary="Where one decision's write-back stands")
async def get_decision(request: Request, case_id: RowId, action_id: RowId,
                       _: Principal = Depends(require(Permission.ORDERS_READ))) -> DecisionStateOut:
    async with get_hub(request).database().session() as session:
        row = (await session.execute(select(AfterSaleActionRow).where(
            AfterSaleActionRow.id == action_id, AfterSaleActionRow.aftersale_id == case_id))).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "not_found", f"case {case_id} has no decision {action_id}")
    result = {k: v for k, v in (row.result or {}).items()}
    return DecisionStateOut(id=row.id, case_id=row.aftersale_id, action=row.action, state=row.state, actor=row.actor,
                            attempts=row.attempts, next_attempt_at=row.next_attempt_at, error=row.error,
                            result=result, created_at=row.created_at, updated_at=row.updated_at)


@router.get("/api/v1/aftersales/{case_id}/refuse-reasons", response_model=list[RefuseReasonOut],
            summary="The platform's reasons for refusing the case now (empty: free text only)",
            responses={502: {"model": ErrorBody}})
async def get_refuse_reasons(request: Request, case_id: RowId,
                             _: Principal = Depends(require(Permission.ORDERS_READ))) -> list[RefuseReasonOut]:
    try:
        reasons = await decisions.refuse_reasons(get_hub(request), case_id)
    except PartnerError as exc:
        raise ApiError(502, "partner_error", f"the platform did not give its refuse reasons: {describe_error(exc)}; "
                       "try again, or refuse with reason_text") from None
    return [RefuseReasonOut(id=r.id, text=r.text, proof_required=r.proof_required, hint=r.hint) for r in reasons]
