"""Starting a batch (answered at once when small, a background job when large), and the jobs:
list, progress, paged outcomes, cancel, and the files actions produced.

Every caller sees only their own jobs (an admin every job); another's job is "not found". Not for
applying the action (``runner``) nor for what an action does (the ``actions_*`` modules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select, update

from hub.db import outbox
from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import BatchFileRow, BatchJobItemRow, BatchJobRow, utcnow
from hub.errors import BadInputError, ConflictError, NotFoundError
from hub.services.batch import runner
from hub.services.batch.registry import BatchAction, ItemOutcome, load_actions, parse_params

if TYPE_CHECKING:
    from hub.api.auth import Principal
    from hub.context import Hub

RUN_ACTOR = "run_batch_job"
MAX_PAGE = 500


class BatchForbidden(Exception):
    """The caller's role may not run this action (the API answers 403)."""


@dataclass(frozen=True)
class Result:
    """One item's outcome as the caller reads it."""

    id: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Answered:
    """A small batch, run in the request: every outcome."""

    results: list[Result]

    @property
    def succeeded(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.succeeded


def action_for(name: str, principal: Principal, *, item: str | None = None) -> BatchAction:
    """The action ``name`` if the caller may run it (``BadInputError`` naming ``body.action`` for an
    unknown one or one over other items; ``BatchForbidden`` when the role lacks its permission)."""
    actions = load_actions()
    action = actions.get(name)
    if action is None or (item is not None and action.item not in (item, "row")):
        known = sorted(a.name for a in actions.values() if item is None or a.item == item)
        raise BadInputError(f"unknown action {name!r}; known: {', '.join(known)}", field="body.action")
    if not principal.may(action.permission):
        raise BatchForbidden(f"role {principal.role!r} lacks permission {action.permission.value!r} "
                             f"that action {name!r} needs")
    return action


def check_params(action: BatchAction, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` validated by the action (``BadInputError`` naming ``body.params.<field>``)."""
    raw = {**params, "rows": []} if action.rows else params
    try:
        parse_params(action, raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInputError(f"params: {where or 'params'}: {first['msg']}", field=f"body.params.{where}") from None
    return dict(params)


def clean_items(hub: Hub, action: BatchAction, items: Sequence[Any]) -> list[Any]:
    """The items once each, in the order given; ``BadInputError`` when none or too many."""
    unique = list(items) if action.rows else list(dict.fromkeys(int(i) for i in items))
    if not unique:
        raise BadInputError("name at least one item", field="body.ids")
    if len(unique) > hub.config.batch.max_items:
        raise BadInputError(f"{len(unique)} items; at most {hub.config.batch.max_items} per batch", field="body.ids")
    return unique


async def start(hub: Hub, principal: Principal, action: BatchAction, items: Sequence[Any],
                params: dict[str, Any]) -> Answered | BatchJobRow:
    """Run the batch now when it has at most ``[batch] sync_limit`` items, else queue it as a job."""
    items = clean_items(hub, action, items)
    params = check_params(action, params)
    if len(items) <= hub.config.batch.sync_limit:
        outcomes = await runner.apply_now(hub, action, items, params, principal)
        return Answered([Result(runner.item_ref(action, i), o.ok, o.message) for i, o in zip(items, outcomes,
                                                                                              strict=True)])
    return await create_job(hub, principal, action, items, params)


async def create_job(hub: Hub, principal: Principal, action: BatchAction, items: Sequence[Any],
                     params: dict[str, Any]) -> BatchJobRow:
    """A queued job and its worker message, committed together."""
    async with hub.database().transaction() as session:
        job = BatchJobRow(action=action.name, params=params, items=list(items), created_by=principal.actor,
                          role=principal.role, shops=None if principal.shops is None else sorted(principal.shops),
                          status=runner.QUEUED, total=len(items), done=0, succeeded=0, failed=0,
                          created_at=utcnow())
        session.add(job)
        await session.flush()
        outbox.add(session, RUN_ACTOR, job.id)
    return job


def _mine(principal: Principal) -> Any:
    return True if principal.role == "admin" else BatchJobRow.created_by == principal.actor


async def get_job(hub: Hub, principal: Principal, job_id: int) -> BatchJobRow:
    async with hub.database().session() as session:
        job = (await session.execute(select(BatchJobRow).where(BatchJobRow.id == job_id, _mine(principal))))\
            .scalar_one_or_none()
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job


async def list_jobs(hub: Hub, principal: Principal, *, limit: int = 50, cursor: str | None = None,
                    ) -> tuple[list[BatchJobRow], str | None]:
    """The caller's jobs (an admin's: all), newest first."""
    query = select(BatchJobRow).where(_mine(principal)).order_by(BatchJobRow.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(BatchJobRow.id < decode_id_cursor("jobs", cursor))
    async with hub.database().session() as session:
        rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_id_cursor("jobs", rows[-1].id) if more else None


async def job_items(hub: Hub, principal: Principal, job_id: int, *, limit: int = 100, cursor: str | None = None,
                    only_failed: bool = False) -> tuple[list[BatchJobItemRow], str | None]:
    """A job's outcomes in position order (keyset pages)."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadInputError(f"limit must be between 1 and {MAX_PAGE}", field="query.limit")
    await get_job(hub, principal, job_id)
    query = select(BatchJobItemRow).where(BatchJobItemRow.job_id == job_id)
    if only_failed:
        query = query.where(BatchJobItemRow.ok.is_(False))
    if cursor:
        query = query.where(BatchJobItemRow.position >= decode_id_cursor("job-items", cursor))
    async with hub.database().session() as session:
        rows = list((await session.execute(query.order_by(BatchJobItemRow.position).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_id_cursor("job-items", rows[-1].position + 1) if more else None


async def cancel(hub: Hub, principal: Principal, job_id: int) -> BatchJobRow:
    """Stop a queued or running job before its next chunk (what is done stays done)."""
    job = await get_job(hub, principal, job_id)
    if job.status in runner.FINISHED:
        raise ConflictError(f"job {job_id} is {job.status}: nothing to cancel")
    async with hub.database().transaction() as session:
        await session.execute(update(BatchJobRow).where(
            BatchJobRow.id == job_id, BatchJobRow.status.in_([runner.QUEUED, runner.RUNNING]))
            .values(status=runner.CANCELLED, finished_at=utcnow()).execution_options(synchronize_session=False))
    return await get_job(hub, principal, job_id)


async def resume(hub: Hub, principal: Principal, job_id: int) -> BatchJobRow:
    """Run a failed or cancelled job again from where it stopped: the positions with an outcome
    are skipped (the runner's insert-or-ignore), so nothing done is done twice. The job and its
    worker message are committed together; resuming twice queues it once."""
    job = await get_job(hub, principal, job_id)
    if job.status not in (runner.FAILED, runner.CANCELLED):
        raise ConflictError(f"job {job_id} is {job.status}: only a failed or cancelled job can be resumed")
    async with hub.database().transaction() as session:
        resumed = await session.execute(update(BatchJobRow).where(
            BatchJobRow.id == job_id, BatchJobRow.status.in_([runner.FAILED, runner.CANCELLED]))
            .values(status=runner.QUEUED, finished_at=None, error=None)
            .execution_options(synchronize_session=False))
        if int(getattr(resumed, "rowcount", 0) or 0):
            outbox.add(session, RUN_ACTOR, job_id)
    return await get_job(hub, principal, job_id)


async def get_file(hub: Hub, principal: Principal, file_id: int) -> BatchFileRow:
    """A file a batch produced, for whoever ran it (an admin: any)."""
    async with hub.database().session() as session:
        row = await session.get(BatchFileRow, file_id)
    if row is None or (principal.role != "admin" and row.created_by != principal.actor):
        raise NotFoundError(f"file {file_id} does not exist")
    return row


__all__ = ["Answered", "BatchForbidden", "ItemOutcome", "Result", "action_for", "cancel", "create_job", "get_file",
           "get_job", "job_items", "list_jobs", "resume", "start"]
