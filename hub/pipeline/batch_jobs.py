"""Background batch jobs: one actor message per job, which walks the job's chunks and commits the
progress of each (``hub.services.batch.runner``).

A message delivered again resumes where the job stopped: positions with an outcome are skipped.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.batch import runner
from hub.services.batch.jobs import RUN_ACTOR


@hub_actor(queue="bulk", priority=0, max_retries=0, time_limit_ms=3_600_000, name=RUN_ACTOR)
async def run_batch_job(job_id: int) -> None:
    """Run batch job ``job_id`` to the end (or until cancelled). No retries: a failure is recorded on
    the job with its error; what was done stays done and is listed in its items."""
    await runner.run_job(current_hub(), job_id)


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs."""
    return []
