"""Failed console sign-ins, counted per subject, to refuse guessing.

A subject is ``user:<name>`` for a user name — whether or not such a user exists, so a refusal
says nothing about which names are real — or ``key:<client address>`` for API keys tried from one
address. ``max_failures`` failures within ``lockout_s`` of the first lock the subject until
``lockout_s`` after the last; a successful sign-in clears it. Runs in the caller's transaction.
Not for API requests (keys are long random secrets, and each request is checked anyway).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import SignInFailureRow
from hub.db.upsert import insert_ignore


def user_subject(name: str) -> str:
    return f"user:{name.strip().lower()[:190]}"


def key_subject(address: str | None) -> str:
    return f"key:{(address or 'unknown')[:190]}"


async def locked_until(session: AsyncSession, subject: str, now: datetime) -> datetime | None:
    """When the subject may try again, if it is locked now; None otherwise."""
    until = await session.scalar(select(SignInFailureRow.locked_until).where(SignInFailureRow.subject == subject))
    return until if until is not None and until > now else None


async def record_failure(session: AsyncSession, subject: str, *, now: datetime, max_failures: int,
                         lockout_s: int) -> datetime | None:
    """Count one failure; returns when the subject may try again if this failure locked it."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    await session.execute(insert_ignore(SignInFailureRow, dialect).values(
        subject=subject, failures=0, first_failed_at=now, locked_until=None))
    row = (await session.execute(select(SignInFailureRow).where(SignInFailureRow.subject == subject)
                                 .with_for_update())).scalar_one()
    window = timedelta(seconds=lockout_s)
    fresh = row.failures == 0 or row.first_failed_at + window < now
    failures = 1 if fresh else row.failures + 1
    until = now + window if failures >= max_failures else None
    await session.execute(update(SignInFailureRow).where(SignInFailureRow.id == row.id).values(
        failures=failures, first_failed_at=now if fresh else row.first_failed_at, locked_until=until)
        .execution_options(synchronize_session=False))
    return until


async def clear(session: AsyncSession, subject: str) -> None:
    """Forget the subject's failures (after a successful sign-in)."""
    await session.execute(delete(SignInFailureRow).where(SignInFailureRow.subject == subject))
