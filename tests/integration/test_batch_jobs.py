"""Batch operations: one request over many orders answers per order with partial success stated; a
large batch becomes a job whose progress reaches its total; a chunk run twice applies nothing twice;
shipping from a CSV reports bad rows by number and ships the good ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from contracts import Hold
from hub.api.auth import Principal
from hub.config import HubConfig
from hub.db.tables import OrderEventRow, OrderHoldRow, ShipmentRow
from hub.services import orders
from hub.services.batch import jobs, runner
from hub.services.batch.registry import load_actions
from hub.services.batch.settings import BatchSection
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub

SHOPS = {"shop-a": {"platform": "taobao"}, "shop-b": {"platform": "taobao"}}


def _config(database_url: str, **batch: int) -> HubConfig:
    return hub_config(database_url, shops=SHOPS, batch=BatchSection(**batch))


async def _orders(database: Any, shop: str, count: int, *, held: bool = True) -> list[int]:
    ids = []
    async with database.transaction() as session:
        for _ in range(count):
            result = await orders.apply_order(session, make_order(shop=shop), cause="poll")
            if held:
                await orders.add_hold(session, result.order_id, Hold(code="manual", reason="check"), cause="api")
            ids.append(result.order_id)
    return ids


async def _open_holds(database: Any, ids: list[int]) -> set[int]:
    async with database.session() as session:
        return set((await session.execute(select(OrderHoldRow.order_id).where(
            OrderHoldRow.order_id.in_(ids), OrderHoldRow.released_at.is_(None)))).scalars())


async def test_small_batch_answers_per_order_with_partial_success(database, database_url) -> None:  # type: ignore[no-untyped-def]
    with running_hub(_config(database_url), start_workers=False, relay=False) as hub:
        a, b = await _orders(database, "shop-a", 2)
        (not_held,) = await _orders(database, "shop-a", 1, held=False)
        (other_shop,) = await _orders(database, "shop-b", 1)
        operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
        body = {"action": "release_holds", "ids": [a, b, not_held, 9_999_999], "params": {"code": "manual"}}
        async with api_client(hub) as client:
            assert (await client.post("/api/v1/orders/batch", json=body, headers=bearer(viewer))).status_code == 403
            bad = await client.post("/api/v1/orders/batch", json={**body, "params": {}}, headers=bearer(operator))
            assert bad.status_code == 400 and bad.json()["field"] == "body.params.code"
            answer = await client.post("/api/v1/orders/batch", json=body, headers=bearer(operator))
            assert answer.status_code == 200, answer.text
            actions = (await client.get("/api/v1/batch/actions", headers=bearer(viewer))).json()
        got = answer.json()
        assert (got["succeeded"], got["failed"]) == (2, 2)
        by_id = {r["id"]: r for r in got["results"]}
        assert by_id[str(a)]["ok"] and by_id[str(b)]["ok"]
        assert not by_id[str(not_held)]["ok"] and "no open hold" in by_id[str(not_held)]["message"]
        assert "does not exist" in by_id["9999999"]["message"]
        assert await _open_holds(database, [a, b, other_shop]) == {other_shop}
        assert {"release_holds", "approve", "ship", "print_labels", "decide_aftersales"} <= {x["name"] for x in actions}

        # A caller limited to shop-a cannot touch shop-b's order: "does not exist", still held.
        limited = Principal(key_id=0, name="bob", prefix="", role="operator", shops=frozenset({"shop-a"}))
        action = jobs.action_for("release_holds", limited)
        answered = await jobs.start(hub, limited, action, [other_shop], {"code": "manual"})
        assert isinstance(answered, jobs.Answered)
        assert answered.results[0].message == f"order {other_shop} does not exist" and answered.failed == 1
        assert await _open_holds(database, [other_shop]) == {other_shop}


async def test_large_batch_becomes_a_job_whose_progress_reaches_its_total(database, database_url) -> None:  # type: ignore[no-untyped-def]
    with running_hub(_config(database_url, sync_limit=2, chunk_size=2), start_workers=False, relay=False) as hub:
        ids = await _orders(database, "shop-a", 5)
        operator, other = await new_key(hub, "operator", "alice"), await new_key(hub, "operator", "carol")
        body = {"action": "release_holds", "ids": ids, "params": {"code": "manual"}}
        async with api_client(hub) as client:
            started = await client.post("/api/v1/orders/batch", json=body, headers=bearer(operator))
            assert started.status_code == 202, started.text
            job = started.json()["job"]
            assert (job["status"], job["total"], job["done"]) == ("queued", 5, 0)
            await runner.run_job(hub, job["id"])  # what the run_batch_job actor does
            progress = (await client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(operator))).json()
            assert (progress["status"], progress["done"], progress["succeeded"], progress["percent"]) == \
                ("done", 5, 5, 100)
            assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(other))).status_code == 404
            listed = (await client.get("/api/v1/jobs", headers=bearer(operator))).json()["items"]
            assert [j["id"] for j in listed] == [job["id"]]
            seen, cursor = [], None
            while True:
                page = (await client.get(f"/api/v1/jobs/{job['id']}/items", headers=bearer(operator),
                                         params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
                seen += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            cancelled = await client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=bearer(operator))
            assert cancelled.status_code == 409
        assert [r["id"] for r in seen] == [str(i) for i in ids] and all(r["ok"] for r in seen)
        assert await _open_holds(database, ids) == set()


async def test_a_chunk_run_twice_applies_nothing_twice(database, database_url) -> None:  # type: ignore[no-untyped-def]
    with running_hub(_config(database_url, chunk_size=2), start_workers=False, relay=False) as hub:
        ids = await _orders(database, "shop-a", 3)
        principal = Principal(key_id=0, name="alice", prefix="x", role="operator")
        job = await jobs.create_job(hub, principal, load_actions()["release_holds"], ids, {"code": "manual"})
        assert await runner.run_chunk(hub, job.id, 0) == 2
        assert await runner.run_chunk(hub, job.id, 0) == 0  # a retried message: positions 0-1 recorded
        async with database.session() as session:
            released = (await session.execute(select(OrderEventRow.order_id, func.count()).where(
                OrderEventRow.order_id.in_(ids), OrderEventRow.kind == "hold_released")
                .group_by(OrderEventRow.order_id))).all()
        assert dict(released) == {ids[0]: 1, ids[1]: 1}
        done = await jobs.get_job(hub, principal, job.id)
        assert (done.done, done.succeeded) == (2, 2)
        assert await _open_holds(database, ids) == {ids[2]}


async def test_ship_from_csv_reports_bad_rows_and_ships_good_ones(database, database_url) -> None:  # type: ignore[no-untyped-def]
    with running_hub(_config(database_url), start_workers=False, relay=False) as hub:
        (order_id,) = await _orders(database, "shop-a", 1, held=False)
        async with database.session() as session:
            from hub.db.tables import OrderRow
            external = (await session.execute(select(OrderRow.external_id).where(OrderRow.id == order_id))).scalar_one()
        warehouse, viewer = await new_key(hub, "warehouse", "wh"), await new_key(hub, "viewer")
        csv = f"order_no,courier,tracking_no\n{external},SF,SF100200300\nNOPE-1,sf,SF1\n{external},zto,\n"
        async with api_client(hub) as client:
            denied = await client.post("/api/v1/shipments/batch", content=csv,
                                       headers={**bearer(viewer), "content-type": "text/csv"})
            assert denied.status_code == 403
            answer = await client.post("/api/v1/shipments/batch", files={"file": ("ship.csv", csv, "text/csv")},
                                       headers=bearer(warehouse))
            assert answer.status_code == 200, answer.text
            again = await client.post("/api/v1/shipments/batch", content=csv,
                                      headers={**bearer(warehouse), "content-type": "text/csv"})
            headless = await client.post("/api/v1/shipments/batch", content="a,b\n1,2\n",
                                         headers={**bearer(warehouse), "content-type": "text/csv"})
        rows = {r["id"]: r for r in answer.json()["results"]}
        assert rows["2"]["ok"] and "recorded" in rows["2"]["message"]
        assert not rows["3"]["ok"] and "'NOPE-1' does not exist" in rows["3"]["message"]
        assert not rows["4"]["ok"] and "tracking_no is empty" in rows["4"]["message"]
        assert "already recorded" in {r["id"]: r for r in again.json()["results"]}["2"]["message"]
        assert headless.status_code == 400 and "missing order_no" in headless.json()["detail"]
        async with database.session() as session:
            shipped = (await session.execute(select(func.count()).select_from(ShipmentRow).where(
                ShipmentRow.order_id == order_id))).scalar_one()
        assert shipped == 1


def test_cli_batch_prints_a_result_per_order_and_exits_1_when_some_failed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.cli import app
    from hub.db.engine import database_for_loop, dispose_all_for_loop
    from hub.testing.cli import runner as cli
    from hub.testing.db import run_in_fresh_loop, sqlite_url

    url = sqlite_url(tmp_path / "hub.db")
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n', encoding="utf-8")
    assert cli.invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0

    async def seed() -> list[int]:
        try:
            database = database_for_loop(url)
            return await _orders(database, "shop-a", 2) + await _orders(database, "shop-a", 1, held=False)
        finally:
            await dispose_all_for_loop()

    a, b, c = run_in_fresh_loop(seed)
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{b}\n{c}\n", encoding="utf-8")
    result = cli.invoke(app, ["--config", str(config), "orders", "batch", "release_holds", "--id", str(a),
                              "--ids-file", str(ids_file), "--param", "code=manual"])
    assert result.exit_code == 1, result.output
    assert "1 of 3 failed" in result.output and f"order {c} has no open hold" in result.output
    again = cli.invoke(app, ["--config", str(config), "orders", "batch", "release_holds", "--id", str(a)])
    assert again.exit_code == 2 and "body.params.code" in again.output
    not_failed = cli.invoke(app, ["--config", str(config), "jobs", "resume", "999"])
    assert not_failed.exit_code != 0 and "999" in not_failed.output


async def test_console_runs_a_batch_on_ticked_orders_and_shows_each_outcome(database, database_url) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key

    with running_hub(_config(database_url, sync_limit=1), start_workers=False, relay=False) as hub:
        a, b = await _orders(database, "shop-a", 2)
        (not_held,) = await _orders(database, "shop-a", 1, held=False)
        async with _app(hub) as client:
            assert (await _sign_in_with_key(client, await new_key(hub, "operator", "olga"))).status_code == 303
            listing = await client.get("/console/orders")
            assert 'data-testid="batch-bar"' in listing.text and f'value="{a}" form="batch-select"' in listing.text
            chosen = await client.get("/console/orders/batch", params=[("ids", a), ("ids", not_held)])
            assert chosen.status_code == 200 and 'data-testid="batch-action-release_holds"' in chosen.text
            posted = await client.post("/console/orders/batch", data={
                "csrf_token": _csrf(chosen.text), "ids": [str(a), str(not_held)], "action": "release_holds",
                "p.release_holds.code": "manual"}, follow_redirects=False)
            assert posted.status_code == 303  # two orders > sync_limit 1: a job
            job_url = posted.headers["location"]
            await runner.run_job(hub, int(job_url.rsplit("/", 1)[-1]))
            page = await client.get(job_url)
            progress = await client.get(job_url + "/progress")
            jobs_page = await client.get("/console/jobs")
        assert page.status_code == 200 and 'data-state="done"' in page.text
        assert f"order {not_held} has no open hold" in page.text and 'data-ok="yes"' in page.text
        assert "hx-get" not in progress.text  # finished: stops polling
        assert job_url in jobs_page.text
        assert await _open_holds(database, [a, b]) == {b}


async def test_approve_labels_and_aftersales_answer_per_item(database, database_url) -> None:  # type: ignore[no-untyped-def]
    with running_hub(_config(database_url), start_workers=False, relay=False) as hub:
        (held,) = await _orders(database, "shop-a", 1)
        admin = Principal(key_id=0, name="root", prefix="x", role="admin")

        async def run(name: str, ids: list[int], params: dict[str, Any] | None = None) -> dict[str, str]:
            answered = await jobs.start(hub, admin, jobs.action_for(name, admin), ids, params or {})
            assert isinstance(answered, jobs.Answered)
            return {r.id: ("ok: " if r.ok else "no: ") + r.message for r in answered.results}

        assert (await run("approve", [held]))[str(held)].startswith("ok: approved")
        assert (await run("approve", [held]))[str(held)] == f"no: order {held} is already approved"
        labels = await run("print_labels", [held])
        assert labels[str(held)] == f"no: order {held} has no parcel with a waybill to print"
        decided = await run("decide_aftersales", [424242], {"action": "approve_refund"})
        assert decided == {"424242": "no: case 424242 does not exist"}


async def test_a_job_that_failed_half_way_resumes_where_it_stopped(database, database_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with running_hub(_config(database_url, sync_limit=2, chunk_size=2), start_workers=False, relay=False) as hub:
        ids = await _orders(database, "shop-a", 5)
        operator = await new_key(hub, "operator", "alice")
        real_chunk = runner.run_chunk

        async def fails_at_the_second_chunk(hub_: Any, job_id: int, start: int) -> int:
            if start >= 2:
                raise RuntimeError("the database went away")
            return await real_chunk(hub_, job_id, start)

        async with api_client(hub) as client:
            started = await client.post("/api/v1/orders/batch", headers=bearer(operator), json={
                "action": "release_holds", "ids": ids, "params": {"code": "manual"}})
            job_id = started.json()["job"]["id"]
            monkeypatch.setattr(runner, "run_chunk", fails_at_the_second_chunk)
            try:
                await runner.run_job(hub, job_id)
            except RuntimeError:
                pass
            monkeypatch.setattr(runner, "run_chunk", real_chunk)
            failed = (await client.get(f"/api/v1/jobs/{job_id}", headers=bearer(operator))).json()
            assert (failed["status"], failed["done"]) == ("failed", 2) and "went away" in failed["error"]
            resumed = await client.post(f"/api/v1/jobs/{job_id}/resume", headers=bearer(operator))
            assert resumed.status_code == 200 and resumed.json()["status"] == "queued", resumed.text
            await runner.run_job(hub, job_id)  # what the worker does with the message resume queued
            done = (await client.get(f"/api/v1/jobs/{job_id}", headers=bearer(operator))).json()
            assert (done["status"], done["done"], done["succeeded"], done["error"]) == ("done", 5, 5, None)
            again = await client.post(f"/api/v1/jobs/{job_id}/resume", headers=bearer(operator))
            assert again.status_code == 409 and "only a failed or cancelled job" in again.text
        async with database.session() as session:
            released = dict((await session.execute(select(OrderEventRow.order_id, func.count()).where(
                OrderEventRow.order_id.in_(ids), OrderEventRow.kind == "hold_released")
                .group_by(OrderEventRow.order_id))).all())
        assert released == {i: 1 for i in ids}  # the first chunk's orders were not released twice
