"""Saved views of the orders list over HTTP: list, save and delete the caller's named filters
(the same views the console shows above its orders list; ``hub.services.saved_views``).

A view's ``filters`` are the console's filter form values (``status``, ``shop``, ``platform``,
``date``, ``buyer``, ``sku``, ``hold``, ``held``; buyer and SKU match the start), checked like the
form checks them; ``url`` opens the view in the console. Everyone who may read orders keeps views
of their own; sharing one with everyone takes ``views.share`` (admins). Registered before the
orders router, so ``/views`` is never read as an order id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import MAX_TEXT, RowId
from hub.api.queries.order_form import FORM_FIELDS, form_problems, form_values
from hub.db.tables import SavedViewRow
from hub.errors import NotFoundError
from hub.services import saved_views
from hub.services.saved_views import ViewNameError, ViewNotYours

router = APIRouter(prefix="/api/v1/orders/views", tags=["orders"])


class SavedViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=saved_views.MAX_NAME, description="Unique among your views.")
    filters: dict[str, str] = Field(default_factory=dict, max_length=len(FORM_FIELDS),
                                    description=f"Filter form values; keys among: {', '.join(FORM_FIELDS)}.")
    shared: bool = Field(default=False, description="Show it to everyone (needs views.share).")


class SavedViewOut(BaseModel):
    id: int
    name: str
    filters: dict[str, str]
    shared: bool
    mine: bool = Field(description="Saved by the caller (else shared by someone else).")
    owner_name: str
    created_at: datetime
    url: str = Field(description="The console's orders list with these filters.")


def view_owner(principal: Principal) -> str:
    """Whose views these are: the console's password users by name, everyone else by key."""
    if getattr(principal, "via", "key") == "user":
        return saved_views.owner_key("user", principal.name)
    return saved_views.owner_key("key", principal.prefix)


def view_url(filters: dict[str, Any]) -> str:
    values = form_values({k: str(v) for k, v in filters.items()})
    return "/console/orders" + (f"?{urlencode(values)}" if values else "")


def view_out(row: SavedViewRow, owner: str) -> SavedViewOut:
    filters = {str(k): str(v) for k, v in (row.filters or {}).items()}
    return SavedViewOut(id=row.id, name=row.name, filters=filters, shared=row.shared, mine=row.owner == owner,
                        owner_name=row.owner_name, created_at=row.created_at, url=view_url(filters))


def _field_problem(field: str, message: str, kind: str) -> ApiError:
    return ApiError(422, "invalid_request", [{"field": field, "message": message, "type": kind}])


@router.get("", response_model=list[SavedViewOut], summary="Your saved views of the orders list, then shared ones")
async def list_views(request: Request, principal: Principal = Depends(require(Permission.ORDERS_READ))
                     ) -> list[SavedViewOut]:
    owner = view_owner(principal)
    async with get_hub(request).database().session() as session:
        rows = await saved_views.views_for(session, owner)
    return [view_out(row, owner) for row in rows]


@router.post("", response_model=SavedViewOut, status_code=201, summary="Save the orders list's filters under a name")
async def create_view(request: Request, body: SavedViewIn,
                      principal: Principal = Depends(require(Permission.ORDERS_READ))) -> SavedViewOut:
    unknown = sorted(set(body.filters) - set(FORM_FIELDS))
    if unknown:
        raise _field_problem(f"body.filters.{unknown[0]}", f"not a filter; use one of {', '.join(FORM_FIELDS)}",
                             "unknown_filter")
    long_value = next((k for k, v in body.filters.items() if len(v) > MAX_TEXT), None)
    if long_value:
        raise _field_problem(f"body.filters.{long_value}", f"at most {MAX_TEXT} characters", "too_long")
    values = form_values(body.filters)
    problems = form_problems(values)
    if problems:
        raise ApiError(422, "invalid_request", [
            {"field": f"body.filters.{name}", "message": p.message, "type": p.code} for name, p in problems.items()])
    if body.shared and not principal.may(Permission.VIEWS_SHARE):
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not share views with everyone; it needs "
                                         f"{Permission.VIEWS_SHARE.value!r} (admin)")
    owner = view_owner(principal)
    try:
        async with get_hub(request).database().transaction() as session:
            row = await saved_views.save_view(session, owner=owner, owner_name=principal.name, name=body.name,
                                              filters=values, shared=body.shared)
    except ViewNameError as exc:
        if exc.code == "duplicate":
            raise ApiError(409, "conflict", str(exc), field="body.name") from exc
        raise _field_problem("body.name", str(exc), exc.code or "bad_name") from exc
    return view_out(row, owner)


@router.delete("/{view_id}", status_code=204, summary="Delete one of your views (admins: or a shared one)")
async def delete_view(request: Request, view_id: RowId,
                      principal: Principal = Depends(require(Permission.ORDERS_READ))) -> Response:
    try:
        async with get_hub(request).database().transaction() as session:
            await saved_views.delete_view(session, view_id, owner=view_owner(principal),
                                          may_manage_shared=principal.may(Permission.VIEWS_SHARE))
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except ViewNotYours as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    return Response(status_code=204)
