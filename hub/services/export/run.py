"""One export from start to finish, as the API, the console and the CLI run it: ``prepare``
parses and checks the filters (bad input fails here, before a byte is sent), ``Export.body``
streams the file, ``record_export`` writes the audit entry (who, which list, the filters without
personal values, masked or revealed, the row count when known).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.db import audit
from hub.db.engine import Database
from hub.errors import BadInputError
from hub.services.access.scope import ShopLimited
from hub.services.export.query_filters import parse_filters
from hub.services.export.registry import FORMATS, export_list
from hub.services.export.spec import ExportContext, ExportList
from hub.services.export.writers import Progress, csv_stream, xlsx_stream

#: Filters whose values say nothing about a buyer; any other given text filter (a buyer's nick,
#: a free-text search) is recorded as given, without its value.
_PLAIN_FILTERS = frozenset({"status", "statuses", "type", "types", "platform", "shop", "tag", "hold", "sku",
                            "technician", "region", "warehouse", "prefix", "sort"})


@dataclass
class Export:
    """A prepared export: the list, its parsed filters, how rows are read, the file's name and type."""

    list: ExportList
    fmt: str
    filters: Any
    context: ExportContext
    filename: str
    rows_written: int = 0

    @property
    def media_type(self) -> str:
        return FORMATS[self.fmt]

    @property
    def masked(self) -> bool:
        return self.list.personal and not self.context.reveal

    def _progress(self, progress: Progress | None) -> Progress:
        def seen(count: int) -> None:
            self.rows_written = count
            if progress is not None:
                progress(count)
        return seen

    def body(self, progress: Progress | None = None) -> AsyncIterator[bytes]:
        """The file's bytes as rows are read; ``rows_written`` counts them as they go."""
        rows = self.list.rows(self.context, self.filters)
        if self.fmt == "csv":
            return csv_stream(self.list.header, rows, self._progress(progress))
        return xlsx_stream(self.list.header, rows, sheet=self.list.name, progress=self._progress(progress))


def prepare(name: str, fmt: str, params: Mapping[str, Sequence[str]], *, database: Database,
            principal: ShopLimited | None, reveal: bool, zone: ZoneInfo, now: datetime | None = None) -> Export:
    """The export of list ``name`` as ``fmt`` with the filters in ``params`` (query parameters).
    ``NotFoundError`` for an unknown list; ``BadInputError`` naming the format or the filter."""
    spec = export_list(name)
    filters = parse_filters(spec.filters, params, aliases=spec.aliases, skip=spec.skip)
    return prepare_filtered(name, fmt, filters, database=database, principal=principal, reveal=reveal, zone=zone,
                            now=now)


def prepare_filtered(name: str, fmt: str, filters: Any, *, database: Database, principal: ShopLimited | None,
                     reveal: bool, zone: ZoneInfo, now: datetime | None = None) -> Export:
    """The export of list ``name`` with ``filters`` already built (the list's own filter object, as
    a screen builds it from its form)."""
    spec = export_list(name)
    if fmt not in FORMATS:
        raise BadInputError(f"format {fmt!r} is not one of {', '.join(FORMATS)}", field="path.format")
    if not isinstance(filters, spec.filters):
        raise TypeError(f"{name} exports take {spec.filters.__name__}, not {type(filters).__name__}")
    if spec.check is not None:
        spec.check(filters)
    at = now or datetime.now(UTC)
    filename = f"{spec.name}-{at.astimezone(zone):%Y%m%d-%H%M}.{fmt}"
    context = ExportContext(database=database, principal=principal, reveal=reveal, zone=zone, now=now)
    return Export(list=spec, fmt=fmt, filters=filters, context=context, filename=filename)


def _recorded_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and name not in _PLAIN_FILTERS:
        return "(given)"
    if isinstance(value, tuple):
        return list(value)
    return value


def filters_for_audit(export: Export) -> dict[str, Any]:
    """The filters that differ from the list's defaults, without personal values."""
    given: dict[str, Any] = {}
    for f in dataclasses.fields(export.filters):
        value = getattr(export.filters, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.name in export.list.skip or value == default:
            continue
        given[f.name] = _recorded_value(f.name, value)
    return given


async def record_export(database: Database, export: Export, *, actor: str, rows: int | None = None) -> None:
    """The audit entry ``data.exported`` for ``export`` by ``actor`` (``rows`` when counted)."""
    shops = export.context.principal.shops if export.context.principal is not None else None
    details: dict[str, Any] = {"list": export.list.name, "format": export.fmt, "filters": filters_for_audit(export),
                               "masked": export.masked, "shops": sorted(shops) if shops is not None else None}
    if rows is not None:
        details["rows"] = rows
    async with database.transaction() as session:
        await audit.record(session, actor=actor, action="data.exported", subject=f"export:{export.list.name}",
                           details=details)
