"""Stock files imported as jobs: the whole file checked first, then applied in batches by a job
on the ``bulk`` queue, its progress recorded per batch so a page can show it live.

One path for the console's upload, ``POST /api/v1/inventory/imports`` and ``hub stock import
--job``. The file is the CLI's (``hub stock import``): parsed by ``csv_file.parse_stock_rows``,
problems reported as ``ImportProblem`` rows. Every row is checked before any is applied — the columns,
warehouses and SKUs, and each row against the stock there is now (nothing may go below what
orders have reserved) — and a file with a bad row starts no job. A good file becomes a
``stock_import_jobs`` row holding its rows, and an outbox message in the same transaction starts
the job (``run_import``): one transaction per batch of ``batch_size`` rows (set-based,
``batches``), which also moves ``done_rows``, then the shops' pushes.

Idempotency: a batch and the count of rows done commit together, so whatever stops a job, it
continues from the first row not applied and never applies a row twice. A file is known by its
SHA-256: uploading it again while its job runs shows that job; after a failure or a stall it
continues that job (the rest of the file is checked again first); after it finished nothing
is applied unless a new import of it is asked for (``again``) — so re-uploading a count file (or
a delta file) never applies it twice by accident. Not for single adjustments
(``adjustments.adjust_stock``) nor for rendering (``hub.console``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from contracts.inventory import StockChangeCause
from hub.db import outbox
from hub.db.tables import StockImportJobRow
from hub.db.upsert import insert_ignore
from hub.errors import NotFoundError
from hub.services.stock import batches, effects, scheduling
from hub.services.stock.adjustments import Adjustment, adjustment_problems
from hub.services.stock.csv_file import ImportProblem, StockImportError, decode_file, parse_stock_rows
from hub.services.stock.levels import known_warehouses

log = structlog.get_logger(__name__)

IMPORT_ACTOR = "import_stock_file"
#: Rows per batch (one transaction each). A few hundred keeps each transaction short and the
#: progress moving, while a file of thousands of rows takes a handful of statements per batch.
BATCH_SIZE = 500
#: The most rows one file may have (a larger count is split into several files).
MAX_ROWS = 50_000
#: A job that has not moved for this long is taken as stalled (its worker stopped): uploading the
#: file again, or asking the page to continue, resumes it.
STALLED_AFTER_S = 120.0

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class Outcome(StrEnum):
    STARTED = "started"  # a new job for the file
    RESUMED = "resumed"  # a failed or stalled job of the same file continues
    IN_PROGRESS = "in_progress"  # the same file is being imported now
    ALREADY_DONE = "already_done"  # the same file was imported before: nothing applied


@dataclass(frozen=True)
class ImportJob:
    """What a page shows of a job (its rows stay in the database)."""

    id: int
    filename: str
    reference: str
    actor: str
    kind: str
    state: str
    attempt: int
    total_rows: int
    done_rows: int
    batch_size: int
    on_hand_delta: int
    skus: int
    shops: list[str]
    error: str | None
    error_row: int | None
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else int(100 * self.done_rows / self.total_rows)

    def stalled(self, now: datetime | None = None) -> bool:
        moment = now or datetime.now(UTC)
        return self.state in (QUEUED, RUNNING) and moment - self.updated_at > timedelta(seconds=STALLED_AFTER_S)


@dataclass(frozen=True)
class Received:
    outcome: Outcome
    job: ImportJob


def _now() -> datetime:
    return datetime.now(UTC)


def _view(row: StockImportJobRow) -> ImportJob:
    return ImportJob(
        id=row.id, filename=row.filename, reference=row.reference, actor=row.actor, kind=row.kind, state=row.state,
        attempt=row.attempt, total_rows=row.total_rows, done_rows=row.done_rows, batch_size=row.batch_size,
        on_hand_delta=row.on_hand_delta, skus=len(row.skus or ()), shops=list(row.shops or ()), error=row.error,
        error_row=row.error_row, created_at=row.created_at, started_at=row.started_at, updated_at=row.updated_at,
        finished_at=row.finished_at)


def _kind(adjustments: Sequence[Adjustment]) -> str:
    absolute = sum(1 for a in adjustments if a.on_hand is not None)
    return "absolute" if absolute == len(adjustments) else "delta" if absolute == 0 else "mixed"


def _encode(numbered: Sequence[tuple[int, Adjustment]]) -> list[list[Any]]:
    return [[row, a.warehouse, a.merchant_sku, a.delta, a.on_hand, a.note] for row, a in numbered]


def _decode(rows: Sequence[Sequence[Any]]) -> tuple[list[Adjustment], list[int]]:
    return ([Adjustment(warehouse=r[1], merchant_sku=r[2], delta=r[3], on_hand=r[4], note=r[5]) for r in rows],
            [int(r[0]) for r in rows])


async def find_problems(hub: Any, adjustments: Sequence[Adjustment], rows: Sequence[int]) -> list[ImportProblem]:
    """Every problem of these rows, were they applied now: unknown warehouses and SKUs, bundles,
    and counts or deltas that would leave on hand below what is reserved. Nothing is written."""
    async with hub.database().session() as session:
        known = await adjustment_problems(session, adjustments, known_warehouses(hub.config))
        problems = [ImportProblem(rows[i], field_name, message) for i, field_name, message in known]
        problems += await batches.check_rows(session, adjustments, rows)
    return sorted(problems, key=lambda p: p.row)


async def _latest(session: AsyncSession, digest: str) -> StockImportJobRow | None:
    return await session.scalar(select(StockImportJobRow).options(defer(StockImportJobRow.rows))
                                .where(StockImportJobRow.file_sha256 == digest)
                                .order_by(StockImportJobRow.attempt.desc()).limit(1))


async def receive_file(
    hub: Any, data: bytes, *, filename: str, reference: str | None, actor: str, again: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Received:
    """Check an uploaded stock file whole and start its job (or say what became of the same file).

    Raises ``StockImportError`` naming every bad row and column; then nothing is applied."""
    numbered = parse_stock_rows(decode_file(data))
    if not numbered:
        raise StockImportError([ImportProblem(2, "row", "the file has a header but no rows")])
    if len(numbered) > MAX_ROWS:
        raise StockImportError([ImportProblem(MAX_ROWS + 2, "row", (
            f"the file has {len(numbered)} rows; at most {MAX_ROWS} are taken at once: split it"))])
    digest = hashlib.sha256(data).hexdigest()
    async with hub.database().session() as session:
        latest = await _latest(session, digest)
    if latest is not None:
        job = _view(latest)
        if job.state in (QUEUED, RUNNING) and not job.stalled():
            return Received(Outcome.IN_PROGRESS, job)
        if job.state != DONE:
            return Received(Outcome.RESUMED, await resume(hub, job.id, actor=actor))
        if not again:
            return Received(Outcome.ALREADY_DONE, job)
    adjustments = [a for _, a in numbered]
    problems = await find_problems(hub, adjustments, [row for row, _ in numbered])
    if problems:
        raise StockImportError(problems)
    now = _now()
    async with hub.database().transaction() as session:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        created = await session.execute(insert_ignore(StockImportJobRow, dialect).values(
            file_sha256=digest, attempt=latest.attempt + 1 if latest is not None else 0, filename=filename[:200],
            reference=(reference or filename)[:200], actor=actor[:100], kind=_kind(adjustments), state=QUEUED,
            total_rows=len(numbered), done_rows=0, batch_size=batch_size, rows=_encode(numbered), on_hand_delta=0,
            skus=[], shops=[], created_at=now, updated_at=now,
        ).returning(StockImportJobRow.id))
        job_id = created.scalar_one_or_none()
        if job_id is not None:
            outbox.add(session, IMPORT_ACTOR, int(job_id))
    if job_id is None:  # the same file, uploaded twice at once: the other upload's job
        async with hub.database().session() as session:
            other = await _latest(session, digest)
        assert other is not None
        return Received(Outcome.IN_PROGRESS, _view(other))
    log.info("stock_import.queued", job=job_id, rows=len(numbered), by=actor, kind=_kind(adjustments))
    found = await get_job(hub, int(job_id))
    assert found is not None
    return Received(Outcome.STARTED, found)


async def resume(hub: Any, job_id: int, *, actor: str) -> ImportJob:
    """Continue a failed or stalled job from its first row not applied, once the rest of its file
    passes the checks again (``StockImportError`` otherwise). A job that is moving is left alone."""
    async with hub.database().session() as session:
        row = await session.get(StockImportJobRow, job_id)
        if row is None:
            raise NotFoundError(f"no stock import {job_id}")
        job, rest = _view(row), row.rows[row.done_rows:]
    if job.state == DONE or (job.state in (QUEUED, RUNNING) and not job.stalled()):
        return job
    adjustments, rows = _decode(rest)
    problems = await find_problems(hub, adjustments, rows)
    if problems:
        raise StockImportError(problems)
    cutoff = _now() - timedelta(seconds=STALLED_AFTER_S)
    async with hub.database().transaction() as session:
        moved = await session.execute(
            update(StockImportJobRow).where(
                StockImportJobRow.id == job_id, StockImportJobRow.done_rows == job.done_rows,
                StockImportJobRow.state != DONE,
                or_(StockImportJobRow.state == FAILED, StockImportJobRow.updated_at < cutoff))
            .values(state=QUEUED, error=None, error_row=None, updated_at=_now())
            .execution_options(synchronize_session=False))
        if int(getattr(moved, "rowcount", 0) or 0) == 1:
            outbox.add(session, IMPORT_ACTOR, job_id)
            log.info("stock_import.resumed", job=job_id, from_row=job.done_rows, by=actor)
    found = await get_job(hub, job_id)
    assert found is not None
    return found


async def get_job(hub: Any, job_id: int) -> ImportJob | None:
    async with hub.database().session() as session:
        row = await session.scalar(select(StockImportJobRow).options(defer(StockImportJobRow.rows))
                                   .where(StockImportJobRow.id == job_id))
    return _view(row) if row is not None else None


async def recent_jobs(session: AsyncSession, limit: int = 10, *, before: int | None = None) -> list[ImportJob]:
    """The newest jobs first; with ``before``, those older than that job id (the next page)."""
    stmt = select(StockImportJobRow).options(defer(StockImportJobRow.rows)).order_by(StockImportJobRow.id.desc())
    if before is not None:
        stmt = stmt.where(StockImportJobRow.id < before)
    rows = (await session.execute(stmt.limit(limit))).scalars()
    return [_view(r) for r in rows]


# --------------------------------------------------------------------------- running a job


@dataclass(frozen=True)
class _Step:
    done: int
    finished: bool
    skus: set[str]
    shops: set[str]


async def _claim(hub: Any, job_id: int) -> list[list[Any]] | None:
    """queued → running; the job's rows, or None when it is not queued (running elsewhere, over)."""
    now = _now()
    async with hub.database().transaction() as session:
        moved = await session.execute(
            update(StockImportJobRow).where(StockImportJobRow.id == job_id, StockImportJobRow.state == QUEUED)
            .values(state=RUNNING, started_at=func.coalesce(StockImportJobRow.started_at, now), updated_at=now)
            .execution_options(synchronize_session=False))
        if int(getattr(moved, "rowcount", 0) or 0) != 1:
            return None
        rows = await session.scalar(select(StockImportJobRow.rows).where(StockImportJobRow.id == job_id))
    return list(rows or [])


