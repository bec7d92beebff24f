"""Every kind of history entry the services write has words in the console's catalogues, in both
languages: an order's history (``code.event.<kind>``), a case's (``aftersales.event.<kind>``) and a
service order's (``service_orders.event.<kind>``) never show a raw code to staff. The kinds are
read from the services' source, so a new kind without words fails here rather than on a merchant's
screen."""

from __future__ import annotations

import re
from pathlib import Path

from hub.console.i18n import CATALOGUES

SERVICES = Path(__file__).resolve().parents[2] / "hub" / "services"
#: ``kind="…"`` (an event row or a helper taking it by name), or the kind a history helper takes
#: right after the order / case id: ``_event(oid, "merge_planned", …)``, ``add_event(session, id, "reported")``.
PATTERNS = (
    re.compile(r"\bkind=\"([a-z_]+)\""),
    re.compile(r"\b_events?\(\s*[\w.\[\]]+,\s*\"([a-z_]+)\""),
    re.compile(r"\badd_event\(\s*session,\s*[\w.\[\]]+,\s*\"([a-z_]+)\""),
)
#: Kinds that name something else than a history entry (a delivery order's kind, a plan's).
NOT_EVENTS = {"own", "wms", "merge", "split", "separate"}


def _kinds() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SERVICES.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in PATTERNS:
            for kind in pattern.findall(text):
                if kind not in NOT_EVENTS:
                    found.setdefault(kind, set()).add(path.name)
    return found


def test_the_scan_finds_the_kinds_it_is_meant_to() -> None:
    kinds = _kinds()
    assert {"reported", "decided", "waybill_issued", "merge_planned", "routed"} <= set(kinds)


def test_every_history_kind_has_words_in_both_languages() -> None:
    missing = []
    for kind, files in sorted(_kinds().items()):
        for language, catalogue in CATALOGUES.items():
            if not any(f"{prefix}.event.{kind}" in catalogue for prefix in ("code", "aftersales", "service_orders")):
                missing.append(f"{kind} ({language}; written in {', '.join(sorted(files))})")
    assert not missing, "history kinds without console words: " + "; ".join(missing)


#: The kinds a service order's history holds (``ServiceOrderEventRow.kind``), whichever part writes them.
SERVICE_ORDER_KINDS = {"reported", "created", "step", "assigned", "unassigned", "written_back", "recorded_only",
                       "write_failed", "sla", "alert"}


def test_every_service_order_history_kind_has_its_own_words_in_both_languages() -> None:
    written = {kind for kind, files in _kinds().items()
               if any((SERVICES / "service_orders" / name).exists() for name in files)}
    missing = [f"{kind} ({language})" for kind in sorted(SERVICE_ORDER_KINDS | written)
               for language, catalogue in CATALOGUES.items() if f"service_orders.event.{kind}" not in catalogue]
    assert not missing, "service-order history kinds without console words: " + "; ".join(missing)
