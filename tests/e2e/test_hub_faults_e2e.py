"""Partner faults through the whole hub: TOP throttling (code 7 with a ban) and ISP errors are
ridden out with every order landing once; an invalid session pauses the shop, the API shows why,
and an admin resumes it (``POST /api/v1/shops/{shop}/resume``) after re-authorising, with nothing
lost. Taobao sandbox over real HTTP, real workers, the API under uvicorn; SQLite + in-process
queue and PostgreSQL + the real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.db import api_keys
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    count_orders,
    dead_letters,
    e2e_config,
    e2e_hub,
    eventually,
    hub_api,
    orders_for,
    pumping,
    served_sandboxes,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def _all_landed_once(hub: Any, shop: str, tids: list[str]) -> bool:
    counts = [len(await orders_for(hub, shop, tid)) for tid in tids]
    assert all(c <= 1 for c in counts), f"an order was stored twice: {counts}"
    return all(c == 1 for c in counts)


async def test_throttling_and_isp_errors_are_ridden_out_and_every_order_lands_once(backend: Backend) -> None:
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox
        try:
            async with pumping(hub, consume=[shop], poll=[shop]):
                first = box.create_order(shop, "E2E-TEE", 1)
                await eventually(lambda: _all_landed_once(hub, shop, [first]), what="the first order")
                # A promotion night: the app is banned for 2 s (TOP code 7), then the gateway
                # answers isp.top-remote-service-unavailable for a while.
                box.inject_fault("throttle", 3, seconds=2)
                box.inject_fault("unavailable", 6)
                during = [box.create_order(shop, "E2E-TEE", 1) for _ in range(5)]
                await eventually(lambda: _all_landed_once(hub, shop, [first, *during]), timeout_s=60,
                                 what="every order created during the fault")
                assert not box.gateway.faults, "the faults were really served"
            assert await count_orders(hub, shop) == 6
            assert [(d.actor, d.reason) for d in await dead_letters(hub)] == []
            async with hub_api(hub) as (client, _):
                shops = {s["name"]: s for s in (await client.get("/api/v1/shops")).json()}
            assert shops[shop]["status"] != "paused", "throttling must not pause the shop"
        finally:
            await close_test_loop(hub)


async def test_invalid_session_pauses_the_shop_with_the_reason_and_resume_brings_everything_in(
    backend: Backend,
) -> None:
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox
        try:
            async with hub_api(hub) as (client, _), pumping(hub, consume=[shop], poll=[shop]):
                before = box.create_order(shop, "E2E-TEE", 1)
                await eventually(lambda: _all_landed_once(hub, shop, [before]), what="the first order")
                box.inject_fault("auth", 10_000)  # the seller's session is invalid until re-authorised
                while_invalid = box.create_order(shop, "E2E-TEE", 1)

                async def paused() -> dict[str, Any] | None:
                    found = {s["name"]: s for s in (await client.get("/api/v1/shops")).json()}[shop]
                    return found if found["status"] == "paused" else None

                status = await eventually(paused, what="the shop shown as paused")
                assert "re-authorise" in status["paused_reason"] and "27" in status["paused_reason"]
                calls = len(box.gateway.faults)
                await asyncio.sleep(1.0)
                assert calls - len(box.gateway.faults) <= 2, "a paused shop is not hammered with calls"
                assert await orders_for(hub, shop, while_invalid) == []

                async with hub.database().transaction() as session:
                    viewer, _ = await api_keys.create_key(session, name="viewer", role="viewer")
                refused = await client.post(f"/api/v1/shops/{shop}/resume",
                                            headers={"Authorization": f"Bearer {viewer}"})
                assert refused.status_code == 403
                assert (await client.post("/api/v1/shops/no-such-shop/resume")).status_code == 404

                with box.lock:
                    box.gateway.faults.clear()  # the merchant re-authorised the app
                permits = box.gateway.calls.count("taobao.tmc.user.permit")
                resumed = await client.post(f"/api/v1/shops/{shop}/resume")
                assert resumed.status_code == 200, resumed.text
                assert resumed.json()["paused_reason"] is None
                # Not "active" yet: the re-authorised session must be permitted for TMC first.
                assert resumed.json()["status"] == "degraded" and resumed.json()["message_channel"]["open"] is False

                async def active() -> dict[str, Any] | None:
                    found = {s["name"]: s for s in (await client.get("/api/v1/shops")).json()}[shop]
                    return found if found["status"] == "active" else None

                shown = await eventually(active, what="the shop active again, its channel reopened")
                assert shown["message_channel"]["open"] is True
                assert box.gateway.calls.count("taobao.tmc.user.permit") > permits, "permitted again after resume"
                after = box.create_order(shop, "E2E-TEE", 1)
                await eventually(lambda: _all_landed_once(hub, shop, [before, while_invalid, after]),
                                 timeout_s=60, what="every order, including the one from the paused time")
            assert await count_orders(hub, shop) == 3
            assert [(d.actor, d.reason) for d in await dead_letters(hub)] == []
        finally:
            await close_test_loop(hub)
