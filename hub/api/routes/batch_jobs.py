"""Batch operations and background jobs over HTTP.

``POST /api/v1/orders/batch`` (and ``/aftersales/batch``) runs one action over many items: at most
``[batch] sync_limit`` items are answered at once (200, an outcome per item, partial success
counted), more become a job (202) whose progress ``GET /api/v1/jobs/{id}`` shows and whose
outcomes ``/items`` pages. ``POST /api/v1/shipments/batch`` ships from a CSV (``order_no,courier,
tracking_no``; bad rows reported by row number, good ones shipped). Starting needs ``jobs.run``
plus the action's own permission; each item outside the caller's shops is "does not exist". The
logic is ``hub.services.batch``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import INT64_MAX, RowId, text_query
from hub.db.tables import BatchJobItemRow, BatchJobRow
from hub.services.batch import jobs
from hub.services.batch.registry import load_actions
from hub.services.batch.ship_csv import parse_ship_csv

router = APIRouter(tags=["batch"])
runner_of_jobs = require(Permission.JOBS_RUN)

#: The most bytes a shipments CSV may have.
MAX_CSV_BYTES = 5_000_000


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=50, description="A name from GET /api/v1/batch/actions.")
    ids: list[Annotated[int, Field(ge=1, le=INT64_MAX)]] = Field(
        default_factory=list, description="The items (order ids; case ids for after-sales).")
    csv: str | None = Field(default=None, max_length=MAX_CSV_BYTES,
                            description="For action ship: the CSV text (order_no,courier,tracking_no).")
    params: dict[str, Any] = Field(default_factory=dict, description="The action's parameters (see its schema).")


class ResultOut(BaseModel):
    id: str = Field(description="The item's id (for ship: the CSV row number).")
    ok: bool
    message: str = Field(description="What was done, or why not.")


class BatchOut(BaseModel):
    results: list[ResultOut]
    succeeded: int
    failed: int


class JobOut(BaseModel):
    id: int
    action: str
    params: dict[str, Any]
    status: str = Field(description="queued, running, done, failed or cancelled.")
    total: int
    done: int = Field(description="Items with an outcome so far (committed with each chunk).")
    succeeded: int
    failed: int
    percent: int
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class JobAccepted(BaseModel):
    job: JobOut


class JobsOut(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


class JobItemsOut(BaseModel):
    items: list[ResultOut]
    next_cursor: str | None


class ActionOut(BaseModel):
    name: str
    item: str = Field(description="What the ids name: order, aftersale, or row (CSV rows).")
    permission: str
    description: str
    params_schema: dict[str, Any]


def job_out(job: BatchJobRow) -> JobOut:
    percent = 100 if not job.total else int(job.done * 100 / job.total)
    return JobOut(id=job.id, action=job.action, params=job.params, status=job.status, total=job.total, done=job.done,
                  succeeded=job.succeeded, failed=job.failed, percent=percent, created_by=job.created_by,
                  created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at, error=job.error)


def item_out(row: BatchJobItemRow) -> ResultOut:
    return ResultOut(id=row.item, ok=row.ok, message=row.message)


async def run_batch(request: Request, response: Response, principal: Principal, action_name: str, items: list[Any],
                    params: dict[str, Any], *, item: str) -> BatchOut | JobAccepted:
    hub = get_hub(request)
    try:
        action = jobs.action_for(action_name, principal, item=item)
    except jobs.BatchForbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    answer = await jobs.start(hub, principal, action, items, params)
    if isinstance(answer, jobs.Answered):
        return BatchOut(results=[ResultOut(id=r.id, ok=r.ok, message=r.message) for r in answer.results],
                        succeeded=answer.succeeded, failed=answer.failed)
    response.status_code = 202
    return JobAccepted(job=job_out(answer))


_STARTED: dict[int | str, dict[str, Any]] = {
    202: {"model": JobAccepted, "description": "More than [batch] sync_limit items: a job to poll."},
            403: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.post("/api/v1/orders/batch", response_model=BatchOut | JobAccepted, responses=_STARTED,
             summary="Run one action over many orders: an outcome per order, or a job when many")
async def orders_batch(request: Request, response: Response, body: BatchIn,
                       principal: Principal = Depends(runner_of_jobs)) -> BatchOut | JobAccepted:
    """One order refused (another shop's, not held, already approved…) does not undo the others:
    ``succeeded`` and ``failed`` count them, each result says why."""
    if body.action == "ship":
        if body.csv is None:
            raise ApiError(422, "bad_input", "action ship needs the CSV text in csv", field="body.csv")
        return await run_batch(request, response, principal, "ship", parse_ship_csv(body.csv), body.params,
                               item="row")
    return await run_batch(request, response, principal, body.action, list(body.ids), body.params, item="order")


@router.post("/api/v1/aftersales/batch", response_model=BatchOut | JobAccepted,
             responses=_STARTED, summary="Take one decision on many after-sale cases")
async def aftersales_batch(request: Request, response: Response, body: BatchIn,
                           principal: Principal = Depends(runner_of_jobs)) -> BatchOut | JobAccepted:
    return await run_batch(request, response, principal, body.action, list(body.ids), body.params, item="aftersale")


async def _csv_text(request: Request) -> str:
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form()
        part = form.get("file")
        if part is None or isinstance(part, str):
            raise ApiError(422, "bad_input", "send the CSV as the multipart part named file", field="body.file")
        raw = await part.read()
    else:
        raw = await request.body()
    if len(raw) > MAX_CSV_BYTES:
        raise ApiError(413, "too_large", f"the CSV has {len(raw)} bytes; at most {MAX_CSV_BYTES}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(422, "bad_input", "the CSV is not UTF-8 text", field="body.file") from None


@router.post("/api/v1/shipments/batch", response_model=BatchOut | JobAccepted,
             responses=_STARTED, summary="Record shipments from a CSV (order_no,courier,tracking_no)",
             openapi_extra={"requestBody": {"content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "file": {"type": "string", "format": "binary"}}}}}}})
async def shipments_batch(request: Request, response: Response,
                          warehouse: str | None = text_query("A configured warehouse the parcels left from."),
                          principal: Principal = Depends(runner_of_jobs)) -> BatchOut | JobAccepted:
    """Each row is the order (the platform's order number, or ``#`` and the hub id), the courier code
    and the tracking number; an unreadable row is refused by its row number (the header is row 1)
    while the others are shipped, the channels told as for one shipment."""
    rows = parse_ship_csv(await _csv_text(request), field="body.file")
    params = {"warehouse": warehouse} if warehouse else {}
    return await run_batch(request, response, principal, "ship", rows, params, item="row")


@router.get("/api/v1/batch/actions", response_model=list[ActionOut], summary="The batch actions and their params")
async def batch_actions(_: Principal = Depends(require(Permission.ORDERS_READ))) -> list[ActionOut]:
    return [ActionOut(name=a.name, item="row" if a.rows else a.item, permission=a.permission.value,
                      description=a.description, params_schema=a.params.model_json_schema())
            for a in sorted(load_actions().values(), key=lambda a: a.name)]


@router.get("/api/v1/jobs", response_model=JobsOut, summary="Your batch jobs, newest first (an admin: everyone's)")
async def list_jobs(request: Request, limit: int = Query(50, ge=1, le=200),
                    cursor: str | None = text_query("next_cursor from the previous page."),
                    principal: Principal = Depends(require(Permission.ORDERS_READ))) -> JobsOut:
    rows, next_cursor = await jobs.list_jobs(get_hub(request), principal, limit=limit, cursor=cursor)
    return JobsOut(items=[job_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/api/v1/jobs/{job_id}", response_model=JobOut, summary="One job's progress")
async def get_job(request: Request, job_id: RowId,
                  principal: Principal = Depends(require(Permission.ORDERS_READ))) -> JobOut:
    return job_out(await jobs.get_job(get_hub(request), principal, job_id))


@router.get("/api/v1/jobs/{job_id}/items", response_model=JobItemsOut, summary="A job's outcomes, in item order")
async def get_job_items(request: Request, job_id: RowId, limit: int = Query(100, ge=1, le=jobs.MAX_PAGE),
                        cursor: str | None = text_query("next_cursor from the previous page."),
                        failed: bool = Query(False, description="Only the items refused."),
                        principal: Principal = Depends(require(Permission.ORDERS_READ))) -> JobItemsOut:
    rows, next_cursor = await jobs.job_items(get_hub(request), principal, job_id, limit=limit, cursor=cursor,
                                             only_failed=failed)
    return JobItemsOut(items=[item_out(r) for r in rows], next_cursor=next_cursor)


@router.post("/api/v1/jobs/{job_id}/cancel", response_model=JobOut,
             summary="Stop a job before its next chunk (what is done stays done)")
async def cancel_job(request: Request, job_id: RowId, principal: Principal = Depends(runner_of_jobs)) -> JobOut:
    return job_out(await jobs.cancel(get_hub(request), principal, job_id))


@router.post("/api/v1/jobs/{job_id}/resume", response_model=JobOut,
             summary="Run a failed or cancelled job again from where it stopped (nothing done is redone)")
async def resume_job(request: Request, job_id: RowId, principal: Principal = Depends(runner_of_jobs)) -> JobOut:
    return job_out(await jobs.resume(get_hub(request), principal, job_id))


@router.get("/api/v1/batch/files/{file_id}", response_class=Response, summary="A file a batch produced (labels PDF)",
            responses={200: {"content": {"application/pdf": {}}}, 404: {"model": ErrorBody}})
async def batch_file(request: Request, file_id: RowId,
                     principal: Principal = Depends(require(Permission.ORDERS_READ))) -> Response:
    row = await jobs.get_file(get_hub(request), principal, file_id)
    return Response(row.content, media_type=row.media_type, headers={
        "Content-Disposition": f'inline; filename="{row.name}"', "Cache-Control": "no-store"})
