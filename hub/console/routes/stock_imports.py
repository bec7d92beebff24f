"""Importing a stock file from the console: the upload form with the recent imports, and one
import's page whose progress (rows done of total, then the summary) refreshes in place.

The file is the CLI's format, parsed and checked by ``hub.services.stock.import_jobs`` (the same
parser and problem rows as ``hub stock import``); a file with a bad row comes back as the form
with each row and column named, and nothing applied. A good file becomes a job applied in
batches by a worker; this page only reads its record. Uploading the same file again shows its
job, continues it, or (once done) asks before applying it again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from hub.api.auth import Permission
from hub.api.params import INT64_MAX, MAX_TEXT
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import NotFoundError
from hub.services.stock import import_jobs
from hub.services.stock.csv_file import StockImportError

router = APIRouter(prefix="/imports")
#: How many problem rows a refused file lists (the rest are counted).
PROBLEMS_SHOWN = 50
#: How often an import's page asks for its progress while it runs.
PROGRESS_REFRESH_S = 1


async def _form_page(request: Request, *, status: int = 200, **context: Any) -> Response:
    hub: Hub = request.app.state.hub
    async with hub.database().session() as db:
        recent = await import_jobs.recent_jobs(db)
    values: dict[str, Any] = {"recent": recent, "problems": {}, "row_problems": [], "more_problems": 0,
                              "reference": "", "already": None}
    values.update(context)
    return render(request, "stock_imports.html", values, status=status)


@router.get("", include_in_schema=False)
async def imports_page(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    return await _form_page(request)


@router.post("", include_in_schema=False)
async def upload(request: Request) -> Response:
    values, principal = await checked_form(request, Permission.STOCK_ADJUST)
    t = translator(request)
    upload_file = (await request.form()).get("file")
    reference = values.get("reference", "").strip()
    if len(reference) > MAX_TEXT:
        return await _form_page(request, status=422, reference=reference,
                                problems={"reference": t.t("stock.problem.too_long", max=MAX_TEXT)})
    data = await upload_file.read() if isinstance(upload_file, UploadFile) else b""
    if not data:
        return await _form_page(request, status=422, reference=reference,
                                problems={"file": t.t("stock.import.no_file")})
    filename = (upload_file.filename if isinstance(upload_file, UploadFile) else None) or "stock.csv"
    hub: Hub = request.app.state.hub
    try:
        received = await import_jobs.receive_file(hub, data, filename=filename, reference=reference or None,
                                                  actor=principal.actor, again=bool(values.get("again")))
    except StockImportError as exc:
        return await _form_page(request, status=422, reference=reference, row_problems=exc.problems[:PROBLEMS_SHOWN],
                                more_problems=max(0, len(exc.problems) - PROBLEMS_SHOWN))
    if received.outcome is import_jobs.Outcome.ALREADY_DONE:
        return await _form_page(request, status=409, reference=reference, already=received.job)
    target = f"/console/stock/imports/{received.job.id}?outcome={received.outcome.value}"
    return write_session(request, RedirectResponse(target, status_code=303))


async def _job_or_404(request: Request, job_id: int) -> import_jobs.ImportJob | Response:
    job = await import_jobs.get_job(request.app.state.hub, job_id) if 1 <= job_id <= INT64_MAX else None
    if job is None:
        return error_page(request, translator(request).t("error.not_found", detail=f"import #{job_id}"), status=404)
    return job


@router.get("/{job_id:int}", include_in_schema=False)
async def job_page(request: Request, job_id: int, outcome: str | None = None,
                   principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    job = await _job_or_404(request, job_id)
    if isinstance(job, Response):
        return job
    known = {o.value for o in import_jobs.Outcome}
    return render(request, "stock_import.html", {"job": job, "outcome": outcome if outcome in known else None,
                                                 "refresh_s": PROGRESS_REFRESH_S, "row_problems": [],
                                                 "more_problems": 0})


@router.get("/{job_id:int}/progress", include_in_schema=False)
async def job_progress(request: Request, job_id: int,
                       principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.STOCK_READ)
    job = await _job_or_404(request, job_id)
    if isinstance(job, Response):
        return job
    return render(request, "_stock_import_progress.html", {"job": job, "refresh_s": PROGRESS_REFRESH_S})


@router.post("/{job_id:int}/resume", include_in_schema=False)
async def resume(request: Request, job_id: int) -> Response:
    """Continue a stopped or stalled import from its first row not applied (the rest checked again)."""
    _, principal = await checked_form(request, Permission.STOCK_ADJUST)
    job = await _job_or_404(request, job_id)
    if isinstance(job, Response):
        return job
    try:
        await import_jobs.resume(request.app.state.hub, job_id, actor=principal.actor)
    except NotFoundError:
        return error_page(request, translator(request).t("error.not_found", detail=f"import #{job_id}"), status=404)
    except StockImportError as exc:
        return render(request, "stock_import.html", {
            "job": job, "outcome": None, "refresh_s": PROGRESS_REFRESH_S,
            "row_problems": exc.problems[:PROBLEMS_SHOWN],
            "more_problems": max(0, len(exc.problems) - PROBLEMS_SHOWN)}, status=422)
    target = f"/console/stock/imports/{job_id}?outcome={import_jobs.Outcome.RESUMED.value}"
    return write_session(request, RedirectResponse(target, status_code=303))
