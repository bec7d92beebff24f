"""Stock files imported as jobs over HTTP: upload a CSV (``text/csv``, or a multipart part named
``file``), then follow its job (rows done of total, state, summary, error) and list recent ones.

The same path as the console's import (``hub.services.stock.import_jobs``): the whole file checked
first (a bad file is 422 naming every row and column, and starts nothing), then applied in
batches by the ``import_stock_file`` job. Uploading the same file again never applies it twice:
while its job runs, or once it is done, the answer is 409 naming that job (``?again=true``
imports a finished file once more); a failed or stalled job of the file is continued (202).
Uploading needs ``stock.adjust``, reading ``stock.read``. The body is bounded by ``[limits]
import_body_bytes`` (``hub.api.body_limits``). Not for single adjustments
(``hub.api.inventory_routes``). Registered before that router: ``/api/v1/inventory/imports`` is
not a SKU.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import INT64_MAX, MAX_TEXT, RowId
from hub.errors import NotFoundError
from hub.services.stock import import_jobs as stock_import
from hub.services.stock.csv_file import StockImportError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/inventory/imports", tags=["inventory"])
reader = require(Permission.STOCK_READ)
importer = require(Permission.STOCK_ADJUST)

#: How many problems a refused file lists (``problems_total`` counts them all).
PROBLEMS_SHOWN = 200
#: Content types taken as the CSV itself (curl's --data-binary sends octet-stream unless told).
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv", "application/octet-stream",
                       "application/vnd.ms-excel"})
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


class ImportJobOut(BaseModel):
    """One stock import: its file, how far it got and what it changed."""

    id: int
    filename: str
    reference: str = Field(description="Kept in the stock ledger with each row (the file name if none was given).")
    actor: str = Field(description="Who uploaded it: apikey:<prefix>:<name>, user:<name> or cli:<user>.")
    kind: str = Field(description="absolute (counts), delta (± changes) or mixed.")
    state: str = Field(description="queued, running, done or failed.")
    attempt: int = Field(description="0 for a file's first import; n for its n-th import asked for again.")
    total_rows: int
    done_rows: int = Field(description="Rows applied so far: batches commit with this count, so never twice.")
    percent: int
    batch_size: int = Field(description="Rows per transaction.")
    stalled: bool = Field(description="Queued or running, but not moved for 2 minutes (its worker stopped): "
                                      "upload the file again, or POST .../resume, to continue it.")
    on_hand_delta: int = Field(description="Summary: the net change of on hand over the rows applied.")
    skus: int = Field(description="Summary: SKUs whose stock the rows applied so far changed.")
    shops: list[str] = Field(description="Summary: shops given a stock push by this import.")
    error: str | None = Field(description="Why a failed job stopped (the row and column), else null.")
    error_row: int | None = Field(description="The file row it stopped at (the header is row 1).")
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None


class ImportSubmitted(ImportJobOut):
    outcome: str = Field(description="started (a new job for the file) or resumed (its failed or stalled job "
                                     "continues from the first row not applied).")


class ImportJobPage(BaseModel):
    items: list[ImportJobOut]
    next_before: int | None = Field(description="Pass as ?before= for older imports.")


def job_out(job: stock_import.ImportJob) -> dict[str, Any]:
    return {
        "id": job.id, "filename": job.filename, "reference": job.reference, "actor": job.actor, "kind": job.kind,
        "state": job.state, "attempt": job.attempt, "total_rows": job.total_rows, "done_rows": job.done_rows,
        "percent": job.percent, "batch_size": job.batch_size, "stalled": job.stalled(),
        "on_hand_delta": job.on_hand_delta, "skus": job.skus, "shops": job.shops, "error": job.error,
        "error_row": job.error_row, "created_at": job.created_at, "started_at": job.started_at,
        "updated_at": job.updated_at, "finished_at": job.finished_at,
    }


def refused_file(exc: StockImportError) -> ApiError:
    """422 naming each bad row and column (the first ``PROBLEMS_SHOWN``, and how many in all)."""
    problems = [{"row": p.row, "field": p.field, "message": p.message} for p in exc.problems[:PROBLEMS_SHOWN]]
    return ApiError(422, "invalid_file", {"summary": str(exc), "problems": problems,
                                          "problems_total": len(exc.problems)}, field=exc.problems[0].field)


def _location(job_id: int) -> str:
    return f"{router.prefix}/{job_id}"


def _clean_filename(name: str | None) -> str:
    """The upload's own name, without directories or control characters, for lists and the ledger."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub(" ", base).strip()[:200] or "stock.csv"


