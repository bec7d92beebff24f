"""API keys over HTTP (admin only): list, create (the key is in the response, once) and revoke.

The same operations as ``hub apikey``, including limiting a key to some shops (``PATCH``,
``hub apikey shops``); creation and revocation record the admin key that did them
(``created_by`` / ``revoked_by`` and the audit log). The last active admin key cannot be revoked,
nor the last admin key of every shop limited, here (409): create another admin key first, or,
locked out, use the CLI's ``--force``.
Not for verifying keys (``hub.api.auth``).
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from hub.api.auth import ROLES, Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import ApiKeyCreated, ApiKeyOut
from hub.api.params import PathText
from hub.db import api_keys
from hub.errors import BadInputError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])
admin = require(Permission.API_KEYS)


_SHOPS_HELP = "Limit the key to these configured shops; omit (or null) for every shop."


class NewApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key.")
    role: str = Field(description=f"One of: {', '.join(ROLES)}.", json_schema_extra={"enum": list(ROLES)})
    shops: list[str] | None = Field(default=None, max_length=200, description=_SHOPS_HELP)


class ApiKeyChange(BaseModel):
    shops: list[str] | None = Field(max_length=200, description=_SHOPS_HELP + " (null lifts the limit)")


def checked_shops(request: Request, shops: list[str] | None) -> list[str] | None:
    """``shops`` checked against the configured shops; 422 naming ``body.shops`` for an unknown one
    (or an empty list). Shared with the users' routes."""
    try:
        return api_keys.normalise_shops(shops, list(get_hub(request).config.shops))
    except BadInputError as exc:
        raise ApiError(422, "invalid_request", str(exc), field="body.shops") from exc


@router.get("", response_model=list[ApiKeyOut], summary="Every API key (never the key itself)",
            dependencies=[Depends(admin)])
async def list_api_keys(request: Request) -> list[ApiKeyOut]:
    async with get_hub(request).database().session() as session:
        rows = await api_keys.list_keys(session)
    return [ApiKeyOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("", response_model=ApiKeyCreated, status_code=201, summary="Create a key; it is shown only here")
async def create_api_key(request: Request, body: NewApiKey, principal: Principal = Depends(admin)) -> ApiKeyCreated:
    async with get_hub(request).database().transaction() as session:
        shops = checked_shops(request, body.shops)
        plaintext, row = await api_keys.create_key(session, name=body.name, role=body.role,  # BadInputError → 400
                                                   actor=principal.actor, shops=shops)
        out = ApiKeyOut.model_validate(row, from_attributes=True)
    log.info("apikey.created", key_prefix=row.prefix, role=row.role, by=principal.actor)
    return ApiKeyCreated(**out.model_dump(), key=plaintext)


@router.patch("/{prefix}", response_model=ApiKeyOut, summary="Change which shops a key is limited to")
async def change_api_key(request: Request, prefix: PathText, body: ApiKeyChange,
                         principal: Principal = Depends(admin)) -> ApiKeyOut:
    """Limit the key to ``shops`` or, with ``null``, to none (every shop); the change is audit-logged
    (``apikey.shops_changed``) and takes effect on the key's next request. 409 when it is the last
    admin key of every shop (a limited admin key cannot manage keys)."""
    try:
        async with get_hub(request).database().transaction() as session:
            shops = checked_shops(request, body.shops)
            row = await api_keys.set_shops(session, prefix, shops, actor=principal.actor)
            if row is None:
                raise ApiError(404, "not_found", f"no active API key with prefix {prefix!r}")
            out = ApiKeyOut.model_validate(row, from_attributes=True)
    except api_keys.LastAdminKeyError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    log.info("apikey.shops_changed", key_prefix=prefix, by=principal.actor)
    return out


@router.delete("/{prefix}", status_code=204, summary="Revoke a key (never the last admin key: 409)")
async def revoke_api_key(request: Request, prefix: PathText, principal: Principal = Depends(admin)) -> None:
    try:
        async with get_hub(request).database().transaction() as session:
            revoked = await api_keys.revoke_key(session, prefix, actor=principal.actor)
    except api_keys.LastAdminKeyError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if not revoked:
        raise ApiError(404, "not_found", f"no active API key with prefix {prefix!r}")
    log.info("apikey.revoked", key_prefix=prefix, by=principal.actor)
