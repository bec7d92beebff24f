"""Multi-row statements with RETURNING, sent in a bounded number of shapes.

SQLAlchemy sends an ``INSERT … RETURNING`` executed with many rows as one multi-row ``VALUES``
statement ("insertmanyvalues") whose text depends on the row count, and the asyncpg driver
prepares and keeps every distinct text (up to 100 per pooled connection, each with all its
parameters' descriptions). A worker whose batches came in every size from 1 to 1,000 kept up to
100 such statements of up to 17,000 parameters on every connection: its memory grew with each new
batch size until those caches were full (bench/README.md, "Memory: the prepared statements").

``returning_many`` sends the rows in consecutive chunks whose sizes are powers of two (512, 256,
… 1): at most ten shapes per statement whatever the batch sizes, and at most ten round trips for a
batch (one when its size is a power of two). Chunks keep the rows' order, so a batch that inserts
in key order still takes its locks in that order. Not needed for statements without RETURNING:
those go as the driver's executemany, one shape for any number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

#: The largest chunk: a page of SQLAlchemy's insertmanyvalues (1,000 rows) holds it whole.
LARGEST_CHUNK = 512


class _Executes(Protocol):
    async def execute(self, statement: Any, parameters: Any = ..., /) -> Any: ...


def power_of_two_chunks(rows: Sequence[T], largest: int = LARGEST_CHUNK) -> list[Sequence[T]]:
    """``rows`` cut into consecutive chunks of ``largest`` rows, then of the largest power of two
    that fits what is left (1,000 rows: 512, 256, 128, 64, 32, 8)."""
    if largest < 1 or largest & (largest - 1):
        raise ValueError(f"largest must be a power of two, got {largest}")
    chunks: list[Sequence[T]] = []
    start = 0
    while start < len(rows):
        size = largest
        while size > len(rows) - start:
            size //= 2
        chunks.append(rows[start:start + size])
        start += size
    return chunks


async def returning_many(executor: _Executes, statement: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Execute ``statement`` (with RETURNING) for every row, in power-of-two chunks; the returned
    rows of all chunks, in chunk order. ``executor`` is a session or a connection."""
    returned: list[Any] = []
    for chunk in power_of_two_chunks(rows):
        returned.extend((await executor.execute(statement, list(chunk))).all())
    return returned
