"""The after-sales screens through the app in-process: the cases list (due
soonest first, overdue and soon marked, open only by default, filters, a bad cursor named), a case
page (summary, evidence, a form per allowed action, recorded-only actions said so), the decision
forms (an approved refund reaches ``decide`` under the signed-in person's name with the form's key;
a bad amount or a refused field named beside the form (422); a conflict shows the platform's state
(409); a refusal's proof files sent as multipart; returned quality per line), a viewer refused,
the order page's panel, the figures, and Chinese words.

The after-sales services are stubs on this branch: ``FakeAftersales`` stands in for
``queries``/``decisions``/``figures`` over cases stored through the public intake.
On SQLite only: the after-sales services it calls are tested on both databases (test_aftersale_*)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts.aftersales import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType
from contracts.money import Money
from contracts.refs import ChannelRef
from hub.context import Hub
from hub.db.tables import OrderRow
from hub.errors import BadInputError, ShopPausedError
from hub.services.aftersales.decisions import CaseConflictError
from hub.testing.api import new_key
from tests.integration.console_aftersales_fakes import FakeAftersales, seed_case
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
)
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, aftersales={"deadline_alert_hours": 12, "return_addresses": {
        "shop-a": {"address_id": "88", "name": "售后仓", "city": "杭州市", "detail": "文一西路 1 号"}}})
    yield h
    await close_hub(h)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAftersales:
    f = FakeAftersales()
    f.install(monkeypatch)
    return f


def case(external_id: str, *, type_: AfterSaleType = AfterSaleType.REFUND_ONLY,
         status: AfterSaleStatus = AfterSaleStatus.REQUESTED, due_in: timedelta | None = None,
         order: str = "T-1", shop: str = "shop-a", **fields: Any) -> AfterSale:
    """A case reported now; ``due_in`` from now (tests give half a minute past whole minutes, so a
    page drawn a few seconds later reads the same time left)."""
    now = datetime.now(UTC)
    return AfterSale(
        ref=ChannelRef(platform="fake", shop=shop, external_id=external_id),
        order_ref=ChannelRef(platform="fake", shop=shop, external_id=order), type=type_, status=status,
        raw_status="WAIT_SELLER_AGREE", refund_amount=Money(amount="25.50", currency="CNY"), reason="不想要了",
        lines=[AfterSaleLine(merchant_sku="MUG", quantity=2, refund_amount=Money(amount="25.50"))],
        created_at=now - timedelta(hours=5), updated_at=now - timedelta(hours=1),
        deadline=now + due_in if due_in is not None else None, **fields)


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str = "operator", name: str = "alice") -> None:
    assert (await _sign_in_with_key(client, await new_key(hub, role, name))).status_code == 303


def _form(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the decision form for ``action`` on ``page`` (token, key, action)."""
    found = re.search(rf'data-testid="form-{action}".*?</form>', page, re.S)
    assert found, f"no {action} form on the page"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', found.group(0)))


async def test_the_list_shows_open_cases_due_soonest_first_with_time_left(hub: Hub, fake: FakeAftersales) -> None:
    later = await seed_case(hub, case("C-LATER", due_in=timedelta(days=3, hours=2, seconds=30)))
    soon = await seed_case(hub, case("C-SOON", due_in=timedelta(hours=2, minutes=30, seconds=30)))
    overdue = await seed_case(hub, case("C-LATE", due_in=-timedelta(hours=1, minutes=10, seconds=1)))
    closed = await seed_case(hub, case("C-DONE", status=AfterSaleStatus.CLOSED, due_in=-timedelta(days=1)))
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = await client.get("/console/aftersales")
        everything = await client.get("/console/aftersales?f=1")
        exchanges = await client.get("/console/aftersales?f=1&type=exchange")
        bad = await client.get("/console/aftersales?f=1&cursor=not-ours")
        chinese = await client.get("/console/aftersales", headers={"accept-language": "zh-CN"})
    assert page.status_code == 200
    rows = re.findall(r'data-testid="case-(\d+)"', page.text)
    assert rows == [str(overdue), str(soon), str(later)], "due soonest first; the closed case is not open"
    assert re.search(rf'class="due-overdue" data-testid="case-{overdue}"', page.text)
    assert re.search(rf'class="due-soon" data-testid="case-{soon}"', page.text)
    assert re.search(rf'class="due-later" data-testid="case-{later}"', page.text)
    assert "overdue by 1 h 10 min" in page.text and "3 d 2 h left" in page.text
    assert "2 h 30 min left" in page.text
    assert "Refund only" in page.text and "¥25.50" in page.text and f'href="/console/aftersales/{soon}"' in page.text
    assert str(closed) in re.findall(r'data-testid="case-(\d+)"', everything.text)
    assert 'data-testid="no-cases"' in exchanges.text
    assert bad.status_code == 422 and "out of date" in bad.text
    assert "仅退款" in chinese.text and "已超时 1 小时 10 分" in chinese.text
    assert "售后单（最先到期的在前）" in chinese.text


