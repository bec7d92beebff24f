"""The merge, split and interception API on SQLite and PostgreSQL: permissions, attribution,
409 once routed, 422 naming the field, proposals, undo, and the order's merging state."""

from __future__ import annotations

from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import OrderEventRow
from hub.plugins import build_plugin_manager
from hub.testing.api import api_client, bearer, new_key
from hub.testing.hub import hub_config
from hub.testing.merging_factories import approved_order, delivery_order, line_ids


def _hub(database_url: str) -> Hub:
    return Hub(hub_config(database_url, fulfilment={"merge": {"mode": "propose"}}),
               build_plugin_manager(load_entry_points=False))


async def test_merge_split_and_intercept_over_the_api(database_url: str) -> None:
    hub = _hub(database_url)
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        other = await approved_order(session, buyer="b2")
        routed = await approved_order(session, buyer="b1", lines=[("SKU-1", 1), ("SKU-2", 1)])
        await delivery_order(session, [routed])
        split_me = await approved_order(session, buyer="b3", lines=[("SKU-1", 1), ("SKU-2", 1)])
        lines = await line_ids(session, split_me)
    operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
    async with api_client(hub) as client:
        listed = await client.get("/api/v1/fulfilment/merge-proposals", headers=bearer(viewer))
        assert listed.status_code == 200 and [p["order_ids"] for p in listed.json()] == [[a, b]]
        denied = await client.post("/api/v1/fulfilment/merges", json={"order_ids": [a, b]}, headers=bearer(viewer))
        assert denied.status_code == 403
        mismatch = await client.post("/api/v1/fulfilment/merges", json={"order_ids": [a, other]},
                                     headers=bearer(operator))
        assert mismatch.status_code == 422 and "force" in mismatch.json()["detail"]
        late = await client.post("/api/v1/fulfilment/merges", json={"order_ids": [a, routed]},
                                 headers=bearer(operator))
        assert late.status_code == 409
        bad = await client.post("/api/v1/fulfilment/merges", json={"order_ids": [a]}, headers=bearer(operator))
        assert bad.status_code == 422 and "order_ids" in bad.text
        made = await client.post("/api/v1/fulfilment/merges", json={"order_ids": [a, b]}, headers=bearer(operator))
        assert made.status_code == 201, made.text
        merge_id = made.json()["merge_id"]
        state = (await client.get(f"/api/v1/orders/{a}/merging", headers=bearer(viewer))).json()
        assert state["decision"] == "merge" and state["merged_with"] == [b] and state["decided_by"].endswith(":alice")
        again = await client.post("/api/v1/fulfilment/merges", json={"order_ids": [a, b]}, headers=bearer(operator))
        assert again.status_code == 409
        undone = await client.delete(f"/api/v1/fulfilment/merges/{merge_id}", headers=bearer(operator))
        assert undone.status_code == 200 and undone.json()["order_ids"] == [a, b]
        gone = await client.delete(f"/api/v1/fulfilment/merges/{merge_id}", headers=bearer(operator))
        assert gone.status_code == 404

        split = await client.post(f"/api/v1/orders/{split_me}/split", json={"groups": [[lines[0]], [lines[1]]]},
                                  headers=bearer(operator))
        assert split.status_code == 200 and split.json()["line_groups"] == [[lines[0]], [lines[1]]]
        unknown_line = await client.post(f"/api/v1/orders/{split_me}/split", json={"groups": [["nope"]]},
                                         headers=bearer(operator))
        assert unknown_line.status_code == 422 and unknown_line.json()["field"] == "groups"
        routed_split = await client.post(f"/api/v1/orders/{routed}/split", json={"groups": [["x"]]},
                                         headers=bearer(operator))
        assert routed_split.status_code == 409
        missing = await client.post("/api/v1/orders/99999999/split", json={"groups": [["x"]]},
                                    headers=bearer(operator))
        assert missing.status_code == 404

        stop = await client.post(f"/api/v1/orders/{routed}/intercept", json={"reason": "buyer phoned"},
                                 headers=bearer(operator))
        assert stop.status_code == 202, stop.text
        holds = stop.json()["interception"]["holds"]
        assert [(h["code"], h["open"]) for h in holds] == [("intercept_requested", True)]
        declined = await client.post("/api/v1/fulfilment/merge-proposals/decline", json={"order_ids": [a]},
                                     headers=bearer(operator))
        assert declined.status_code == 200
        assert (await client.get("/api/v1/fulfilment/merge-proposals", headers=bearer(viewer))).json() == []
    async with hub.database().session() as session:
        actors = set((await session.execute(select(OrderEventRow.actor).where(
            OrderEventRow.kind.in_(["merge_planned", "merge_undone", "split_planned", "merge_declined"])))).scalars())
    assert len(actors) == 1 and next(iter(actors)).endswith(":alice")
