"""What a caller limited to some shops may see: a SQL condition for lists and a check for one object.

A key or console user may be limited to some shops (``Principal.shops``; None means every shop).
Lists add ``shop_condition(column, principal)`` to their WHERE; a read or write of one object
calls ``check_shop(principal, shop, what)``, which answers "not found" for another shop's object,
so a limited caller cannot even learn that it exists. Not for roles: ``hub.api.auth`` says what a
role may do; this says where.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import false, true

from hub.errors import NotFoundError


class ShopLimited(Protocol):
    """Anything with the shops it is limited to (``hub.api.auth.Principal`` and the console's)."""

    @property
    def shops(self) -> frozenset[str] | None: ...


def shops_of(principal: ShopLimited | None) -> frozenset[str] | None:
    """The shops ``principal`` is limited to; None (every shop) for None or an unlimited caller."""
    return None if principal is None else principal.shops


def shop_condition(column: Any, principal: ShopLimited | None) -> Any:
    """A WHERE condition keeping rows of the caller's shops (always true when unlimited)."""
    shops = shops_of(principal)
    if shops is None:
        return true()
    return column.in_(sorted(shops)) if shops else false()


def check_shop(principal: ShopLimited | None, shop: str | None, what: str) -> None:
    """Raise ``NotFoundError`` ("<what> does not exist") when ``shop`` is outside the caller's shops."""
    shops = shops_of(principal)
    if shops is not None and shop is not None and shop not in shops:
        raise NotFoundError(f"{what} does not exist")


def caller_shops_principal(request: Any) -> ShopLimited | None:
    """The caller a route's auth dependency put on ``request.state`` (API or console), if any."""
    return getattr(request.state, "principal", None) or getattr(request.state, "console_principal", None)


def caller_shops(request: Any) -> frozenset[str] | None:
    """The shops the request's caller is limited to (None: every shop), for routes whose auth is a
    ``dependencies=[...]`` entry rather than a parameter."""
    return shops_of(caller_shops_principal(request))


def visible_shops(principal: ShopLimited | None, configured: list[str]) -> list[str]:
    """The configured shops this caller may see, in the given order."""
    shops = shops_of(principal)
    return list(configured) if shops is None else [s for s in configured if s in shops]