async def _next_batch(hub: Any, job_id: int, rows: Sequence[Sequence[Any]]) -> _Step | None:
    """Apply the next batch and count it, in one transaction; None when the job is not running."""
    async with hub.database().transaction() as session:
        job = await session.scalar(select(StockImportJobRow).options(defer(StockImportJobRow.rows))
                                   .where(StockImportJobRow.id == job_id).with_for_update())
        if job is None or job.state != RUNNING:
            return None
        start = job.done_rows
        adjustments, numbers = _decode(rows[start:start + job.batch_size])
        known = await adjustment_problems(session, adjustments, known_warehouses(hub.config))
        if known:
            raise StockImportError([ImportProblem(numbers[i], f, m) for i, f, m in known])
        result = await batches.apply_batch(session, adjustments, numbers, cause=StockChangeCause.IMPORT,
                                           reference=job.reference, actor=job.actor)
        shops = await scheduling.mark_dirty(session, result.skus)
        done = start + len(adjustments)
        finished = done >= job.total_rows
        now = _now()
        values: dict[str, Any] = {
            "done_rows": done, "on_hand_delta": job.on_hand_delta + result.on_hand_delta, "updated_at": now,
            "skus": sorted(set(job.skus or ()) | result.skus), "shops": sorted(set(job.shops or ()) | shops)}
        if finished:
            values.update(state=DONE, finished_at=now)
        counted = await session.execute(
            update(StockImportJobRow).where(StockImportJobRow.id == job_id, StockImportJobRow.done_rows == start)
            .values(**values).execution_options(synchronize_session=False))
        if int(getattr(counted, "rowcount", 0) or 0) != 1:  # another runner counted first: undo ours
            raise _Overtaken()
    return _Step(done, finished, result.skus, shops)


