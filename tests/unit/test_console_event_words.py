"""Every kind of history entry the services write has words in the console's catalogues, in both
languages: an order's history (``code.event.<kind>``) and a case's (``aftersales.event.<kind>``)
never show a raw code to staff. The kinds are read from the services' source, so a new kind
without words fails here rather than on a merchant's screen."""

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
            if f"code.event.{kind}" not in catalogue and f"aftersales.event.{kind}" not in catalogue:
                missing.append(f"{kind} ({language}; written in {', '.join(sorted(files))})")
    assert not missing, "history kinds without console words: " + "; ".join(missing)
