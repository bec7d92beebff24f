"""``hub labels print``, ``hub parcels list`` and ``hub parcels waybill`` against a real database
with the fake waybill provider: the PDF is written and the parcels marked printed, the list
filters, a waybill is obtained once, and bad input is exit 2 naming what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import CliState, app
from hub.context import Hub
from hub.db.tables import OrderEventRow, ParcelRow
from hub.plugins import build_plugin_manager
from hub.testing.db import run_in_fresh_loop
from hub.testing.waybill_provider import FakeWaybillProvider, WaybillProviderPlugin, make_parcels
from tests.integration.test_fulfilment_waybills import MEDIABOX, config, courier_of, paid_order

runner = CliRunner()


@pytest.fixture(autouse=True)
def _reset() -> None:
    FakeWaybillProvider.reset()


def _hub(cfg: Any) -> Hub:
    return Hub(cfg, build_plugin_manager(extra=[WaybillProviderPlugin()], load_entry_points=False))


def _in_loop(cfg: Any, work: Any) -> Any:
    async def main() -> Any:
        hub = _hub(cfg)
        try:
            return await work(hub)
        finally:
            await hub.close_loop_resources()

    return run_in_fresh_loop(main)


def test_labels_and_parcels_from_the_command_line(database_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(database_url)
    monkeypatch.setattr(CliState, "config", lambda self: cfg)
    monkeypatch.setattr(CliState, "hub", lambda self: _hub(cfg))

    async def setup(hub: Hub) -> list[int]:
        order_id = await paid_order(hub)
        return await make_parcels(hub, order_id, courier_account=courier_of(hub), count=2)

    ids = _in_loop(cfg, setup)
    for parcel_id in ids:
        result = runner.invoke(app, ["parcels", "waybill", str(parcel_id)])
        assert result.exit_code == 0, result.output
        assert "waybill 7800" in result.stdout
    again = runner.invoke(app, ["parcels", "waybill", str(ids[0])])
    assert again.exit_code == 0 and len(FakeWaybillProvider.requests) == 2

    listed = runner.invoke(app, ["parcels", "list", "--status", "issued"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count("7800") == 2 and "issued" in listed.stdout
    bad = runner.invoke(app, ["parcels", "list", "--status", "lost"])
    assert bad.exit_code == 2 and "'lost'" in bad.output

    out = tmp_path / "labels.pdf"
    printed = runner.invoke(app, ["labels", "print", *map(str, ids), "--out", str(out)])
    assert printed.exit_code == 0, printed.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-") and len(MEDIABOX.findall(pdf)) == 2

    async def after(hub: Hub) -> tuple[set[str], set[str]]:
        async with hub.database().session() as session:
            statuses = set((await session.execute(select(ParcelRow.status).where(ParcelRow.id.in_(ids)))).scalars())
            actors = set((await session.execute(select(OrderEventRow.actor).where(
                OrderEventRow.kind == "label_printed"))).scalars())
        return statuses, actors

    statuses, actors = _in_loop(cfg, after)
    assert statuses == {"printed"} and all(a.startswith("cli:") for a in actors)

    missing = runner.invoke(app, ["labels", "print", "999999", "--out", str(tmp_path / "x.pdf")])
    assert missing.exit_code == 2 and "999999" in missing.output
    assert not (tmp_path / "x.pdf").exists()