class _Overtaken(Exception):
    """Another runner moved the job while this one applied a batch (its batch is rolled back)."""


async def _fail(hub: Any, job_id: int, error: str, row: int | None) -> None:
    async with hub.database().transaction() as session:
        await session.execute(
            update(StockImportJobRow).where(StockImportJobRow.id == job_id, StockImportJobRow.state == RUNNING)
            .values(state=FAILED, error=error[:2000], error_row=row, updated_at=_now())
            .execution_options(synchronize_session=False))


async def run_import(hub: Any, job_id: int, *, on_batch: Callable[[int], None] | None = None) -> ImportJob | None:
    """Apply a queued job batch by batch until it is done or a batch fails (the job says why and
    which row; everything before that row stays applied). After each batch the shops whose
    listings changed get their push, plugins hear ``stock_changed``, and orders short of these
    SKUs are tried again, as after any adjustment."""
    rows = await _claim(hub, job_id)
    if rows is None:
        log.info("stock_import.not_queued", job=job_id)
        return await get_job(hub, job_id)
    log.info("stock_import.started", job=job_id, rows=len(rows))
    while True:
        try:
            step = await _next_batch(hub, job_id, rows)
        except StockImportError as exc:
            first = exc.problems[0]
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            await _fail(hub, job_id, f"{first}{more}", first.row)
            log.info("stock_import.failed", job=job_id, row=first.row, field=first.field)
            break
        except _Overtaken:
            log.info("stock_import.overtaken", job=job_id)
            break
        except Exception as exc:
            log.exception("stock_import.stopped", job=job_id)
            await _fail(hub, job_id, f"stopped by an unexpected error ({type(exc).__name__}: {str(exc)[:300]}); "
                                     f"continue the import to resume it", None)
            break
        if step is None:
            break
        await scheduling.schedule_push(hub, step.shops)
        await effects.notify_stock_changed(hub, step.skus)
        await effects.retry_short_orders(hub, step.skus)
        if on_batch is not None:
            on_batch(step.done)
        if step.finished:
            log.info("stock_import.done", job=job_id, rows=step.done)
            break
    return await get_job(hub, job_id)
