"""The orders list's filters as a person types them: the console's filter form and the saved views
that remember it. Strings in; the query's ``OrderFilters`` and one ``Problem`` per bad field out.

Buyer and SKU match the *start* of the nick / merchant SKU (case-sensitive), so a person can type
part of one; both are served by indexes (``hub.api.queries.orders``). The search fields (the one
box ``q``, order number, recipient, phone) are hashed with the search key before they reach a
query, and are never kept in a saved view (``SEARCH_FIELDS``: personal data stays out of storage).
Not for the API's own list parameters, which FastAPI validates (and which match buyer and SKU exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.orders import OrderStatus
from hub.api.params import MAX_TEXT
from hub.api.queries.orders import OrderFilters
from hub.services.search.hashing import normalise_phone
from hub.services.search.sorting import SORTS
from hub.services.search.terms import phone_search, quick_search, recipient_search

#: The form's fields, in the order the form shows them.
FORM_FIELDS: tuple[str, ...] = ("status", "shop", "platform", "date", "buyer", "sku", "hold", "held",
                                 "user_tag", "priority_min", "sort")
#: What a person searches by: carried in the list's links, never saved in a view.
SEARCH_FIELDS: tuple[str, ...] = ("q", "order_no", "recipient", "phone")
#: The longest hold code the hub stores (``order_holds.code``).
MAX_HOLD_CODE = 50
_STATUSES = frozenset(s.value for s in OrderStatus)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field: a stable ``code`` (the console translates it) and English words."""

    code: str
    message: str


def form_values(params: dict[str, str], *, search: bool = True) -> dict[str, str]:
    """The form's fields that have a value (trimmed), in form order; anything else is dropped (the
    search fields too unless ``search``)."""
    names = (*SEARCH_FIELDS, *FORM_FIELDS) if search else FORM_FIELDS
    values = {name: str(params.get(name) or "").strip() for name in names}
    return {name: value for name, value in values.items() if value}


def form_problems(values: dict[str, str]) -> dict[str, Problem]:
    """One problem per bad field (nothing for an empty form or a good one)."""
    problems: dict[str, Problem] = {}
    status = values.get("status")
    if status and status not in _STATUSES:
        problems["status"] = Problem("unknown_status", f"unknown status {status[:40]!r}; choose one from the list")
    day = values.get("date")
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            problems["date"] = Problem("bad_date", "a day reads YYYY-MM-DD, e.g. 2026-11-11")
    if values.get("sort") and values["sort"] not in SORTS:
        problems["sort"] = Problem("unknown_sort", f"sort must be one of {', '.join(SORTS)}")
    priority = values.get("priority_min")
    if priority and not (priority.lstrip("-").isdigit() and -9 <= int(priority) <= 9):
        problems["priority_min"] = Problem("bad_priority", "a priority is a whole number from -9 to 9")
    phone = values.get("phone")
    if phone and len(normalise_phone(phone)) not in (4, *range(5, 21)):
        problems["phone"] = Problem("bad_phone", "the full phone or its last 4 digits")
    limits = {"shop": MAX_TEXT, "platform": MAX_TEXT, "buyer": MAX_TEXT, "sku": MAX_TEXT, "hold": MAX_HOLD_CODE,
              "q": MAX_TEXT, "order_no": MAX_TEXT, "recipient": MAX_TEXT, "phone": 40, "user_tag": 40}
    for name, longest in limits.items():
        if len(values.get(name, "")) > longest:
            problems[name] = Problem("too_long", f"at most {longest} characters")
    return problems


def order_filters(values: dict[str, str], zone: ZoneInfo, *, key: bytes | None = None,
                  shops: frozenset[str] | None = None) -> OrderFilters:
    """The query's filters for form values ``form_problems`` found nothing wrong with; a day is the
    merchant's day (``zone``), midnight to midnight. ``key`` (the search key) hashes the search
    fields (without it they are ignored); ``shops`` limits the list to the caller's shops."""
    created_from = created_to = None
    if values.get("date"):
        created_from = datetime.combine(date.fromisoformat(values["date"]), time(0), tzinfo=zone)
        created_to = created_from + timedelta(days=1)
    return OrderFilters(
        status=(values["status"],) if values.get("status") else (),
        shop=values.get("shop") or None, platform=values.get("platform") or None,
        created_from=created_from, created_to=created_to,
        buyer=values.get("buyer") or None, buyer_prefix=True,
        sku=values.get("sku") or None, sku_prefix=True,
        hold=values.get("hold") or None,
        on_hold=True if values.get("held") else None,
        user_tag=values.get("user_tag") or None,
        priority_min=int(values["priority_min"]) if values.get("priority_min") else None,
        shops=shops, **(_search_filters(values, key) if key is not None else {}),
    )


def _search_filters(values: dict[str, str], key: bytes) -> dict[str, Any]:
    return {
        "quick": quick_search(values["q"], key) if values.get("q") else None,
        "order_no": values.get("order_no") or None,
        "recipient_hash": recipient_search(values["recipient"], key) if values.get("recipient") else None,
        "phone": phone_search(values["phone"], key) if values.get("phone") else None,
    }