async def test_the_case_page_shows_the_case_and_a_form_per_allowed_action(hub: Hub, fake: FakeAftersales) -> None:
    refund = await seed_case(hub, case("C-1", due_in=timedelta(hours=29, seconds=30), description="杯子有裂纹",
                                       evidence=["https://img.example/1.jpg", "javascript:alert(1)"],
                                       max_refund=Money(amount="30.00")))
    reissue = await seed_case(hub, case("C-2", type_=AfterSaleType.REISSUE))
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = await client.get(f"/console/aftersales/{refund}")
        other = await client.get(f"/console/aftersales/{reissue}")
        chinese = await client.get(f"/console/aftersales/{reissue}", headers={"accept-language": "zh-CN"})
        missing = await client.get("/console/aftersales/999999")
    assert page.status_code == 200
    assert "杯子有裂纹" in page.text and 'href="https://img.example/1.jpg"' in page.text
    assert "javascript:" not in page.text, "only web addresses become links"
    assert "¥30.00" in page.text and "1 d 5 h left" in page.text
    assert 'data-testid="form-approve_refund"' in page.text and 'data-testid="form-refuse"' in page.text
    assert 'name="refund_amount" inputmode="decimal" value="25.50"' in page.text
    assert 'enctype="multipart/form-data"' in page.text and "商品无质量问题 (proof needed)" in page.text
    assert 'data-testid="recorded-only-' not in page.text
    assert 'data-testid="form-reissue"' in other.text and 'data-testid="recorded-only-reissue"' in other.text
    assert "售后单 " in chinese.text and "补发" in chinese.text and "平台没有此步骤的接口" in chinese.text
    assert "按订单规则分仓" in chinese.text and "拒绝" in chinese.text
    assert missing.status_code == 404 and "There is no after-sale case 999999." in missing.text


async def test_approving_a_refund_through_the_form_decides_as_the_signed_in_person(
        hub: Hub, fake: FakeAftersales) -> None:
    case_id = await seed_case(hub, case("C-1", due_in=timedelta(hours=3)))
    here = f"/console/aftersales/{case_id}"
    async with _app(hub) as client:
        await _signed_in(client, hub, name="alice")
        hidden = _form((await client.get(here)).text, "approve_refund")
        stale = await client.post(f"{here}/decide", data={**hidden, "csrf_token": "stale", "refund_amount": "20"})
        assert stale.status_code == 403 and not fake.decided
        done = await client.post(f"{here}/decide", data={**hidden, "refund_amount": "20.00", "remark": "ok"})
        again = await client.post(f"{here}/decide", data={**hidden, "refund_amount": "20.00"})
        after = await client.get(done.headers["location"])
    assert done.status_code == 303 and done.headers["location"].startswith(here + "?")
    [(decided_case, decision, actor, key, cause)] = fake.decided
    assert (decided_case, decision.action, decision.refund_amount, decision.remark, cause) == (
        case_id, "approve_refund", Decimal("20.00"), "ok", "console")
    assert "alice" in actor and key == hidden["key"]
    assert "repeated=1" in again.headers["location"], "the same form sent twice is one decision"
    assert "Approve refund: written back to the platform." in after.text
    assert 'data-testid="case-decisions"' in after.text


