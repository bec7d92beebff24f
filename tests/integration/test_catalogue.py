"""The catalogue on SQLite and PostgreSQL: SKUs and bundles over the API (409 duplicate, 404
unknown, 422 bad field, 403 role, writes attributed to the key, filters and cursor pages), the
catalogue CSV (round trip, row-and-field errors, nothing half-applied, a column left out keeps
each SKU's value), ``hub catalogue`` and
``hub stock import --dry-run`` reporting what the real import refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from hub.api import create_app
from hub.catalogue_cli import register
from hub.config import load_config
from hub.context import Hub, build_hub
from hub.db import api_keys
from hub.db.migrate import upgrade
from hub.services import catalogue
from hub.services.stock import adjustments, effects, skus
from hub.stock_cli import stock_app
from tests.integration.inventory_support import close_hub, make_hub, place_order, stock_row


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url)
    yield h
    await close_hub(h)


async def _client(hub: Hub, role: str) -> httpx.AsyncClient:
    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name=f"test-{role}", role=role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hub)), base_url="http://hub",
                             headers={"Authorization": f"Bearer {key}"})


async def test_skus_and_bundles_are_managed_over_the_api_with_reasons(hub: Hub) -> None:
    async with await _client(hub, "operator") as client, await _client(hub, "viewer") as viewer:
        made = await client.post("/api/v1/skus", json={"merchant_sku": "TEE-M", "name": "Tee M", "safety_stock": 1})
        await client.post("/api/v1/skus", json={"merchant_sku": "MUG", "name": "Mug"})
        bundle = await client.post("/api/v1/skus", json={"merchant_sku": "GIFT", "components": {"TEE-M": 1, "MUG": 2}})
        duplicate = await client.post("/api/v1/skus", json={"merchant_sku": "TEE-M"})
        bad_field = await client.post("/api/v1/skus", json={"merchant_sku": "X", "safety_stock": -1})
        bad_component = await client.post("/api/v1/skus", json={"merchant_sku": "Y", "components": {"NOPE": 1}})
        nested = await client.post("/api/v1/skus", json={"merchant_sku": "Z", "components": {"GIFT": 1}})
        forbidden = await viewer.post("/api/v1/skus", json={"merchant_sku": "V"})
        unknown = await client.patch("/api/v1/skus/NOPE", json={"name": "x"})
        patched = await client.patch("/api/v1/skus/TEE-M", json={"name": "Tee (M)", "low_stock_threshold": 3})
        off = await client.post("/api/v1/skus/MUG/deactivate")
        uses_inactive = await client.post("/api/v1/skus", json={"merchant_sku": "W", "components": {"MUG": 1}})
        active = (await viewer.get("/api/v1/skus", params={"active": "true"})).json()
        bundles = (await viewer.get("/api/v1/skus", params={"bundle": "true"})).json()
        first = (await viewer.get("/api/v1/skus", params={"limit": 2})).json()
        second = (await viewer.get("/api/v1/skus", params={"limit": 2, "cursor": first["next_cursor"]})).json()
        back_on = await client.post("/api/v1/skus/MUG/reactivate")
    assert made.status_code == 201 and made.json()["updated_by"].startswith("apikey:")
    assert bundle.status_code == 201 and bundle.json()["is_bundle"] and bundle.json()["components"] == {
        "MUG": 2, "TEE-M": 1}
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "merchant_sku"
    assert bad_field.status_code == 422
    assert bad_component.status_code == 422 and "unknown component SKU 'NOPE'" in bad_component.json()["detail"]
    assert nested.status_code == 422 and "is a bundle" in nested.json()["detail"]
    assert forbidden.status_code == 403
    assert unknown.status_code == 404
    assert patched.status_code == 200 and (patched.json()["name"], patched.json()["low_stock_threshold"]) == (
        "Tee (M)", 3) and patched.json()["safety_stock"] == 1
    assert off.status_code == 200 and off.json()["active"] is False
    assert uses_inactive.status_code == 422 and "deactivated" in uses_inactive.json()["detail"]
    assert [s["merchant_sku"] for s in active["items"]] == ["GIFT", "TEE-M"]
    assert [s["merchant_sku"] for s in bundles["items"]] == ["GIFT"]
    assert [s["merchant_sku"] for s in first["items"] + second["items"]] == ["GIFT", "MUG", "TEE-M"]
    assert second["next_cursor"] is None and back_on.json()["active"] is True


async def test_a_bundle_made_over_the_api_counts_its_stock_from_its_components(hub: Hub) -> None:
    async with await _client(hub, "admin") as client:
        for sku in ("A", "B"):
            await client.post("/api/v1/skus", json={"merchant_sku": sku})
        await client.post("/api/v1/skus", json={"merchant_sku": "AB", "components": {"A": 2, "B": 1}})
        await client.post("/api/v1/inventory/adjustments", json={"adjustments": [
            {"warehouse": "wh1", "merchant_sku": "A", "on_hand": 7},
            {"warehouse": "wh1", "merchant_sku": "B", "on_hand": 5}]})
        item = (await client.get("/api/v1/inventory/AB")).json()
    assert item["is_bundle"] and item["available"] == 3


async def test_quantities_too_large_to_store_are_refused_naming_the_field(hub: Hub) -> None:
    """Found by the API fuzz: 2^65 as a threshold, or 2^40 on hand, was a 500 (the columns hold 32-bit
    integers); now the usual answer to bad input there, naming the field, and nothing stored."""
    huge = 37591457840157024256
    async with await _client(hub, "admin") as client:
        await client.post("/api/v1/skus", json={"merchant_sku": "A"})
        threshold = await client.post("/api/v1/skus", json={"merchant_sku": "T", "low_stock_threshold": huge})
        safety = await client.patch("/api/v1/skus/A", json={"safety_stock": 2**31})
        component = await client.post("/api/v1/skus", json={"merchant_sku": "AB", "components": {"A": 2**40}})
        on_hand = await client.post("/api/v1/inventory/adjustments", json={"adjustments": [
            {"warehouse": "wh1", "merchant_sku": "A", "on_hand": 2**40}]})
        listed = (await client.get("/api/v1/skus")).json()
    assert [r.status_code for r in (threshold, safety, component, on_hand)] == [422, 422, 422, 400]
    assert "low_stock_threshold" in threshold.text and "safety_stock" in safety.text
    assert "components" in component.text and "on_hand" in on_hand.text
    assert [s["merchant_sku"] for s in listed["items"]] == ["A"] and listed["items"][0]["safety_stock"] == 0


async def test_catalogue_csv_round_trips_and_a_bad_file_changes_nothing(hub: Hub) -> None:
    text = ("merchant_sku,name,product_code,stock_group,safety_stock,low_stock_threshold,active,components\n"
            'GIFT,"Gift set, large",P-9,,0,,true,MUG*2;TEE-M*1\n'
            "MUG,Mug,P-2,kitchen,2,5,true,\n"
            "TEE-M,Tee M,,,0,,true,\n")
    drafts, labels = catalogue.parse_catalogue_csv(text)
    report = await catalogue.import_catalogue(hub, drafts, labels, actor="import:test.csv")
    async with hub.database().session() as session:
        exported = catalogue.write_catalogue_csv(await catalogue.all_skus(session))
    assert (report.created, report.updated) == (3, 0)
    assert exported == text

    bad = ("merchant_sku,name,safety_stock,components\n"
           "MUG,Mug renamed,3,\n"
           "NEW,New,lots,\n"
           "GIFT,Gift,0,MUG*0\n")
    with pytest.raises(catalogue.CatalogueImportError) as info:
        catalogue.parse_catalogue_csv(bad)
    assert [str(p) for p in info.value.problems] == [
        "row 3, field safety_stock: must be a whole number, got 'lots'",
        "row 4, field components: components: quantity of 'MUG' must be a whole number of at least 1, got 0",
    ]
    # Every row parses, but one names a component the catalogue lacks: the good rows are not written either.
    drafts, labels = catalogue.parse_catalogue_csv("merchant_sku,name,components\nMUG,Mug renamed,\n"
                                                   "BOX,Box,NOPE*1\n")
    with pytest.raises(catalogue.CatalogueImportError, match="row 3, field components: unknown component SKU"):
        await catalogue.import_catalogue(hub, drafts, labels, actor="import:bad.csv")
    async with hub.database().session() as session:
        assert (await catalogue.get_sku(session, "MUG")).name == "Mug"
        assert catalogue.write_catalogue_csv(await catalogue.all_skus(session)) == text


async def test_a_file_without_a_column_keeps_that_value_and_an_empty_cell_clears_it(hub: Hub) -> None:
    """A merchant exports the sheet, deletes the columns they do not care about, renames and imports
    it back: bundles, deactivated SKUs, safety stock and product codes stay as they were. A column
    kept with an empty cell still clears its value."""
    full = ("merchant_sku,name,product_code,stock_group,safety_stock,low_stock_threshold,active,components\n"
            "GIFT,Gift,P-9,gifts,1,4,true,MUG*2;TEE-M*1\n"
            "MUG,Mug,P-2,kitchen,2,5,true,\n"
            "TEE-M,Tee M,P-3,,0,,true,\n")
    await catalogue.import_catalogue(hub, *catalogue.parse_catalogue_csv(full), actor="import:full.csv")
    await catalogue.set_active(hub, "TEE-M", False, actor="t")  # the bundle keeps its deactivated component
    renamed = "merchant_sku,name\nGIFT,Gift box\nMUG,Big mug\nTEE-M,Tee (M)\nNEW,New thing\n"
    csv = {"Content-Type": "text/csv"}
    async with await _client(hub, "operator") as client:
        checked = await client.post("/api/v1/catalogue/import", content=renamed, headers=csv,
                                    params={"dry_run": "true"})
        imported = await client.post("/api/v1/catalogue/import", content=renamed, headers=csv)
        exported = (await client.get("/api/v1/catalogue/export")).text
    assert checked.status_code == 200 and checked.json()["dry_run"] is True
    assert imported.status_code == 200 and (imported.json()["created"], imported.json()["updated"]) == (1, 3)
    assert exported.splitlines()[1:] == ["GIFT,Gift box,P-9,gifts,1,4,true,MUG*2;TEE-M*1",
                                         "MUG,Big mug,P-2,kitchen,2,5,true,",
                                         "NEW,New thing,,,0,,true,",
                                         "TEE-M,Tee (M),P-3,,0,,false,"]

    # A column in the header with an empty cell clears (or defaults) that value; absent ones stay.
    cleared = "merchant_sku,product_code,safety_stock,low_stock_threshold\nMUG,,,\n"
    await catalogue.import_catalogue(hub, *catalogue.parse_catalogue_csv(cleared), actor="import:clear.csv")
    async with hub.database().session() as session:
        mug = await catalogue.get_sku(session, "MUG")
    assert (mug.name, mug.product_code, mug.stock_group, mug.safety_stock, mug.low_stock_threshold,
            mug.active) == ("Big mug", None, "kitchen", 0, None, True)

    # Without an `active` column TEE-M stays deactivated, so a new bundle of it is refused — by
    # the dry run exactly as by the import — and nothing is written.
    box = "merchant_sku,name,components\nTEE-M,Tee,\nBOX,Box,TEE-M*1\n"
    for dry_run in (True, False):
        with pytest.raises(catalogue.CatalogueImportError,
                           match="row 3, field components: component 'TEE-M' is deactivated"):
            await catalogue.import_catalogue(hub, *catalogue.parse_catalogue_csv(box), actor="import:box.csv",
                                             dry_run=dry_run)
    async with hub.database().session() as session:
        tee = await catalogue.get_sku(session, "TEE-M")
    assert (tee.name, tee.active) == ("Tee (M)", False)


async def test_the_catalogue_file_is_imported_and_exported_over_the_api_all_rows_or_none(hub: Hub) -> None:
    good = "merchant_sku,name,components\nMUG,Mug,\nGIFT,Gift,MUG*2\n"
    bad = "merchant_sku,name,safety_stock,components\nTEE,Tee,lots,\nBOX,Box,0,GHOST*1\nMUG,Mug 2,0,\n"
    csv = {"Content-Type": "text/csv"}
    async with await _client(hub, "operator") as client, await _client(hub, "viewer") as viewer:
        checked = await client.post("/api/v1/catalogue/import", content=good, headers=csv, params={"dry_run": "true"})
        after_check = (await viewer.get("/api/v1/skus")).json()["items"]
        imported = await client.post("/api/v1/catalogue/import", content=good, headers=csv,
                                     params={"filename": "shop.csv"})
        refused = await client.post("/api/v1/catalogue/import", content=bad, headers=csv)
        forbidden = await viewer.post("/api/v1/catalogue/import", content=good, headers=csv)
        exported = await viewer.get("/api/v1/catalogue/export")
        again = await client.post("/api/v1/catalogue/import", files={"file": ("back.csv", exported.content)})
    assert checked.status_code == 200 and checked.json() == {"rows": 2, "created": 0, "updated": 0,
                                                            "shops_to_push": 0, "dry_run": True}
    assert after_check == []
    assert imported.status_code == 200 and (imported.json()["created"], imported.json()["updated"]) == (2, 0)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_file"
    assert [(p["row"], p["field"]) for p in refused.json()["detail"]["problems"]] == [
        ("row 2", "safety_stock"), ("row 3", "components")]
    assert forbidden.status_code == 403
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines() == [",".join(catalogue.CSV_COLUMNS), "GIFT,Gift,,,0,,true,MUG*2",
                                          "MUG,Mug,,,0,,true,"]
    assert again.status_code == 200 and (again.json()["created"], again.json()["updated"]) == (0, 2)
    async with hub.database().session() as session:
        mug = await catalogue.get_sku(session, "MUG")
    assert (mug.name, mug.updated_by) == ("Mug", "import:back.csv")


async def test_a_sku_holding_stock_cannot_become_a_bundle(hub: Hub) -> None:
    async with hub.database().transaction() as session:
        await skus.define_sku(session, "A")
        await skus.define_sku(session, "B")
    await adjustments.adjust_stock(hub, [adjustments.Adjustment("wh1", "A", on_hand=3)], actor="t")
    with pytest.raises(Exception, match="holds stock"):
        await catalogue.update_sku(hub, "A", {"components": {"B": 1}}, actor="t")


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{url}"\n\n[warehouses.wh1]\n')
    monkeypatch.setenv("HUB_CONFIG", str(config))
    upgrade(url)
    return config


def _invoke(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    app.add_typer(stock_app, name="stock")
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_cli_adds_updates_lists_and_round_trips_the_catalogue(cli_config: Path, tmp_path: Path) -> None:
    assert _invoke("catalogue", "add", "TEE-M", "--name", "Tee M")[0] == 0
    assert _invoke("catalogue", "add", "MUG", "--name", "Mug", "--safety-stock", "2")[0] == 0
    code, out = _invoke("catalogue", "add", "GIFT", "-c", "TEE-M*1", "-c", "MUG*2")
    assert code == 0 and "bundle of MUG*2;TEE-M*1" in out
    code, out = _invoke("catalogue", "add", "MUG")
    assert code == 2 and "already in the catalogue" in out
    code, out = _invoke("catalogue", "update", "NOPE", "--name", "x")
    assert code == 2 and "not in the catalogue" in out
    assert _invoke("catalogue", "deactivate", "TEE-M")[0] == 0
    code, out = _invoke("catalogue", "list", "--inactive")
    assert code == 0 and "TEE-M" in out and "MUG" not in out
    exported = tmp_path / "catalogue.csv"
    assert _invoke("catalogue", "export", str(exported))[0] == 0
    first = exported.read_text()
    code, out = _invoke("catalogue", "import", str(exported))
    assert code == 0 and "0 SKU(s) added, 3 updated" in out, out
    assert _invoke("catalogue", "export", str(exported))[0] == 0
    assert exported.read_text() == first


def test_cli_import_names_row_and_field_and_writes_nothing(cli_config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("merchant_sku,name,safety_stock\nA,Alpha,1\nB,Beta,-2\n")
    code, out = _invoke("catalogue", "import", str(bad))
    assert code == 2 and "row 3, field safety_stock" in out
    assert "A" not in _invoke("catalogue", "list")[1].split("SKU(s)")[0].split("\n", 3)[-1]
    code, out = _invoke("catalogue", "list")
    assert "0 SKU(s)" in out


def test_cli_import_names_every_bad_row_at_once_malformed_or_refused_by_the_catalogue(
    cli_config: Path, tmp_path: Path,
) -> None:
    """One run names all that is wrong: a malformed value does not hide a row the catalogue would
    refuse (an unknown component), so the file is fixed in one go; a component defined on a bad
    row of the same file is not called unknown."""
    bad = tmp_path / "bad.csv"
    bad.write_text("merchant_sku,name,safety_stock,components\nA,Alpha,1,\nB,Beta,lots,\n"
                   "BOX,Box,0,A*1;GHOST*2\nPAIR,Pair,0,B*2\n")
    code, out = _invoke("catalogue", "import", str(bad))
    assert code == 2
    assert "row 3, field safety_stock: must be a whole number" in out
    assert "row 4, field components: unknown component SKU 'GHOST'" in out
    assert "'B'" not in out.split("row 4")[-1]  # B is on row 3 of the file, which needs fixing, not adding
    assert "0 SKU(s)" in _invoke("catalogue", "list")[1]


def test_cli_import_checks_rows_with_the_values_absent_columns_keep(cli_config: Path, tmp_path: Path) -> None:
    """A file without an `active` column keeps TEE-M deactivated, so a bundle of it is refused in
    the same run that names a malformed row, by the dry run as by the import."""
    assert _invoke("catalogue", "add", "TEE-M", "--name", "Tee M")[0] == 0
    assert _invoke("catalogue", "deactivate", "TEE-M")[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("merchant_sku,name,safety_stock,components\nTEE-M,Tee,,\nX,X,lots,\nBOX,Box,0,TEE-M*1\n")
    for args in (("--dry-run",), ()):
        code, out = _invoke("catalogue", "import", *args, str(bad))
        assert code == 2
        assert "row 3, field safety_stock: must be a whole number" in out
        assert "row 4, field components: component 'TEE-M' is deactivated" in out
    code, out = _invoke("catalogue", "list", "--inactive")
    assert "TEE-M" in out and "Tee M" in out


def test_stock_dry_run_reports_what_the_real_import_refuses(cli_config: Path, tmp_path: Path) -> None:
    """Lowering on hand below what orders reserved is refused by the import; the dry run said "valid"."""

    async def reserve() -> None:
        hub = build_hub(load_config(cli_config))
        try:
            async with hub.database().transaction() as session:
                await skus.define_sku(session, "SKU-1")
            await adjustments.adjust_stock(hub, [adjustments.Adjustment("wh1", "SKU-1", on_hand=10)], actor="t")
            await effects.reserve_order(hub, await place_order(hub, [("SKU-1", 6)]))
        finally:
            await close_hub(hub)

    asyncio.run(reserve())
    count = tmp_path / "count.csv"
    count.write_text("warehouse,merchant_sku,on_hand\nwh1,SKU-1,4\n")
    dry_code, dry_out = _invoke("stock", "import", "--dry-run", str(count))
    real_code, real_out = _invoke("stock", "import", str(count))
    assert real_code == 2 and "below the 6 reserved" in real_out
    assert dry_code == 2 and "below the 6 reserved" in dry_out

    async def on_hand() -> tuple[int, int]:
        hub = build_hub(load_config(cli_config))
        try:
            return await stock_row(hub, "SKU-1")
        finally:
            await close_hub(hub)

    assert asyncio.run(on_hand()) == (10, 6)


@pytest.mark.parametrize(("body", "line", "reason"), [
    # What the admin API fuzz sent: a bare carriage return inside an unquoted field (csv.Error).
    ("merchant_sku,name\nMUG,Mug\nTEE,Te\re shirt\n", 3, "bare carriage return"),
    ("merchant_sku,name\nMUG,Mug\r\nTEE,Tee\x00\n", 3, "NUL character"),
])
async def test_catalogue_import_of_an_unreadable_csv_is_422_naming_the_line(hub: Hub, body: str, line: int,
                                                                            reason: str) -> None:
    async with await _client(hub, "operator") as client:
        for send in ({"content": body.encode(), "headers": {"Content-Type": "text/csv"}},
                     {"files": {"file": ("bad.csv", body.encode())}}):
            refused = await client.post("/api/v1/catalogue/import", **send)  # type: ignore[arg-type]
            assert refused.status_code == 422, refused.text
            problem = refused.json()
            assert problem["error"] == "invalid_file" and problem["field"] == "body"
            assert f"line {line}:" in str(problem["detail"]) and reason in str(problem["detail"])
        assert (await client.get("/api/v1/skus")).json()["items"] == []  # nothing written
