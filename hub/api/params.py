"""Bounds on the path and query parameters routes share: ids the hub owns fit a 64-bit integer,
free text has a length and times exist in UTC, so bad input is a 422 naming the parameter instead
of a database error.

NUL characters in any query or path value are refused earlier, for every route, by
``hub.api.body_limits``. Not for body fields: their models carry their own bounds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime

#: The largest id a row can have (PostgreSQL bigint); larger ids cannot exist, so they are refused.
INT64_MAX = 2**63 - 1
#: Platform ids, SKUs, names and other short text given in a query or path.
MAX_TEXT = 200

def _fits_utc(value: datetime) -> datetime:
    """A time the database can compare: one that still exists in UTC (year 1 east of UTC, or year
    9999 west of it, does not)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: the time must fall between the years 1 and 9999 in UTC") from None
    return value


#: A time given in a query, with its offset, that exists in UTC (else a 422 naming the parameter).
QueryTime = Annotated[AwareDatetime, AfterValidator(_fits_utc)]

RowId = Annotated[int, Path(ge=1, le=INT64_MAX, description="An id the hub assigned (1 to 2^63-1).")]
PathText = Annotated[str, Path(min_length=1, max_length=MAX_TEXT)]


def text_query(description: str | None = None) -> Any:
    """An optional free-text query parameter of at most ``MAX_TEXT`` characters."""
    return Query(None, max_length=MAX_TEXT, description=description)