async def test_a_refused_decision_shows_the_problem_beside_its_form(hub: Hub, fake: FakeAftersales) -> None:
    case_id = await seed_case(hub, case("C-1"))
    here = f"/console/aftersales/{case_id}"
    async with _app(hub) as client:
        await _signed_in(client, hub)
        hidden = _form((await client.get(here)).text, "approve_refund")
        typo = await client.post(f"{here}/decide", data={**hidden, "refund_amount": "abc"})
        fake.refusal = BadInputError("refund_amount: 40.00 is more than the 25.50 paid", field="refund_amount")
        too_much = await client.post(f"{here}/decide", data={**hidden, "refund_amount": "40"})
        fake.refusal = CaseConflictError("case C-1 was closed by the buyer",
                                         current={"status": "closed", "raw_status": "CLOSED"})
        conflict = await client.post(f"{here}/decide", data={**hidden, "refund_amount": "20"})
        no_reason = await client.post(f"{here}/decide", data={**_form(typo.text, "refuse"), "reason_text": " "})
        fake.refusal = ShopPausedError("shop-a", "session invalid (TOP code 27); re-authorise the shop")
        paused = await client.post(f"{here}/decide", data={**hidden, "refund_amount": "20"})
        fake.refusal = BadInputError("action: reissue is not allowed on a refund_only case now", field="action")
        not_offered = await client.post(f"{here}/decide", data={**hidden, "action": "reissue"})
    assert typo.status_code == 422 and not fake.decided
    assert "refund_amount: give an amount above zero" in typo.text and 'value="abc"' in typo.text
    assert 'data-testid="amount-approve_refund" aria-invalid="true"' in typo.text
    assert too_much.status_code == 422 and "is more than the 25.50 paid" in too_much.text
    assert conflict.status_code == 409 and "case C-1 was closed by the buyer" in conflict.text
    assert 'data-testid="conflict-current"' in conflict.text and "Closed" in conflict.text
    assert no_reason.status_code == 422 and "choose a reason or explain in words" in no_reason.text
    assert paused.status_code == 502 and "re-authorise the shop" in paused.text
    assert not_offered.status_code == 422 and 'data-testid="problem-elsewhere"' in not_offered.text
    assert "Reissue</strong>: action: reissue is not allowed" in not_offered.text


async def test_a_refusal_carries_its_reason_and_proof_files(hub: Hub, fake: FakeAftersales) -> None:
    case_id = await seed_case(hub, case("C-1"))
    here = f"/console/aftersales/{case_id}"
    async with _app(hub) as client:
        await _signed_in(client, hub)
        hidden = _form((await client.get(here)).text, "refuse")
        sent = await client.post(f"{here}/decide", data={**hidden, "reason_id": "r-2", "reason_text": "完好"},
                                 files=[("proof", ("cup.png", b"\x89PNG-bytes", "image/png"))])
    assert sent.status_code == 303
    [(_, decision, _, _, _)] = fake.decided
    assert (decision.action, decision.reason_id, decision.reason_text) == ("refuse", "r-2", "完好")
    assert [(p.filename, p.content_type, p.content) for p in decision.proof] == [
        ("cup.png", "image/png", b"\x89PNG-bytes")]


async def test_confirming_a_return_sends_the_quality_of_each_line(hub: Hub, fake: FakeAftersales) -> None:
    case_id = await seed_case(hub, case("C-1", type_=AfterSaleType.RETURN_AND_REFUND,
                                        status=AfterSaleStatus.AWAITING_RETURN, return_tracking_number="SF123"))
    here = f"/console/aftersales/{case_id}"
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = (await client.get(here)).text
        sent = await client.post(f"{here}/decide", data={**_form(page, "confirm_return"), "good_1": "1",
                                                         "damaged_1": "1", "refund_amount": "25.50"})
        bad = await client.post(f"{here}/decide", data={**_form(page, "confirm_return"), "good_1": "-1"})
    assert "SF123" in page and 'name="damaged_1"' in page and 'data-testid="form-refuse_return"' in page
    assert sent.status_code == 303
    [(_, decision, _, _, _)] = fake.decided
    assert [(q.position, q.good, q.damaged) for q in decision.quality] == [(1, 1, 1)]
    assert bad.status_code == 422 and "good_1: give a whole number" in bad.text


async def test_a_viewer_reads_cases_but_is_offered_no_decision_and_refused_one(hub: Hub, fake: FakeAftersales) -> None:
    case_id = await seed_case(hub, case("C-1"))
    async with _app(hub) as client:
        await _signed_in(client, hub, role="viewer", name="val")
        page = await client.get(f"/console/aftersales/{case_id}")
        refused = await client.post(f"/console/aftersales/{case_id}/decide",
                                    data={"csrf_token": _csrf(page.text), "action": "approve_refund"})
    assert page.status_code == 200 and 'data-testid="read-only"' in page.text
    assert 'data-testid="form-approve_refund"' not in page.text
    assert refused.status_code == 403 and not fake.decided


