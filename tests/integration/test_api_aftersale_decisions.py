"""Deciding after-sale cases over the API, on SQLite and PostgreSQL: 200 when the platform took
it (the same Idempotency-Key again answers the first outcome), 202 while a timed-out write-back
waits, 409 with the platform's current case, 422 naming the field, 404, the decision's state,
the refuse reasons, multipart proof files (type and size limits), and the roles."""

from __future__ import annotations

from sqlalchemy import select

from contracts import AfterSaleStatus, AfterSaleType
from hub.db.tables import AfterSaleRow
from hub.testing.api import api_client, bearer, new_key
from tests.integration.aftersales_decisions_support import fast_retries, stock_in, world

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_a_decision_over_the_api_is_taken_once_per_key(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, case = await w.case(order)
        key = await new_key(w.hub, "operator")
        async with api_client(w.hub) as client:
            headers = {**bearer(key), "Idempotency-Key": "click-1"}
            first = await client.post(f"/api/v1/aftersales/{case_id}/decisions", json={"action": "approve_refund"},
                                      headers=headers)
            assert first.status_code == 200, first.text
            body = first.json()
            assert (body["state"], body["status"], body["written_back"], body["repeated"]) == \
                ("done", "refunding", True, False)
            again = await client.post(f"/api/v1/aftersales/{case_id}/decisions", json={"action": "approve_refund"},
                                      headers=headers)
            assert again.status_code == 200 and again.json()["repeated"] is True
            assert again.json()["action_id"] == body["action_id"]
            state = await client.get(f"/api/v1/aftersales/{case_id}/decisions/{body['action_id']}",
                                     headers=bearer(key))
            assert state.status_code == 200
            assert state.json()["state"] == "done" and state.json()["actor"].startswith("apikey:")
            missing = await client.get(f"/api/v1/aftersales/{case_id}/decisions/999999", headers=bearer(key))
            assert missing.status_code == 404
        assert w.platform(w.shop).taken(case.ref.external_id) == ["approve_refund"]


async def test_api_answers_pending_conflict_bad_input_and_not_found(database_url: str) -> None:
    with world(database_url) as w, fast_retries():
        _, order = await w.order([("SKU-1", 2)])
        key = bearer(await new_key(w.hub, "operator"))
        async with api_client(w.hub) as client:
            slow_case, _ = await w.case(order)
            w.platform(w.shop).timeouts = 3
            pending = await client.post(f"/api/v1/aftersales/{slow_case}/decisions",
                                        json={"action": "approve_refund"}, headers=key)
            assert pending.status_code == 202 and pending.json()["state"] == "pending"

            moved_case, moved = await w.case(order)
            w.platform(w.shop).move(moved.ref.external_id, AfterSaleStatus.CLOSED)
            conflict = await client.post(f"/api/v1/aftersales/{moved_case}/decisions",
                                         json={"action": "refuse", "reason_id": "R1"}, headers=key)
            assert conflict.status_code == 409
            assert conflict.json()["current"]["status"] == "closed" and conflict.json()["detail"]
            async with w.hub.database().session() as session:
                assert await session.scalar(select(AfterSaleRow.status).where(AfterSaleRow.id == moved_case)) == \
                    "requested"

            open_case, _ = await w.case(order)
            too_much = await client.post(f"/api/v1/aftersales/{open_case}/decisions",
                                         json={"action": "approve_refund", "refund_amount": "100.00"}, headers=key)
            assert too_much.status_code == 422 and too_much.json()["field"] == "refund_amount"
            not_now = await client.post(f"/api/v1/aftersales/{open_case}/decisions",
                                        json={"action": "ship_exchange"}, headers=key)
            assert not_now.status_code == 422 and not_now.json()["field"] == "action"
            malformed = await client.post(f"/api/v1/aftersales/{open_case}/decisions",
                                          json={"action": "refuse", "quality": [{"position": -1}]}, headers=key)
            assert malformed.status_code == 422 and malformed.json()["field"].startswith("body.quality")
            unknown = await client.post("/api/v1/aftersales/987654/decisions", json={"action": "refuse"},
                                        headers=key)
            assert unknown.status_code == 404
            as_text = await client.post(f"/api/v1/aftersales/{open_case}/decisions", content=b"action=refuse",
                                        headers={**key, "Content-Type": "text/plain"})
            assert as_text.status_code == 415

            w.hub.config.aftersales.writeback_max_attempts = 1
            given_up_case, _ = await w.case(order)
            w.platform(w.shop).timeouts = 3
            given_up = await client.post(f"/api/v1/aftersales/{given_up_case}/decisions",
                                         json={"action": "approve_refund"}, headers=key)
            assert given_up.status_code == 502 and "gave up after 1 attempts" in given_up.json()["detail"]


async def test_a_refusal_with_proof_files_as_multipart(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, _ = await w.case(order)
        key = bearer(await new_key(w.hub, "operator"))
        async with api_client(w.hub) as client:
            reasons = await client.get(f"/api/v1/aftersales/{case_id}/refuse-reasons", headers=key)
            assert reasons.status_code == 200 and reasons.json()[0] == {
                "id": "R1", "text": "goods not as described by the buyer", "proof_required": True, "hint": None}
            url = f"/api/v1/aftersales/{case_id}/decisions"
            wrong_type = await client.post(url, data={"action": "refuse", "reason_id": "R1"},
                                           files=[("proof", ("a.txt", b"hello", "text/plain"))], headers=key)
            assert wrong_type.status_code == 415 and wrong_type.json()["field"] == "proof[0]"
            too_big = await client.post(url, data={"action": "refuse", "reason_id": "R1"},
                                        files=[("proof", ("a.png", PNG + b"\x00" * 600_000, "image/png"))],
                                        headers=key)
            assert too_big.status_code == 413
            ok = await client.post(url, data={"action": "refuse", "reason_id": "R1", "remark": "see photo"},
                                   files=[("proof", ("a.png", PNG, "image/png")),
                                          ("proof", ("b.png", PNG, "image/png"))],
                                   headers=key)
            assert ok.status_code == 200, ok.text
            assert ok.json()["status"] == "rejected"
        sent = w.platform(w.shop).decisions[-1]
        assert [p.filename for p in sent.proof] == ["a.png", "b.png"] and sent.proof[0].content == PNG


async def test_receiving_goods_over_multipart_with_quality(database_url: str) -> None:
    with world(database_url) as w:
        await stock_in(w.hub, "MUG", 1)
        _, order = await w.order([("MUG", 2)])
        case_id, _ = await w.case(order, type=AfterSaleType.RETURN_AND_REFUND, status=AfterSaleStatus.AWAITING_RETURN)
        key = bearer(await new_key(w.hub, "operator"))
        async with api_client(w.hub) as client:
            got = await client.post(f"/api/v1/aftersales/{case_id}/decisions",
                                    data={"action": "confirm_return",
                                          "quality": '[{"position": 1, "good": 1, "damaged": 1}]'},
                                    files=[("proof", ("a.png", PNG, "image/png"))], headers=key)
            assert got.status_code == 200, got.text
            assert sorted((m["warehouse"], m["quantity"]) for m in got.json()["stock"]) == [("defective", 1),
                                                                                            ("main", 1)]


async def test_deciding_needs_the_orders_write_permission(database_url: str) -> None:
    with world(database_url) as w:
        _, order = await w.order([("SKU-1", 1)])
        case_id, _ = await w.case(order)
        viewer = bearer(await new_key(w.hub, "viewer"))
        async with api_client(w.hub) as client:
            refused = await client.post(f"/api/v1/aftersales/{case_id}/decisions", json={"action": "approve_refund"},
                                        headers=viewer)
            assert refused.status_code == 403
            assert (await client.get(f"/api/v1/aftersales/{case_id}/refuse-reasons", headers=viewer)).status_code \
                == 200
