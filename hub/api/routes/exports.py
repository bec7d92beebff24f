"""Exports over HTTP: ``GET /api/v1/exports/{list}.{csv|xlsx}`` with the list's own query
parameters (orders: ``status``, ``platform``, ``shop``, ``created_from``…; after-sales: ``status``,
``type``, ``open``…; stock: ``prefix``, ``warehouse``; service orders: ``status``, ``technician``…),
streamed as an attachment. Needs ``data.export`` and the list's read permission; buyers' personal
data is masked unless the role has ``orders.read_pii``; rows are limited to the caller's shops.
Each export is written to the audit log. The work is ``hub.services.export``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from hub.api.auth import PERMISSION_ROLES, ROLES, Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.errors import BadInputError
from hub.services.export.spec import FORMATS

router = APIRouter(tags=["exports"])


def query_values(request: Request) -> Mapping[str, list[str]]:
    """The query string as parameter → every value given."""
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    return values


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}


@router.get("/api/v1/exports/{name}.{fmt}", summary="A filtered list as CSV or XLSX, streamed",
            response_class=StreamingResponse,
            responses={200: {"content": {media: {} for media in FORMATS.values()}}})
async def export_list(request: Request, name: str, fmt: str,
                      principal: Principal = Depends(require(Permission.DATA_EXPORT))) -> StreamingResponse:
    """``name``: orders, lines, aftersales, stock or service-orders; ``fmt``: csv or xlsx. The
    query parameters are the list's filters; an unknown one or a bad value is a 422 naming it."""
    from hub.services.export.run import prepare, record_export  # the lists import the API's queries

    hub = get_hub(request)
    try:
        export = prepare(name, fmt, query_values(request), database=hub.database(), principal=principal,
                         reveal=principal.may(Permission.ORDERS_READ_PII),
                         zone=ZoneInfo(hub.config.console.time_zone))
    except BadInputError as exc:  # a filter the list does not take, or a value it cannot: 422 naming it
        raise ApiError(422, "invalid_request", str(exc), field=exc.field) from None
    needed = Permission(export.list.read_permission)
    if not principal.may(needed):
        allowed = ", ".join(r for r in ROLES if r in PERMISSION_ROLES[needed])
        raise ApiError(403, "forbidden", f"role {principal.role!r} lacks permission {needed.value!r}; "
                                         f"it needs one of: {allowed}")
    await record_export(hub.database(), export, actor=principal.actor)
    return StreamingResponse(export.body(), media_type=export.media_type, headers=attachment(export.filename))
