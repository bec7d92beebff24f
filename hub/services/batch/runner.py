"""Running a batch action over items: at once for a small batch, chunk by chunk for a job.

A chunk is one transaction: the action's effects, its items' outcomes (insert-or-ignore on (job,
position)) and the job's counters commit together, so a chunk run again (a worker retried, a job
resumed) skips the positions already recorded and applies nothing twice. Actions that reuse
services opening their own transactions (``own_transactions``) record their outcomes right after;
they are idempotent by themselves. Not for creating, listing or cancelling jobs (``jobs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.auth import Principal
from hub.db.tables import BatchJobItemRow, BatchJobRow, utcnow
from hub.db.upsert import insert_ignore
from hub.services.batch.registry import BatchAction, ItemOutcome, load_actions, parse_params

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = frozenset({DONE, FAILED, CANCELLED})


@dataclass(frozen=True)
class JobPrincipal(Principal):
    """The creator of a job as the worker acts for them: their role, shops and name in the history."""

    acting_as: str = ""

    @property
    def actor(self) -> str:
        return self.acting_as or super().actor


def principal_of(job: BatchJobRow) -> Principal:
    """The job's creator re-created from the job row (role and shops as when they started it)."""
    shops = None if job.shops is None else frozenset(str(s) for s in job.shops)
    return JobPrincipal(key_id=0, name=job.created_by, prefix="", role=job.role, shops=shops,
                        acting_as=job.created_by)


def item_ref(action: BatchAction, item: Any) -> str:
    """How an item is named in outcomes: its id, or the CSV row's number."""
    return str(item["row"]) if action.rows else str(item)


def _key(action: BatchAction, item: Any) -> int:
    return int(item["row"]) if action.rows else int(item)


async def _handle(session: AsyncSession, hub: Hub, action: BatchAction, items: Sequence[Any],
                  params: dict[str, Any], principal: Principal) -> list[ItemOutcome]:
    """The action over ``items``: an outcome per item, in their order."""
    raw = {**params, "rows": list(items)} if action.rows else params
    ids = [_key(action, item) for item in items]
    outcomes = await action.handler(session, hub, ids, parse_params(action, raw), principal)
    return [outcomes.get(i, ItemOutcome(False, f"{action.item} {i}: no outcome (nothing done)")) for i in ids]


async def apply_now(hub: Hub, action: BatchAction, items: Sequence[Any], params: dict[str, Any],
                    principal: Principal) -> list[ItemOutcome]:
    """Run ``action`` over ``items`` in the request, chunk by chunk; an outcome per item."""
    size = hub.config.batch.chunk_size
    out: list[ItemOutcome] = []
    for start in range(0, len(items), size):
        chunk = items[start:start + size]
        if action.own_transactions:
            async with hub.database().session() as session:
                out += await _handle(session, hub, action, chunk, params, principal)
        else:
            async with hub.database().transaction() as session:
                out += await _handle(session, hub, action, chunk, params, principal)
    return out


async def _record(session: AsyncSession, job: BatchJobRow, action: BatchAction, positions: Sequence[int],
                  outcomes: Sequence[ItemOutcome]) -> None:
    if positions:
        await session.execute(insert_ignore(BatchJobItemRow, session.get_bind().dialect.name, ["job_id", "position"])
                              .values([{"job_id": job.id, "position": p, "item": item_ref(action, job.items[p])[:200],
                                        "ok": o.ok, "message": o.message} for p, o in zip(positions, outcomes,
                                                                                          strict=True)]))
    counts = (await session.execute(select(
        func.count(), func.coalesce(func.sum(case((BatchJobItemRow.ok.is_(True), 1), else_=0)), 0))
        .where(BatchJobItemRow.job_id == job.id))).one()
    await session.execute(update(BatchJobRow).where(BatchJobRow.id == job.id).values(
        done=int(counts[0]), succeeded=int(counts[1]), failed=int(counts[0]) - int(counts[1]))
        .execution_options(synchronize_session=False))


async def _recorded(session: AsyncSession, job_id: int, start: int, stop: int) -> set[int]:
    return set((await session.execute(select(BatchJobItemRow.position).where(
        BatchJobItemRow.job_id == job_id, BatchJobItemRow.position >= start,
        BatchJobItemRow.position < stop))).scalars())


async def run_chunk(hub: Hub, job_id: int, start: int) -> int:
    """Apply the job's items from position ``start`` (one chunk) that have no outcome yet; returns how
    many this run applied (0 when all were recorded before, or the job is finished)."""
    action_of = load_actions()
    async with hub.database().transaction() as session:
        job = await session.get(BatchJobRow, job_id, with_for_update=True)
        if job is None or job.status in FINISHED:
            return 0
        action = action_of[job.action]
        stop = min(start + hub.config.batch.chunk_size, job.total)
        seen = await _recorded(session, job_id, start, stop)
        todo = [p for p in range(start, stop) if p not in seen]
        if not todo:
            return 0
        principal = principal_of(job)
        if not action.own_transactions:
            outcomes = await _handle(session, hub, action, [job.items[p] for p in todo], job.params, principal)
            await _record(session, job, action, todo, outcomes)
            return len(todo)
    async with hub.database().session() as session:
        outcomes = await _handle(session, hub, action, [job.items[p] for p in todo], job.params, principal)
    async with hub.database().transaction() as session:
        job = await session.get(BatchJobRow, job_id, with_for_update=True)
        assert job is not None
        await _record(session, job, action, todo, outcomes)
    return len(todo)


async def _set(hub: Hub, job_id: int, *, only_from: Sequence[str], **values: Any) -> bool:
    async with hub.database().transaction() as session:
        changed = (await session.execute(update(BatchJobRow).where(
            BatchJobRow.id == job_id, BatchJobRow.status.in_(list(only_from))).values(**values)
            .returning(BatchJobRow.id).execution_options(synchronize_session=False))).scalar_one_or_none()
    return changed is not None


async def run_job(hub: Hub, job_id: int) -> None:
    """Walk the job's chunks, committing progress after each; stops early when it is cancelled.
    Run again (a retried message), it resumes where it stopped."""
    if not await _set(hub, job_id, only_from=(QUEUED, RUNNING), status=RUNNING, started_at=utcnow()):
        return  # cancelled, or finished already
    async with hub.database().session() as session:
        total = int(await session.scalar(select(BatchJobRow.total).where(BatchJobRow.id == job_id)) or 0)
    try:
        for start in range(0, total, hub.config.batch.chunk_size):
            async with hub.database().session() as session:
                status = await session.scalar(select(BatchJobRow.status).where(BatchJobRow.id == job_id))
            if status != RUNNING:
                log.info("batch_job.stopped", job_id=job_id, status=status)
                return
            await run_chunk(hub, job_id, start)
    except Exception as exc:
        await _set(hub, job_id, only_from=(RUNNING,), status=FAILED, finished_at=utcnow(),
                   error=f"{type(exc).__name__}: {exc}"[:2000])
        log.exception("batch_job.failed", job_id=job_id)
        raise
    await _set(hub, job_id, only_from=(RUNNING,), status=DONE, finished_at=utcnow())
    log.info("batch_job.done", job_id=job_id)
