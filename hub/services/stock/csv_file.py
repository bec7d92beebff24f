"""The stock file: ``warehouse,merchant_sku,on_hand`` and/or ``delta`` (±), with an optional
``note``, decoded and parsed into adjustments, every bad row named by row number and column.

Used by ``hub stock import`` and the console's upload (``import_jobs``). Pure: nothing is read
from or written to the database (checking rows against the stock is ``import_jobs`` and
``batches``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from hub.errors import BadInputError, FileRowsError
from hub.services.stock.adjustments import Adjustment, parse_adjustment


@dataclass
class ImportProblem:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class StockImportError(FileRowsError):
    """A stock file with bad rows (``ImportProblem``s); nothing was applied."""

    problems: list[ImportProblem]  # type: ignore[assignment]


CSV_COLUMNS = ("warehouse", "merchant_sku")


def parse_stock_csv(text: str) -> tuple[list[Adjustment], list[str]]:
    """Rows of ``warehouse,merchant_sku,on_hand`` (absolute count) and/or ``delta`` (±), plus an
    optional ``note``; returns adjustments and their labels ("row N", N = line in the file).
    Raises ``StockImportError`` listing every bad row."""
    rows = parse_stock_rows(text)
    return [adj for _, adj in rows], [f"row {number}" for number, _ in rows]


def parse_stock_rows(text: str) -> list[tuple[int, Adjustment]]:
    """``parse_stock_csv``'s rows with their row numbers (the header is row 1)."""
    if "\x00" in text:  # the csv module passes it on, and PostgreSQL refuses it in any text
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise StockImportError([ImportProblem(line, "file", "contains a NUL character: is it really a CSV file?")])
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        return _parse_rows(reader)
    except csv.Error as exc:  # e.g. a field longer than the csv module takes
        raise StockImportError([ImportProblem(reader.line_num or 1, "file", f"not readable as CSV: {exc}")]) from exc


def _parse_rows(reader: Any) -> list[tuple[int, Adjustment]]:
    header = [h.strip() for h in reader.fieldnames or []]
    problems: list[ImportProblem] = []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing or not ({"on_hand", "delta"} & set(header)):
        need = missing or ["on_hand or delta"]
        raise StockImportError([ImportProblem(1, need[0], f"missing column(s) {need}; header is {header}")])
    parsed: list[tuple[int, Adjustment]] = []
    for index, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        values: dict[str, Any] = {"warehouse": row.get("warehouse"), "merchant_sku": row.get("merchant_sku"),
                                  "note": row.get("note") or None}
        bad = False
        for column in ("on_hand", "delta"):
            text_value = row.get(column, "")
            if text_value == "":
                continue
            try:
                values[column] = int(text_value)
            except ValueError:
                problems.append(ImportProblem(index, column, f"must be a whole number, got {text_value[:40]!r}"))
                bad = True
        if bad:
            continue
        try:
            parsed.append((index, parse_adjustment(values)))
        except BadInputError as exc:
            problems.append(ImportProblem(index, exc.field or "row", str(exc)))
    if problems:
        raise StockImportError(problems)
    return parsed


def decode_file(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a BOM), else GB 18030 (what Excel saves in Chinese
    Windows); else a problem naming the file."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StockImportError([ImportProblem(1, "file", "not a text file (save it as CSV in UTF-8)")])
