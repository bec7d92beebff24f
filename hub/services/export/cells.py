"""How one value is written into a cell: times in the export's time zone (ISO 8601 with the
offset, so the zone is never ambiguous), money as a plain decimal, tags joined, and any text a
spreadsheet would run as a formula (``= + - @``, tab, carriage return first) prefixed with ``'``.
Not for masking personal data (``contracts.privacy``): lists mask before a value gets here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from hub.services.export.spec import Cell

#: What a spreadsheet would start a formula (or DDE call) with.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """``text``, with ``'`` in front when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def when(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """An aware time as ISO 8601 in ``zone`` to the second (``2026-12-05T18:00:00+08:00``)."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment is not None else None


def joined(values: Iterable[object] | None) -> str:
    """A list of tags (or anything) as one cell: ``a; b``."""
    return "; ".join(str(v) for v in values or ())


def safe_row(row: Iterable[Cell]) -> list[Cell]:
    """The row with every text cell made safe; numbers and yes/no stay as they are."""
    return [safe_text(c) if isinstance(c, str) else c for c in row]


def csv_value(cell: Cell) -> str:
    """A cell as CSV text: empty for None, ``true``/``false``, decimals without exponent."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, Decimal):
        return format(cell, "f")
    return str(cell)
