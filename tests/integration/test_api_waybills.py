"""Parcels, waybills and labels over the HTTP API: lists with filters and cursor pages, issuing
now, cancelling (and the provider's no), one label and a batch as real PDFs, who may do what,
and bad input named. Both backends, the fake waybill provider."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.db.tables import OrderEventRow, ParcelRow
from hub.services.fulfilment import labels, waybills
from hub.testing.api import api_client, bearer, new_key
from hub.testing.waybill_provider import FakeWaybillProvider, make_parcels
from tests.integration.test_fulfilment_waybills import MEDIABOX, _reset, config, courier_of, paid_order, provider_hub

__all__ = ["_reset"]


async def test_parcels_waybills_and_labels_over_the_api(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        other_order = await paid_order(hub)
        ids = await make_parcels(hub, order_id, courier_account=courier_of(hub), count=3)
        [other] = await make_parcels(hub, other_order, courier_account=courier_of(hub))
        clerk, reader, admin = (await new_key(hub, "warehouse"), await new_key(hub, "service"),
                                await new_key(hub, "admin"))
        async with api_client(hub) as client:
            # Issue now: the clerk (shipments.write) may, customer service may not.
            refused = await client.post(f"/api/v1/parcels/{ids[0]}/waybill", headers=bearer(reader))
            assert refused.status_code == 403
            for parcel_id in (*ids, other):
                answer = await client.post(f"/api/v1/parcels/{parcel_id}/waybill", headers=bearer(clerk))
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == "issued" and answer.json()["retry_queued"] is False
            again = await client.post(f"/api/v1/parcels/{ids[0]}/waybill", headers=bearer(clerk))
            assert again.json()["waybill_number"] == FakeWaybillProvider.issued[again.json()["key"]].waybill_number
            assert len(FakeWaybillProvider.requests) == 4  # asked once per parcel

            one = (await client.get(f"/api/v1/parcels/{ids[0]}", headers=bearer(clerk))).json()
            assert one["sort_code"] == "300-A12 05" and one["print_data"] is None  # no personal-data role
            assert (await client.get(f"/api/v1/parcels/{ids[0]}", headers=bearer(reader))).json()["print_data"]
            assert (await client.get("/api/v1/parcels/999999", headers=bearer(clerk))).status_code == 404

            # Lists: by order, newest first, in pages.
            first = (await client.get("/api/v1/parcels", params={"order_id": order_id, "limit": 2},
                                      headers=bearer(reader))).json()
            assert [p["id"] for p in first["items"]] == [ids[2], ids[1]] and first["next_cursor"]
            rest = (await client.get("/api/v1/parcels", params={"order_id": order_id, "limit": 2,
                                                                "cursor": first["next_cursor"]},
                                     headers=bearer(reader))).json()
            assert [p["id"] for p in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
            by_courier = (await client.get("/api/v1/parcels", params={"courier": "ZTO", "status": "issued"},
                                           headers=bearer(reader))).json()
            assert len(by_courier["items"]) == 4
            bad = await client.get("/api/v1/parcels", params={"status": "lost"}, headers=bearer(reader))
            assert bad.status_code == 400 and bad.json()["field"] == "query.status.0"
            bad = await client.get("/api/v1/parcels", params={"cursor": "nope"}, headers=bearer(reader))
            assert bad.status_code == 400 and bad.json()["field"] == "query.cursor"

            # One label, then a batch in one PDF; printing marks them printed.
            label = await client.get(f"/api/v1/parcels/{ids[0]}/label.pdf", headers=bearer(clerk))
            assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
            assert len(MEDIABOX.findall(label.content)) == 1
            assert f"({one['waybill_number']}) Tj".encode() in label.content
            batch = await client.post("/api/v1/labels", json={"parcel_ids": [ids[1], ids[2], other]},
                                      headers=bearer(clerk))
            assert batch.status_code == 200 and len(MEDIABOX.findall(batch.content)) == 3
            printed = (await client.get("/api/v1/parcels", params={"status": "printed"},
                                        headers=bearer(clerk))).json()
            assert {p["id"] for p in printed["items"]} == {*ids, other}
            assert (await client.post("/api/v1/labels", json={"parcel_ids": [ids[0]]},
                                      headers=bearer(reader))).status_code == 403
            empty = await client.post("/api/v1/labels", json={"parcel_ids": []}, headers=bearer(clerk))
            assert empty.status_code == 422
            unknown = await client.post("/api/v1/labels", json={"parcel_ids": [ids[0], 999999]},
                                        headers=bearer(clerk))
            assert unknown.status_code == 404 and "999999" in unknown.json()["detail"]

            # Cancel: one the provider takes back, one collected already, one shipped.
            cancelled = await client.post(f"/api/v1/parcels/{ids[0]}/cancel-waybill", headers=bearer(admin))
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            no_label = await client.get(f"/api/v1/parcels/{ids[0]}/label.pdf", headers=bearer(clerk))
            assert no_label.status_code == 409 and "cancelled" in no_label.json()["detail"]
            reissue = await client.post(f"/api/v1/parcels/{ids[0]}/waybill", headers=bearer(clerk))
            assert reissue.status_code == 409 and "cancelled" in reissue.json()["detail"]
            FakeWaybillProvider.collected.add(
                (await client.get(f"/api/v1/parcels/{ids[1]}", headers=bearer(clerk))).json()["waybill_number"])
            collected = await client.post(f"/api/v1/parcels/{ids[1]}/cancel-waybill", headers=bearer(admin))
            assert collected.status_code == 409 and "refused" in collected.json()["detail"]
            async with hub.database().transaction() as session:
                await session.execute(update(ParcelRow).where(ParcelRow.id == ids[2]).values(status="shipped"))
            shipped = await client.post(f"/api/v1/parcels/{ids[2]}/cancel-waybill", headers=bearer(admin))
            assert shipped.status_code == 409
            assert (await client.get(f"/api/v1/parcels/{ids[1]}", headers=bearer(clerk))).json()["status"] == "printed"

        async with hub.database().session() as session:
            actors = set((await session.execute(select(OrderEventRow.actor).where(
                OrderEventRow.order_id == order_id, OrderEventRow.kind.in_(
                    ("waybill_issued", "label_printed", "waybill_cancelled"))))).scalars())
        assert all(actor and actor.startswith("apikey:") for actor in actors)
        await hub.close_loop_resources()


async def test_labels_mask_addresses_for_roles_without_personal_data(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        [parcel_id] = await make_parcels(hub, order_id, courier_account=courier_of(hub))
        await waybills.issue_waybills(hub, [parcel_id])
        [masked] = await labels.load(hub, [parcel_id], reveal=False)
        [shown] = await labels.load(hub, [parcel_id], reveal=True)
        assert shown.recipient.phone == "13812345678" and masked.recipient.phone != "13812345678"
        assert masked.recipient.street != shown.recipient.street and masked.recipient.province == "浙江省"
        assert masked.sender.phone != shown.sender.phone
        assert (masked.seq, masked.count, masked.sort_code) == (1, 1, "300-A12 05")
        await hub.close_loop_resources()
