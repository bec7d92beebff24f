"""The parcels screen and the order's parcels panel in the console: parcels awaiting print listed,
several printed at once as one PDF (marked printed, attributed to the person), a viewer offered
no print, a stale form or an empty selection refused with words; both languages."""

from __future__ import annotations

from sqlalchemy import select

from hub.db.tables import OrderEventRow, ParcelRow
from hub.services.fulfilment import waybills
from hub.testing.api import new_key
from hub.testing.waybill_provider import make_parcels
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key
from tests.integration.test_fulfilment_waybills import MEDIABOX, _reset, config, courier_of, paid_order, provider_hub

__all__ = ["_reset"]


async def test_print_selected_parcels_and_the_order_panel(database_url: str) -> None:
    with provider_hub(config(database_url)) as hub:
        order_id = await paid_order(hub)
        ids = await make_parcels(hub, order_id, courier_account=courier_of(hub), count=3)
        await waybills.issue_waybills(hub, ids[:2])  # the third waits for its waybill
        async with _app(hub) as client:
            assert (await _sign_in_with_key(client, await new_key(hub, "warehouse", "wh-clerk"))).status_code == 303
            page = await client.get("/console/fulfilment/parcels")
            assert page.status_code == 200
            for parcel_id in ids[:2]:
                assert f'data-testid="pick-{parcel_id}"' in page.text
            assert f'data-testid="parcel-{ids[2]}"' not in page.text and 'data-testid="print-selected"' in page.text
            waiting = await client.get("/console/fulfilment/parcels?status=pending")
            assert f'data-testid="parcel-{ids[2]}"' in waiting.text and "pick-" not in waiting.text

            token = _csrf(page.text)
            pdf = await client.post("/console/fulfilment/parcels/labels",
                                    data={"csrf_token": token, "parcel_id": [str(i) for i in ids[:2]]})
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            assert len(MEDIABOX.findall(pdf.content)) == 2
            printed = await client.get("/console/fulfilment/parcels?status=printed")
            assert all(f'data-testid="parcel-{i}"' in printed.text for i in ids[:2])

            none = await client.post("/console/fulfilment/parcels/labels", data={"csrf_token": token})
            assert none.status_code == 400 and "Select at least one parcel" in none.text
            pending = await client.post("/console/fulfilment/parcels/labels",
                                        data={"csrf_token": token, "parcel_id": str(ids[2])})
            assert pending.status_code == 409 and "no waybill" in pending.text
            stale = await client.post("/console/fulfilment/parcels/labels",
                                      data={"csrf_token": "forged", "parcel_id": str(ids[0])})
            assert stale.status_code in (400, 403) and stale.headers["content-type"].startswith("text/html")

            panel = await client.get(f"/console/orders/{order_id}/panel/parcels")
            assert panel.status_code == 200 and "<html" not in panel.text
            assert f'data-testid="print-{ids[0]}"' in panel.text and f'data-testid="print-{ids[2]}"' not in panel.text
            zh = await client.get(f"/console/orders/{order_id}/panel/parcels", headers={"accept-language": "zh-CN"})
            assert "包裹" in zh.text and "已打印" in zh.text

        async with _app(hub) as client:
            await _sign_in_with_key(client, await new_key(hub, "viewer"))
            page = await client.get("/console/fulfilment/parcels?status=printed")
            assert page.status_code == 200 and 'data-testid="print-selected"' not in page.text
            panel = await client.get(f"/console/orders/{order_id}/panel/parcels")
            assert "print-" not in panel.text.replace('data-testid="all-parcels"', "")

        async with hub.database().session() as session:
            actors = set((await session.execute(select(OrderEventRow.actor).where(
                OrderEventRow.kind == "label_printed"))).scalars())
            statuses = set((await session.execute(select(ParcelRow.status).where(ParcelRow.id.in_(ids[:2]))))
                           .scalars())
        assert statuses == {"printed"} and len(actors) == 1 and "wh-clerk" in next(iter(actors))
        await hub.close_loop_resources()
