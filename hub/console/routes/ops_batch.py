"""Batch actions on selected orders and after-sale cases, ship from a CSV, and the jobs at
``/console/jobs`` with progress that refreshes in place.

Thin: the same ``hub.services.batch`` the API and CLI use. Ticking orders on the orders list (or
cases on the after-sales list) leads to a page choosing the action and its parameters; a small batch
answers with each item's outcome, a large one becomes a job whose page polls its progress.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from hub.api.auth import Permission
from hub.api.params import INT64_MAX
from hub.console.auth import ConsolePrincipal, checked_form, console_principal, require_right
from hub.console.pages import error_page, render, translator, write_session
from hub.context import Hub
from hub.errors import BadInputError, ConflictError, NotFoundError
from hub.services.batch import jobs, runner
from hub.services.batch.registry import BatchAction, load_actions
from hub.services.batch.ship_csv import parse_ship_csv

router = APIRouter(include_in_schema=False)
#: How often a job's page asks for its progress while it runs.
PROGRESS_REFRESH_S = 1
#: Outcomes a job's page lists.
ITEMS_SHOWN = 200
#: Where each kind of item is chosen, and where its batch page is.
KINDS = {"order": ("/console/orders", "/console/orders/batch"),
         "aftersale": ("/console/aftersales", "/console/aftersales/batch")}


def _ids(values: list[str]) -> list[int]:
    return list(dict.fromkeys(int(v) for v in values if v.isdigit() and 1 <= int(v) <= INT64_MAX))


def _choices(principal: ConsolePrincipal, item: str) -> list[dict[str, Any]]:
    """The actions over ``item`` the person may run, each with its parameters as form fields."""
    out = []
    for action in sorted(load_actions().values(), key=lambda a: a.name):
        if action.item != item or action.rows or not principal.may(action.permission):
            continue
        schema = action.params.model_json_schema()
        fields = []
        for name, spec in schema.get("properties", {}).items():
            ref = spec.get("$ref") or next((s.get("$ref") for s in spec.get("anyOf", []) if "$ref" in s), None)
            enum = spec.get("enum") or (schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {}).get("enum")
                                        if ref else None)
            fields.append({"name": name, "enum": enum, "required": name in schema.get("required", []),
                           "description": spec.get("description", "")})
        out.append({"name": action.name, "description": action.description, "fields": fields})
    return out


def _params(form: Any, action: str) -> dict[str, Any]:
    prefix = f"p.{action}."
    return {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix) and str(v).strip()}


async def _choose(request: Request, principal: ConsolePrincipal, item: str, ids: list[int], *, status: int = 200,
                  problem: str | None = None, chosen: str | None = None) -> Response:
    back, target = KINDS[item]
    return render(request, "ops_batch/choose.html", {
        "item": item, "ids": ids, "actions": _choices(principal, item), "back": back, "target": target,
        "problem": problem, "chosen": chosen}, status=status)


async def _run(request: Request, item: str) -> Response:
    values, principal = await checked_form(request, Permission.JOBS_RUN)
    form = await request.form()
    ids = _ids([str(v) for v in form.getlist("ids")])
    name = values.get("action", "")
    t = translator(request)
    if not ids:
        return await _choose(request, principal, item, ids, status=422, problem=t.t("batch.problem.no_items"))
    try:
        action = jobs.action_for(name, principal, item=item)
        answer = await jobs.start(request.app.state.hub, principal, action, ids, _params(values, name))
    except jobs.BatchForbidden as exc:
        return error_page(request, str(exc), status=403)
    except BadInputError as exc:
        return await _choose(request, principal, item, ids, status=422, problem=str(exc), chosen=name)
    return _answered(request, action, answer, KINDS[item][0])


def _answered(request: Request, action: BatchAction, answer: jobs.Answered | Any, back: str) -> Response:
    if isinstance(answer, jobs.Answered):
        return render(request, "ops_batch/results.html", {
            "action": action, "results": answer.results, "succeeded": answer.succeeded, "failed": answer.failed,
            "back": back})
    return write_session(request, RedirectResponse(f"/console/jobs/{answer.id}", status_code=303))


@router.get("/console/orders/batch")
async def choose_for_orders(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.JOBS_RUN)
    return await _choose(request, principal, "order", _ids(request.query_params.getlist("ids")))


@router.post("/console/orders/batch")
async def run_for_orders(request: Request) -> Response:
    return await _run(request, "order")


@router.get("/console/aftersales/batch")
async def choose_for_cases(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.JOBS_RUN)
    return await _choose(request, principal, "aftersale", _ids(request.query_params.getlist("ids")))


@router.post("/console/aftersales/batch")
async def run_for_cases(request: Request) -> Response:
    return await _run(request, "aftersale")


@router.get("/console/shipments/batch")
async def ship_form(request: Request, principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    require_right(principal, Permission.SHIPMENTS_WRITE)
    return render(request, "ops_batch/ship.html", {"problem": None})


@router.post("/console/shipments/batch")
async def ship_upload(request: Request) -> Response:
    _values, principal = await checked_form(request, Permission.JOBS_RUN)
    upload = (await request.form()).get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    t = translator(request)
    try:
        if not data:
            raise BadInputError(t.t("batch.problem.no_file"), field="file")
        action = jobs.action_for("ship", principal)
        answer = await jobs.start(request.app.state.hub, principal, action,
                                  parse_ship_csv(data.decode("utf-8-sig"), field="file"), {})
    except jobs.BatchForbidden as exc:
        return error_page(request, str(exc), status=403)
    except (BadInputError, UnicodeDecodeError) as exc:
        message = t.t("batch.problem.not_utf8") if isinstance(exc, UnicodeDecodeError) else str(exc)
        return render(request, "ops_batch/ship.html", {"problem": message}, status=422)
    return _answered(request, action, answer, "/console/shipments/batch")


@router.get("/console/jobs")
async def jobs_page(request: Request, cursor: str | None = None,
                    principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    hub: Hub = request.app.state.hub
    try:
        rows, next_cursor = await jobs.list_jobs(hub, principal, cursor=cursor)
    except BadInputError as exc:
        return error_page(request, str(exc), status=400)
    return render(request, "ops_batch/jobs.html", {"jobs": rows, "next_cursor": next_cursor})


async def _job(request: Request, principal: ConsolePrincipal, job_id: int) -> Any:
    if not 1 <= job_id <= INT64_MAX:
        raise NotFoundError(f"job {job_id} does not exist")
    return await jobs.get_job(request.app.state.hub, principal, job_id)


async def _job_context(request: Request, principal: ConsolePrincipal, job_id: int, *,
                       only_failed: bool = False) -> dict[str, Any]:
    job = await _job(request, principal, job_id)
    items: list[jobs.Result] = []
    if job.status in runner.FINISHED:
        rows, _ = await jobs.job_items(request.app.state.hub, principal, job_id, limit=ITEMS_SHOWN,
                                       only_failed=only_failed)
        items = [jobs.Result(r.item, r.ok, r.message) for r in rows]
    action = load_actions().get(job.action)
    return {"job": job, "finished": job.status in runner.FINISHED, "items": items, "refresh_s": PROGRESS_REFRESH_S,
            "action": {"item": action.item if action is not None else "order"},
            "percent": 100 if not job.total else int(job.done * 100 / job.total), "only_failed": only_failed}


@router.get("/console/jobs/{job_id:int}")
async def job_page(request: Request, job_id: int, failed: bool = False,
                   principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    try:
        context = await _job_context(request, principal, job_id, only_failed=failed)
    except NotFoundError as exc:
        return error_page(request, str(exc), status=404)
    return render(request, "ops_batch/job.html", context)


@router.get("/console/jobs/{job_id:int}/progress")
async def job_progress(request: Request, job_id: int,
                       principal: ConsolePrincipal = Depends(console_principal)) -> Response:
    try:
        context = await _job_context(request, principal, job_id)
    except NotFoundError as exc:
        return error_page(request, str(exc), status=404)
    return render(request, "ops_batch/_job_progress.html", context)


async def _act_on_job(request: Request, job_id: int, act: Any) -> Response:
    """Run ``act(hub, principal, job_id)`` (cancel or resume) for a form post, then show the job."""
    _values, principal = await checked_form(request, Permission.JOBS_RUN)
    try:
        await act(request.app.state.hub, principal, job_id)
    except NotFoundError as exc:
        return error_page(request, str(exc), status=404)
    except ConflictError as exc:
        return error_page(request, str(exc), status=409)
    return write_session(request, RedirectResponse(f"/console/jobs/{job_id}", status_code=303))


@router.post("/console/jobs/{job_id:int}/resume")
async def resume_job(request: Request, job_id: int) -> Response:
    return await _act_on_job(request, job_id, jobs.resume)


@router.post("/console/jobs/{job_id:int}/cancel")
async def cancel_job(request: Request, job_id: int) -> Response:
    return await _act_on_job(request, job_id, jobs.cancel)