async def _uploaded_file(request: Request) -> tuple[bytes, str | None]:
    """The CSV's bytes and, from a multipart upload, its file name; 415 for any other body."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=20)  # more: 400
        part = form.get("file")
        if isinstance(part, UploadFile):
            return await part.read(), part.filename
        if isinstance(part, str):  # sent as a plain field rather than a file
            return part.encode(), None
        raise ApiError(422, "invalid_request", [{"field": "body.file", "message": "send the CSV as the multipart "
                                                 "part named 'file'", "type": "missing"}], field="body.file")
    if media in CSV_TYPES:
        return await request.body(), None
    raise ApiError(415, "unsupported_media_type",
                   f"send the CSV as the body with Content-Type: text/csv, or as the part 'file' of "
                   f"multipart/form-data (got {media[:100] or 'no Content-Type'!r})")


_UPLOAD_BODY = {
    "required": True,
    "description": "The stock file: columns warehouse, merchant_sku, on_hand (a count) and/or delta (±), "
                   "optional note; UTF-8 or GB 18030; at most 50,000 rows.",
    "content": {
        "text/csv": {"schema": {"type": "string"},
                     "example": "warehouse,merchant_sku,on_hand,note\nmain,TEE-M,40,cycle count\n"},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "The CSV file."}}}},
    },
}


@router.post(
    "", response_model=ImportSubmitted, status_code=202, summary="Import a stock file as a job (checked whole first)",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        409: {"model": ErrorBody, "description": "The same file (by content) is being imported now, or was imported "
                                                 "before and again=true was not given: nothing applied. "
                                                 "detail names the import; Location points at it."},
        415: {"model": ErrorBody, "description": "The body is neither text/csv nor multipart/form-data "
                                                 "(unsupported_media_type)."},
        422: {"model": ErrorBody, "description": "A bad file (invalid_file): nothing applied; detail.problems lists "
                                                 "each bad row and column ({row, field, message}), "
                                                 "detail.problems_total counts them. Or a bad query parameter."},
    },
)
async def submit_import(
    request: Request, response: Response, principal: Principal = Depends(importer),
    reference: str | None = Query(None, max_length=MAX_TEXT, description="Your document number, kept in the "
                                                                         "ledger (default: the file name)."),
    filename: str | None = Query(None, max_length=MAX_TEXT, description="A name for a text/csv body (shown in "
                                                                        "lists); a multipart upload has its own."),
    again: bool = Query(False, description="Import a file that was imported before once more (a count file "
                                           "would undo the sales since; a ± file would apply twice)."),
) -> ImportSubmitted:
    """202 with the job; follow it at the ``Location`` it answers with. Same checks, batches and
    re-upload rules as the console's import and ``hub stock import --job``."""
    data, uploaded_name = await _uploaded_file(request)
    if not data:
        raise ApiError(422, "invalid_request", [{"field": "body", "message": "the file is empty", "type": "missing"}],
                       field="body")
    name = _clean_filename(uploaded_name or filename)
    try:
        received = await stock_import.receive_file(get_hub(request), data, filename=name,
                                                   reference=reference.strip() if reference else None,
                                                   actor=principal.actor, again=again)
    except StockImportError as exc:
        raise refused_file(exc) from exc
    job = received.job
    if received.outcome is stock_import.Outcome.IN_PROGRESS:
        raise ApiError(409, "conflict", f"this file is being imported now: import {job.id}, {job.done_rows} of "
                                        f"{job.total_rows} rows done; follow it at {_location(job.id)}",
                       headers={"Location": _location(job.id)})
    if received.outcome is stock_import.Outcome.ALREADY_DONE:
        when = (job.finished_at or job.updated_at).isoformat(timespec="seconds")
        raise ApiError(409, "conflict", f"this file was imported before (import {job.id}, by {job.actor}, finished "
                                        f"{when}); nothing applied. Send again=true to import it once more",
                       headers={"Location": _location(job.id)})
    response.headers["Location"] = _location(job.id)
    log.info("stock_import.submitted", job=job.id, outcome=received.outcome.value, by=principal.actor)
    return ImportSubmitted(**job_out(job), outcome=received.outcome.value)


@router.get("", response_model=ImportJobPage, summary="Recent stock imports, newest first",
            dependencies=[Depends(reader)])
async def list_imports(
    request: Request,
    limit: int = Query(20, ge=1, le=100),
    before: int | None = Query(None, ge=1, le=INT64_MAX, description="Only imports older than this id."),
) -> ImportJobPage:
    async with get_hub(request).database().session() as session:
        jobs = await stock_import.recent_jobs(session, limit, before=before)
    return ImportJobPage(items=[ImportJobOut(**job_out(j)) for j in jobs],
                         next_before=jobs[-1].id if len(jobs) == limit else None)


@router.get("/{job_id:int}", response_model=ImportJobOut, summary="One stock import's progress and summary",
            dependencies=[Depends(reader)])
async def show_import(request: Request, job_id: RowId) -> ImportJobOut:
    job = await stock_import.get_job(get_hub(request), job_id)
    if job is None:
        raise ApiError(404, "not_found", f"stock import {job_id} does not exist")
    return ImportJobOut(**job_out(job))


@router.post("/{job_id:int}/resume", response_model=ImportJobOut, status_code=202,
             summary="Continue a failed or stalled import from its first row not applied",
             responses={422: {"model": ErrorBody, "description": "The rest of the file no longer passes the checks "
                                                                 "(invalid_file, as for an upload): nothing applied."}})
async def resume_import(request: Request, job_id: RowId, principal: Principal = Depends(importer)) -> ImportJobOut:
    """The rest of the file is checked again first. A job that is moving, or done, is left as it is
    (and returned as it is)."""
    try:
        job = await stock_import.resume(get_hub(request), job_id, actor=principal.actor)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", f"stock import {job_id} does not exist") from exc
    except StockImportError as exc:
        raise refused_file(exc) from exc
    return ImportJobOut(**job_out(job))
