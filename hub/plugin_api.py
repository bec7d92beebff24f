"""The small public surface the hub offers plugin authors.

Import from here, never from hub internals: the hook marker, the error classes connectors raise,
signing helpers, the HTTP client factory, and for sandboxes their ids and a real HTTP server
(``serve_in_thread``). Anything not re-exported here may change
(``tests/unit/test_import_rules.py`` holds plugins to it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pluggy

from contracts.hookspecs import PROJECT_NAME
from hub.asgi_server import serve_in_thread
from hub.errors import (
    AuthorizationError,
    BadInputError,
    HubError,
    NotFoundError,
    PartnerError,
    PermanentError,
    RetryableError,
    SignatureError,
    StaleAfterSaleError,
    ThrottledError,
)
from hub.http import build_http_client, call_with_retries, retry_after_seconds
from hub.sandbox_ids import sandbox_ids
from hub.signing import constant_time_equals, hmac_hex, md5_hex

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

T = TypeVar("T")
R = TypeVar("R")


def map_each(items: Iterable[T], mapper: Callable[[T], R], id_of: Callable[[T], Any]) -> tuple[list[R], dict[str, str]]:
    """Map a page of platform objects, setting aside the ones that fail with ``BadInputError``.

    Returns ``(mapped, rejected)`` where ``rejected`` maps the object's id to the reason — what
    ``contracts.OrderPage.rejected`` expects — so one unmappable order never blocks a poll.
    """
    mapped: list[R] = []
    rejected: dict[str, str] = {}
    for item in items:
        try:
            mapped.append(mapper(item))
        except BadInputError as exc:
            rejected[str(id_of(item))] = str(exc)
    return mapped, rejected


#: ``get_orders`` (``Capability.GET_ORDERS``) reads at most this many pages after the first: on a
#: busy night a batch's window holds many more orders than the batch asks for, and paging it still
#: costs far fewer partner calls (what a platform's quota counts) than one call per order, but one
#: batch should not page through a whole day.
BULK_MAX_PAGES = 20


def bulk_listing_pays(listed: int, page_size: int, asked: int, missing: int) -> bool:
    """Whether ``get_orders`` should read the rest of a list call whose first page it has read.

    ``listed`` is the total the platform reports for the window, ``asked`` how many distinct ids
    were asked for and ``missing`` how many of them the first page did not hold. Read on only when
    the pages left cost fewer calls than fetching each missing order alone (``get_order``, which
    the hub then does), and are at most ``BULK_MAX_PAGES``. ``asked`` is kept for the callers'
    readability and future rules; the cost rule needs only ``missing``.
    """
    pages_left = math.ceil(listed / page_size) - 1 if page_size > 0 else 0
    if pages_left <= 0 or missing <= 0:
        return False
    return pages_left < missing and pages_left <= BULK_MAX_PAGES


__all__ = [
    "BULK_MAX_PAGES",
    "AuthorizationError",
    "BadInputError",
    "HubError",
    "NotFoundError",
    "PartnerError",
    "PermanentError",
    "RetryableError",
    "SignatureError",
    "StaleAfterSaleError",
    "ThrottledError",
    "build_http_client",
    "bulk_listing_pays",
    "call_with_retries",
    "constant_time_equals",
    "hmac_hex",
    "hookimpl",
    "map_each",
    "md5_hex",
    "retry_after_seconds",
    "sandbox_ids",
    "serve_in_thread",
]