async def test_the_order_page_panel_lists_the_orders_cases(hub: Hub, fake: FakeAftersales) -> None:
    order_id = await place_order(hub, [("MUG", 2)])
    async with hub.database().session() as session:
        external = await session.scalar(select(OrderRow.external_id).where(OrderRow.id == order_id))
    case_id = await seed_case(hub, case("C-1", order=str(external), due_in=timedelta(hours=1, seconds=30)))
    other_order = await place_order(hub, [("MUG", 1)])
    async with _app(hub) as client:
        await _signed_in(client, hub)
        order_page = await client.get(f"/console/orders/{order_id}")
        panel = await client.get(f"/console/orders/{order_id}/panel/aftersales")
        empty = await client.get(f"/console/orders/{other_order}/panel/aftersales")
    assert f'hx-get="/console/orders/{order_id}/panel/aftersales"' in order_page.text
    assert f'href="/console/aftersales/{case_id}"' in panel.text and "Requested" in panel.text
    assert "1 h 0 min left" in panel.text
    assert empty.status_code == 200 and empty.text == ""


async def test_the_figures_show_rates_a_chart_and_reasons(hub: Hub, fake: FakeAftersales) -> None:
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = await client.get("/console/aftersales/figures?period=90")
        chinese = await client.get("/console/aftersales/figures?period=bogus", headers={"accept-language": "zh-CN"})
    assert page.status_code == 200
    assert 'data-testid="rates-sku"' in page.text and 'data-testid="rates-shop"' in page.text
    assert "7.5%" in page.text and "¥450.00" in page.text and "不想要了" in page.text and "58.3%" in page.text
    assert '<option value="90" selected>' in page.text and 'id="aftersales-chart"' in page.text
    assert '"labels": ["MUG", "TEE"]' in page.text and '"data": [7.5, 2.5]' in page.text
    assert "退款率" in chinese.text and '<option value="30" selected>' in chinese.text


async def test_agreeing_to_a_return_says_which_address_the_buyer_gets(hub: Hub, fake: FakeAftersales) -> None:
    configured = await seed_case(hub, case("C-1", type_=AfterSaleType.RETURN_AND_REFUND))
    missing = await seed_case(hub, case("C-2", type_=AfterSaleType.EXCHANGE, shop="shop-b"))
    async with _app(hub) as client:
        await _signed_in(client, hub)
        with_address = await client.get(f"/console/aftersales/{configured}")
        without = await client.get(f"/console/aftersales/{missing}")
    assert "售后仓 杭州市 文一西路 1 号 (the platform&#39;s address 88)" in with_address.text
    assert 'data-testid="no-return-address-agree_exchange"' in without.text
    assert "<code>[aftersales.return_addresses.shop-b]</code>" in without.text


async def test_a_filter_the_service_refuses_is_named(hub: Hub, fake: FakeAftersales,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    async def refusing(*args: Any, **kwargs: Any) -> Any:
        raise BadInputError("status: 'lost' is not a case status", field="status")

    monkeypatch.setattr(fake, "list_cases", refusing)
    fake.install(monkeypatch, modules=("queries",))
    async with _app(hub) as client:
        await _signed_in(client, hub)
        page = await client.get("/console/aftersales?status=lost")
    assert page.status_code == 422
    assert "<strong>status</strong>: status: &#39;lost&#39; is not a case status" in page.text


async def test_a_replacement_ships_from_a_warehouse_or_is_told_with_its_parcel(hub: Hub, fake: FakeAftersales) -> None:
    exchange = await seed_case(hub, case("C-1", type_=AfterSaleType.EXCHANGE, status=AfterSaleStatus.RETURNED))
    reissue = await seed_case(hub, case("C-2", type_=AfterSaleType.REISSUE))
    async with _app(hub) as client:
        await _signed_in(client, hub)
        reissue_page = (await client.get(f"/console/aftersales/{reissue}")).text
        hidden = {**_form(reissue_page, "reissue"), "key": "k-ship"}
        half = await client.post(f"/console/aftersales/{exchange}/decide",
                                 data={**hidden, "action": "ship_exchange", "courier_code": "SF"})
        told = await client.post(f"/console/aftersales/{exchange}/decide", data={
            **hidden, "action": "ship_exchange", "courier_code": "SF", "tracking_number": "SF1001"})
        sent = await client.post(f"/console/aftersales/{reissue}/decide", data={**_form(reissue_page, "reissue"),
                                                                                "warehouse": "wh1"})
    assert '<option value="wh1"' in reissue_page
    assert half.status_code == 422 and "tracking_number: give the courier and the tracking number together" in half.text
    assert told.status_code == 303 and sent.status_code == 303
    [(_, shipped, _, _, _), (_, reissued, _, _, _)] = fake.decided
    assert (shipped.action, shipped.courier_code, shipped.tracking_number, shipped.warehouse) == (
        "ship_exchange", "SF", "SF1001", None)
    assert (reissued.action, reissued.warehouse) == ("reissue", "wh1")
