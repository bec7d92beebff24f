"""Rows into file bytes, streamed: CSV a chunk of rows at a time (UTF-8 with a byte-order mark,
so Excel opens Chinese text correctly), XLSX through openpyxl's write-only workbook (rows go to
its temporary files as they come), saved into a spooled temporary file that stays in memory only
while small, then read out in blocks. Every text cell is made formula-safe (``cells.safe_row``).
Not for choosing rows or masking them (the lists do that).
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence

from hub.services.export.cells import csv_value, safe_row
from hub.services.export.spec import Cell

BOM = "\ufeff".encode()
#: CSV text is sent once this much is buffered (and at the end).
CSV_FLUSH_CHARS = 64 * 1024
#: XLSX bytes are read out of the finished file this much at a time.
BLOCK_BYTES = 64 * 1024
#: A finished workbook up to this size stays in memory; larger ones go to a temporary file.
SPOOL_BYTES = 1024 * 1024

Progress = Callable[[int], None]


async def csv_stream(header: Sequence[str], rows: AsyncIterator[list[Cell]],
                     progress: Progress | None = None) -> AsyncIterator[bytes]:
    """The CSV file's bytes: the BOM and header first, then rows as they are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield BOM + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    count = 0
    async for row in rows:
        writer.writerow([csv_value(c) for c in safe_row(row)])
        count += 1
        if buffer.tell() >= CSV_FLUSH_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            if progress is not None:
                progress(count)
    if buffer.tell():
        yield buffer.getvalue().encode()
    if progress is not None:
        progress(count)


def _xlsx_cell(cell: Cell) -> Cell:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(cell, str):
        return ILLEGAL_CHARACTERS_RE.sub("", cell)
    return cell


async def xlsx_stream(header: Sequence[str], rows: AsyncIterator[list[Cell]], *, sheet: str,
                      progress: Progress | None = None) -> AsyncIterator[bytes]:
    """The XLSX file's bytes (one sheet named ``sheet``), produced once every row is written."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31])
    worksheet.append(list(header))
    count = 0
    async for row in rows:
        worksheet.append([_xlsx_cell(c) for c in safe_row(row)])
        count += 1
        if progress is not None and count % 10_000 == 0:
            progress(count)
    if progress is not None:
        progress(count)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        await asyncio.to_thread(workbook.save, spool)
        spool.seek(0)
        while block := spool.read(BLOCK_BYTES):
            yield block
