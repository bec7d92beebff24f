"""The after-sales issue's "Done when", in ``hub run --demo``: the demo produces cases a person can
decide — the buyers (``hub.demo_aftersales``) open refunds, returns and exchanges on several demo
shops, the rule approves a small refund by itself, and a case waiting for a person is decided
through the API. Asserted over the hub's API while the demo runs at a quickened pace; each wait
ends as soon as what it waits for is there."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.asgi_server import free_port
from hub.demo_fulfilment import PACE_VAR
from hub.services.aftersales.rules import AUTO_APPROVE_ACTOR
from hub.services.aftersales.settings import AfterSalesSection
from tests.e2e.test_demo_fulfilment import Api
from tests.e2e.test_demo_restart import Demo

DEADLINE_S = 120.0  # generous for a shared machine; typically done in well under half a minute
WAIT_EVERY_S = 0.5  # each look reads several cases' details: not too often
#: What a person decides first on a case waiting for them, by the actions the hub allows.
FIRST_DECISIONS = ("approve_refund", "agree_return", "agree_exchange")


def _cases(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("aftersales", limit="200", sort="applied")["items"]
    return items


def _varied(api: Api) -> list[dict[str, Any]] | None:
    """The cases, once they are of two kinds or more from three demo platforms or more."""
    cases = _cases(api)
    kinds, platforms = {c["type"] for c in cases}, {c["platform"] for c in cases}
    return cases if len(kinds) >= 2 and len(platforms) >= 3 else None


def _auto_approved(api: Api) -> dict[str, Any] | None:
    """A refund-only case the rule decided (its decision taken by the rule's actor)."""
    for case in _cases(api):
        if case["type"] != "refund_only":
            continue
        detail = api.get(f"aftersales/{case['id']}")
        if any(d["actor"] == AUTO_APPROVE_ACTOR for d in detail["decisions"]):
            return dict(detail)
    return None


def _waiting_for_a_person(api: Api) -> tuple[dict[str, Any], str] | None:
    """A requested case (the rule left it) and the first decision the hub allows on it."""
    for case in api.get("aftersales", status="requested", limit="50")["items"]:
        detail = api.get(f"aftersales/{case['id']}")
        allowed = [a["action"] for a in detail["allowed"]]
        action = next((a for a in FIRST_DECISIONS if a in allowed), None)
        if action is not None and not any(d["actor"] == AUTO_APPROVE_ACTOR for d in detail["decisions"]):
            return dict(detail), action
    return None


@pytest.mark.timeout(DEADLINE_S + 120)
def test_the_demo_opens_cases_of_several_kinds_approves_a_small_refund_and_a_person_decides_one(
    tmp_path: Path,
) -> None:
    demo = Demo(tmp_path, free_port(), 1, env={PACE_VAR: "0.3"})
    try:
        api = Api(demo, demo.admin_key())
        deadline = time.monotonic() + DEADLINE_S
        cases = demo.wait_for("cases of several kinds and platforms", lambda: _varied(api),
                              deadline=deadline, every_s=WAIT_EVERY_S)
        approved = demo.wait_for("a small refund approved by the rule", lambda: _auto_approved(api),
                                 deadline=deadline, every_s=WAIT_EVERY_S)
        waiting, action = demo.wait_for("a case waiting for a person", lambda: _waiting_for_a_person(api),
                                        deadline=deadline, every_s=WAIT_EVERY_S)
        answer = httpx.post(f"{demo.base}/api/v1/aftersales/{waiting['id']}/decisions", json={"action": action},
                            headers={**api.headers, "Idempotency-Key": f"demo-test-{waiting['id']}"}, timeout=30)
        decided = api.get(f"aftersales/{waiting['id']}")
    finally:
        demo.stop()

    assert {c["shop"] for c in cases} <= {"demo-taobao", "demo-tmall", "demo-douyin", "demo-aliexpress"}
    assert all(c["order_id"] for c in cases), "every demo case is on an order the hub knows"
    # The rule: a refund-only case below [aftersales] auto_approve_refund_below, nothing shipped.
    assert approved["type"] == "refund_only" and approved["refund_amount"] is not None
    assert float(approved["refund_amount"]["amount"]) < 30
    assert approved["status"] in ("approved", "refunding", "refunded"), approved["status"]
    # A person's decision through the API, written back to the demo shop's sandbox.
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] == action and body["state"] in ("done", "recorded"), body
    assert body["status"] != "requested" and decided["status"] == body["status"]
    assert any(d["action"] == action and d["actor"] for d in decided["decisions"]), decided["decisions"]
    # hub-demo.toml carries the section, so `hub --config hub-demo.toml aftersales ...` decides alike.
    section = AfterSalesSection.model_validate(tomllib.loads((tmp_path / "hub-demo.toml").read_text())["aftersales"])
    assert section.auto_approve_refund_below is not None and section.deadline_alert_hours > 48
    assert set(section.return_addresses) >= {c["shop"] for c in cases}
    assert all(address.address_id for address in section.return_addresses.values())
