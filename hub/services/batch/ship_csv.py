"""Reading a CSV of shipments (``order_no,courier,tracking_no``) into the ``ship`` action's rows.

A row that cannot be read is kept with its error, so the answer reports it by row number next to
the rows shipped; a file without the three columns is refused whole. Not for shipping (``ship``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from hub.errors import BadInputError

COLUMNS = ("order_no", "courier", "tracking_no")
MAX_FIELD = 100


def parse_ship_csv(text: str, *, field: str = "body.csv") -> list[dict[str, Any]]:
    """One dict per data row: ``row`` (its line number, the header being 1), the three columns, and
    ``error`` when the row is unusable. ``BadInputError`` naming ``field`` when the header lacks a column."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise BadInputError(f"the CSV's header must name {', '.join(COLUMNS)}; missing {', '.join(missing)}",
                            field=field)
    at = {c: header.index(c) for c in COLUMNS}
    rows: list[dict[str, Any]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        values = {c: (cells[i].strip() if i < len(cells) else "") for c, i in at.items()}
        empty = [c for c in COLUMNS if not values[c]]
        long = [c for c in COLUMNS if len(values[c]) > MAX_FIELD]
        error = (f"{', '.join(empty)} is empty" if empty
                 else f"{', '.join(long)} is longer than {MAX_FIELD} characters" if long else None)
        rows.append({"row": number, **{c: v[:MAX_FIELD] for c, v in values.items()}, "error": error})
    if not rows:
        raise BadInputError("the CSV has no rows under its header", field=field)
    return rows
