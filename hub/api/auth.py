"""API-key authentication and the role → permission table, as FastAPI dependencies.

A request carries ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the key is checked
against the hashes in ``api_keys`` (``hub.db.api_keys.verify_key``). Roles are *not* a ladder
(a warehouse key may adjust stock but not edit orders; customer service may see buyers' data but
not adjust stock), so what each role may do is one explicit table, ``ROLE_PERMISSIONS``. Routes
declare what they need with ``Depends(require(Permission.ORDERS_WRITE))``; the caller is put on
``request.state.principal`` and ``request.state.actor`` so every write is attributed.
Not for storing keys (``hub.db.api_keys``) nor for webhook signatures (connectors verify those).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog
from fastapi import Request

from hub.api.errors import ApiError
from hub.context import Hub
from hub.db import api_keys as api_key_store

log = structlog.get_logger(__name__)


class Permission(StrEnum):
    ORDERS_READ = "orders.read"
    ORDERS_READ_PII = "orders.read_pii"  # buyer and shipping address unmasked
    ORDERS_WRITE = "orders.write"  # edits, holds, releases
    SHIPMENTS_WRITE = "shipments.write"  # record what left a warehouse
    STOCK_READ = "stock.read"
    STOCK_ADJUST = "stock.adjust"
    CATALOGUE_WRITE = "catalogue.write"  # SKUs, bundles, listing bindings and listing syncs
    SHOPS_READ = "shops.read"
    SHOPS_MANAGE = "shops.manage"  # resume a paused shop, authorise a shop
    PLUGINS_READ = "plugins.read"
    PLUGINS_MANAGE = "plugins.manage"
    DEAD_LETTERS = "dead_letters.manage"  # list, show and replay
    API_KEYS = "api_keys.manage"
    AUDIT_READ = "audit.read"  # who created/revoked keys, resumed shops, replayed dead letters
    USERS_MANAGE = "users.manage"  # console users: add, deactivate, reactivate, reset passwords
    VIEWS_SHARE = "views.share"  # share a saved view with everyone, delete a shared one
    SERVICE_ORDERS_WRITE = "service_orders.write"  # assign, book, check in, complete, cancel, create
    TECHNICIANS_MANAGE = "technicians.manage"  # add, change, deactivate technicians
    ORDERS_EDIT = "orders.edit"  # address, remarks, flag; ask for price/quantity changes; cancel unshipped
    ORDERS_APPROVE = "orders.approve"  # approve or reject money changes waiting in the approval queue
    ORDERS_TRIAGE = "orders.triage"  # attach tags, set priority, hold and release by hand
    TAGS_MANAGE = "tags.manage"  # create, recolour, delete user tags
    DATA_EXPORT = "data.export"  # download filtered lists as CSV/XLSX (masked unless orders.read_pii)
    JOBS_RUN = "jobs.run"  # start batch jobs (each item still needs its own permission)
    NOTIFICATIONS_READ = "notifications.read"  # the delivery log, the unpaid-reminder list
    NOTIFICATIONS_MANAGE = "notifications.manage"  # test a notifier, resend a delivery
    REPORTS_READ = "reports.read"  # orders, sales, rates, buyers by period and dimension
    REPORTS_PROFIT = "reports.profit"  # gross profit: costs, freight, fees
    COSTS_WRITE = "costs.write"  # cost price per SKU, freight rates


ROLES: tuple[str, ...] = api_key_store.ROLES
_EVERYONE = frozenset(ROLES)

#: Who may do what (``service`` is customer service). A role missing from a row may not do it.
PERMISSION_ROLES: dict[Permission, frozenset[str]] = {
    Permission.ORDERS_READ: _EVERYONE,
    Permission.ORDERS_READ_PII: frozenset({"admin", "service"}),
    Permission.ORDERS_WRITE: frozenset({"admin", "operator"}),
    Permission.SHIPMENTS_WRITE: frozenset({"admin", "operator", "warehouse"}),
    Permission.STOCK_READ: _EVERYONE,
    Permission.STOCK_ADJUST: frozenset({"admin", "warehouse"}),
    Permission.CATALOGUE_WRITE: frozenset({"admin", "operator"}),
    Permission.SHOPS_READ: _EVERYONE,
    Permission.SHOPS_MANAGE: frozenset({"admin"}),
    Permission.PLUGINS_READ: _EVERYONE,
    Permission.PLUGINS_MANAGE: frozenset({"admin"}),
    Permission.DEAD_LETTERS: frozenset({"admin"}),
    Permission.API_KEYS: frozenset({"admin"}),
    Permission.AUDIT_READ: frozenset({"admin"}),
    Permission.USERS_MANAGE: frozenset({"admin"}),
    Permission.VIEWS_SHARE: frozenset({"admin"}),
    Permission.SERVICE_ORDERS_WRITE: frozenset({"admin", "operator", "service"}),
    Permission.TECHNICIANS_MANAGE: frozenset({"admin", "service"}),
    Permission.ORDERS_EDIT: frozenset({"admin", "operator", "service"}),
    Permission.ORDERS_APPROVE: frozenset({"admin", "finance"}),
    Permission.ORDERS_TRIAGE: frozenset({"admin", "operator", "service"}),
    Permission.TAGS_MANAGE: frozenset({"admin", "operator"}),
    Permission.DATA_EXPORT: frozenset({"admin", "operator", "service", "warehouse", "finance"}),
    Permission.JOBS_RUN: frozenset({"admin", "operator", "service", "warehouse", "finance"}),
    Permission.NOTIFICATIONS_READ: frozenset({"admin", "operator", "service"}),
    Permission.NOTIFICATIONS_MANAGE: frozenset({"admin"}),
    Permission.REPORTS_READ: frozenset({"admin", "operator", "finance", "viewer"}),
    Permission.REPORTS_PROFIT: frozenset({"admin", "finance"}),
    Permission.COSTS_WRITE: frozenset({"admin", "finance"}),
}

#: What spans every shop: a key or user limited to some shops may not do it whatever its role
#: (else a limited admin could mint itself an unlimited key or read every shop's dead letters).
EVERY_SHOP_PERMISSIONS: frozenset[Permission] = frozenset({
    Permission.API_KEYS, Permission.USERS_MANAGE, Permission.DEAD_LETTERS, Permission.AUDIT_READ,
    Permission.PLUGINS_MANAGE,
})

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    role: frozenset(p for p, roles in PERMISSION_ROLES.items() if role in roles) for role in ROLES
}


@dataclass(frozen=True)
class Principal:
    """The API key a request was made with."""

    key_id: int
    name: str
    prefix: str
    role: str
    #: The shops this key or user may see and act on; None means every shop (the default).
    shops: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        """How writes made with this key are attributed in history tables (fits String(100))."""
        return f"apikey:{self.prefix}:{self.name}"[:100]

    def may(self, permission: Permission) -> bool:
        if self.shops is not None and permission in EVERY_SHOP_PERMISSIONS:
            return False
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def sees_shop(self, shop: str | None) -> bool:
        """Whether this caller may see and act on what belongs to ``shop`` (None: not a shop's)."""
        return self.shops is None or shop is None or shop in self.shops


def shops_from_row(value: object) -> frozenset[str] | None:
    """A key's or user's stored ``shops`` (JSON list, or NULL for every shop) as ``Principal.shops``."""
    if value is None:
        return None
    return frozenset(str(shop) for shop in value) if isinstance(value, list | tuple | set | frozenset) else None


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request) -> Principal:
    """The caller's key, verified against the stored hashes; 401 when missing, unknown or revoked."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    plaintext = _presented_key(request)
    if plaintext is None:
        raise _unauthorized("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    hub: Hub = request.app.state.hub
    async with hub.database().transaction() as session:
        row = await api_key_store.verify_key(session, plaintext)
        if row is None or getattr(row, "revoked_at", None) is not None:
            log.info("apikey.rejected", path=request.url.path)
            raise _unauthorized("the API key is unknown or revoked")
        principal = Principal(key_id=int(row.id), name=row.name, prefix=row.prefix, role=row.role,
                              shops=shops_from_row(getattr(row, "shops", None)))
    request.state.principal = principal
    request.state.actor = principal.actor
    structlog.contextvars.bind_contextvars(api_key=principal.prefix)
    return principal


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the authenticated caller, if their role grants ``permission`` (else 403)."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.may(permission):
            if principal.shops is not None and permission in EVERY_SHOP_PERMISSIONS:
                raise ApiError(403, "forbidden", f"{permission.value!r} spans every shop; a key limited to "
                                                 f"{', '.join(sorted(principal.shops))} may not use it")
            allowed = ", ".join(r for r in ROLES if r in PERMISSION_ROLES[permission])
            raise ApiError(
                403,
                "forbidden",
                f"role {principal.role!r} lacks permission {permission.value!r}; it needs one of: {allowed}",
            )
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


__all__ = ["EVERY_SHOP_PERMISSIONS", "PERMISSION_ROLES", "ROLES", "ROLE_PERMISSIONS", "Permission", "Principal",
           "authenticate", "require", "shops_from_row"]
