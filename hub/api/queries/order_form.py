"""The orders list's filters as a person types them: the console's filter form and the saved views
that remember it. Strings in; the query's ``OrderFilters`` and one ``Problem`` per bad field out.

Buyer and SKU match the *start* of the nick / merchant SKU (case-sensitive), so a person can type
part of one; both are served by indexes (``hub.api.queries.orders``). Not for the API's own list
parameters, which FastAPI validates (and which match buyer and SKU exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts.orders import OrderStatus
from hub.api.params import MAX_TEXT
from hub.api.queries.orders import OrderFilters

#: The form's fields, in the order the form shows them.
FORM_FIELDS: tuple[str, ...] = ("status", "shop", "platform", "date", "buyer", "sku", "hold", "held")
#: The longest hold code the hub stores (``order_holds.code``).
MAX_HOLD_CODE = 50
_STATUSES = frozenset(s.value for s in OrderStatus)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field: a stable ``code`` (the console translates it) and English words."""

    code: str
    message: str


def form_values(params: dict[str, str]) -> dict[str, str]:
    """The form's fields that have a value (trimmed), in form order; anything else is dropped."""
    values = {name: str(params.get(name) or "").strip() for name in FORM_FIELDS}
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
    limits = {"shop": MAX_TEXT, "platform": MAX_TEXT, "buyer": MAX_TEXT, "sku": MAX_TEXT, "hold": MAX_HOLD_CODE}
    for name, longest in limits.items():
        if len(values.get(name, "")) > longest:
            problems[name] = Problem("too_long", f"at most {longest} characters")
    return problems


def order_filters(values: dict[str, str], zone: ZoneInfo) -> OrderFilters:
    """The query's filters for form values ``form_problems`` found nothing wrong with; a day is the
    merchant's day (``zone``), midnight to midnight."""
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
    )
