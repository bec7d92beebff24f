"""``hub catalogue`` and ``hub listings``: manage SKUs, bundles and listing bindings from the command line.

``hub catalogue add|update|deactivate|reactivate|list|show|import|export`` and ``hub listings
bind|unbind|list|unmatched|sync``. Imports check every row first (a bad row is named with its
field) and then write all rows in one transaction with a progress bar; nothing is half-applied.
Writes are attributed to ``cli`` (``import:<file>`` for a catalogue file). Not for the rules
themselves (``hub.services.catalogue``, ``hub.services.listings``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

catalogue_app = typer.Typer(help="The SKU catalogue: SKUs, bundles, CSV import and export.", no_args_is_help=True)
listings_app = typer.Typer(help="Listing bindings: which SKU each shop listing sells.", no_args_is_help=True)

COMPONENT_HELP = "A bundle component as SKU*QTY (repeatable); makes the SKU a bundle."


def register(app: typer.Typer) -> None:
    """Add ``hub catalogue`` and ``hub listings`` to the root CLI."""
    app.add_typer(catalogue_app, name="catalogue")
    app.add_typer(listings_app, name="listings")


def _progress() -> Progress:
    from hub.cli import _err

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_err(), transient=False)


def _components(values: list[str] | None) -> dict[str, int] | None:
    """``["A*2", "B"]`` → ``{"A": 2, "B": 1}``; None when no ``--component`` was given."""
    from hub.errors import BadInputError

    if not values:
        return None
    out: dict[str, int] = {}
    for value in values:
        sku, star, qty = value.rpartition("*")
        if not star:
            sku, qty = value, "1"
        try:
            out[sku.strip()] = int(qty)
        except ValueError:
            raise BadInputError(f"--component {value!r} is not SKU*QTY", field="components") from None
    return out


def _print_sku(view: Any) -> None:
    from hub.cli import _out
    from hub.services.catalogue import format_components

    out = _out()
    state = "active" if view.active else "deactivated"
    kind = f"bundle of {format_components(view.components)}" if view.is_bundle else "plain SKU"
    out.print(f"{view.merchant_sku}: {view.name or '(no name)'} — {kind}, {state}, safety stock {view.safety_stock}"
              f"{'' if view.low_stock_threshold is None else f', low at {view.low_stock_threshold}'}"
              f"{f', group {view.stock_group}' if view.stock_group else ''}"
              f"{f', product {view.product_code}' if view.product_code else ''}", markup=False)


def _run(ctx: typer.Context, work: Any) -> Any:
    from hub.cli import _run_async, _state

    hub = _state(ctx).hub()
    return _run_async(hub, lambda: work(hub))


# --------------------------------------------------------------------------- hub catalogue


@catalogue_app.command("add")
def add_sku(
    ctx: typer.Context,
    merchant_sku: str = typer.Argument(..., metavar="SKU"),
    name: str = typer.Option("", "--name", "-n"),
    product_code: str | None = typer.Option(None, "--product-code"),
    stock_group: str | None = typer.Option(None, "--stock-group"),
    safety_stock: int = typer.Option(0, "--safety-stock"),
    low_stock: int | None = typer.Option(None, "--low-stock", help="Low-stock threshold."),
    component: list[str] | None = typer.Option(None, "--component", "-c", help=COMPONENT_HELP),
) -> None:
    """Add a SKU (or, with --component, a bundle) to the catalogue."""
    from hub.cli import _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        raw: dict[str, Any] = {"merchant_sku": merchant_sku, "name": name, "product_code": product_code,
                               "stock_group": stock_group, "safety_stock": safety_stock,
                               "low_stock_threshold": low_stock, "components": _components(component)}
        draft = catalogue.check_draft({k: v for k, v in raw.items() if v is not None})
        _print_sku(_run(ctx, lambda hub: catalogue.create_sku(hub, draft, actor="cli")))

    run()


@catalogue_app.command("update")
def update_sku(
    ctx: typer.Context,
    merchant_sku: str = typer.Argument(..., metavar="SKU"),
    name: str | None = typer.Option(None, "--name", "-n"),
    product_code: str | None = typer.Option(None, "--product-code", help='"" clears it.'),
    stock_group: str | None = typer.Option(None, "--stock-group", help='"" clears it.'),
    safety_stock: int | None = typer.Option(None, "--safety-stock"),
    low_stock: int | None = typer.Option(None, "--low-stock", help="Low-stock threshold."),
    component: list[str] | None = typer.Option(None, "--component", "-c", help=COMPONENT_HELP + " Replaces them."),
    plain: bool = typer.Option(False, "--plain", help="Drop a bundle's components: a plain SKU again."),
) -> None:
    """Change the given fields of a SKU; the others stay."""
    from hub.cli import CliFailure, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        changes: dict[str, Any] = {k: v for k, v in {
            "name": name, "product_code": product_code, "stock_group": stock_group, "safety_stock": safety_stock,
            "low_stock_threshold": low_stock, "components": _components(component)}.items() if v is not None}
        if plain:
            changes["components"] = {}
        if not changes:
            raise CliFailure("nothing to change: give at least one option (see --help)", 2)
        _print_sku(_run(ctx, lambda hub: catalogue.update_sku(hub, merchant_sku, changes, actor="cli")))

    run()


def _set_active(ctx: typer.Context, merchant_sku: str, active: bool) -> None:
    from hub.cli import _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        _print_sku(_run(ctx, lambda hub: catalogue.set_active(hub, merchant_sku, active, actor="cli")))

    run()


@catalogue_app.command("deactivate")
def deactivate_sku(ctx: typer.Context, merchant_sku: str = typer.Argument(..., metavar="SKU")) -> None:
    """Deactivate a SKU: kept for history; no new listings or bundles use it."""
    _set_active(ctx, merchant_sku, False)


@catalogue_app.command("reactivate")
def reactivate_sku(ctx: typer.Context, merchant_sku: str = typer.Argument(..., metavar="SKU")) -> None:
    """Reactivate a deactivated SKU."""
    _set_active(ctx, merchant_sku, True)


@catalogue_app.command("show")
def show_sku(ctx: typer.Context, merchant_sku: str = typer.Argument(..., metavar="SKU")) -> None:
    """Show one SKU."""
    from hub.cli import _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        async def work(hub: Any) -> Any:
            async with hub.database().session() as session:
                return await catalogue.get_sku(session, merchant_sku)

        _print_sku(_run(ctx, work))

    run()


@catalogue_app.command("list")
def list_skus(
    ctx: typer.Context,
    prefix: str | None = typer.Option(None, "--prefix"),
    search: str | None = typer.Option(None, "--search", "-q", help="Text in the SKU, name or product code."),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Only active or only deactivated SKUs."),
    bundles: bool | None = typer.Option(None, "--bundles/--plain", help="Only bundles or only plain SKUs."),
    stock_group: str | None = typer.Option(None, "--stock-group"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    cursor: str | None = typer.Option(None, "--after", help="Start after this SKU (the last of the previous page)."),
) -> None:
    """List catalogue SKUs."""
    from hub.cli import _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        filters = catalogue.SkuFilter(prefix=prefix, search=search, active=active, is_bundle=bundles,
                                      stock_group=stock_group)

        async def work(hub: Any) -> Any:
            async with hub.database().session() as session:
                return await catalogue.list_skus(session, filters, cursor=cursor, limit=limit)

        page, next_cursor = _run(ctx, work)
        table = Table("SKU", "name", "active", "safety", "low", "group", "components")
        for s in page:
            table.add_row(s.merchant_sku, s.name, "yes" if s.active else "no", str(s.safety_stock),
                          "" if s.low_stock_threshold is None else str(s.low_stock_threshold), s.stock_group or "",
                          catalogue.format_components(s.components))
        out = _out()
        out.print(table)
        out.print(f"{len(page)} SKU(s)" + (f"; more after {next_cursor} (--after {next_cursor})" if next_cursor
                                           else ""), markup=False)

    run()


@catalogue_app.command("import")
def import_catalogue(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV with columns merchant_sku, name, product_code, stock_group, safety_stock, "
                                     "low_stock_threshold, active, components (SKU*QTY;…)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row, write nothing."),
) -> None:
    """Add or update SKUs and bundles from a CSV: all rows or none. A column the file leaves out keeps
    each existing SKU's value; an empty cell clears it."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        try:
            text = file.read_text(encoding="utf-8")

            async def work(hub: Any) -> tuple[int, catalogue.ImportReport]:
                drafts, labels = await catalogue.check_catalogue_file(hub, text)
                with _progress() as progress:
                    task = progress.add_task(f"importing {file.name}", total=len(drafts))
                    return len(drafts), await catalogue.import_catalogue(
                        hub, drafts, labels, actor=f"import:{file.name}"[:100], dry_run=dry_run,
                        on_applied=lambda _i: progress.advance(task))

            rows, report = _run(ctx, work)
        except catalogue.CatalogueImportError as exc:
            raise CliFailure(f"{file.name}: {exc}", EXIT_BAD_INPUT, [str(p) for p in exc.problems]) from exc
        out = _out()
        if dry_run:
            out.print(f"{file.name}: {rows} row(s) valid; nothing written (--dry-run)", markup=False)
            return
        out.print(f"{file.name}: {report.created} SKU(s) added, {report.updated} updated; "
                  f"{len(report.shops)} shop(s) to push", markup=False)

    run()


@catalogue_app.command("export")
def export_catalogue(
    ctx: typer.Context,
    file: Path | None = typer.Argument(None, dir_okay=False, help="Where to write; standard output if omitted."),
) -> None:
    """Write the whole catalogue as CSV, in the columns `hub catalogue import` reads."""
    from hub.cli import _err, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import catalogue

        async def work(hub: Any) -> list[Any]:
            async with hub.database().session() as session:
                return await catalogue.all_skus(session)

        skus = _run(ctx, work)
        text = catalogue.write_catalogue_csv(skus)
        if file is None:
            typer.echo(text, nl=False)
        else:
            file.write_text(text, encoding="utf-8")
            _err().print(f"wrote {len(skus)} SKU(s) to {file}", markup=False)

    run()


# --------------------------------------------------------------------------- hub listings


@listings_app.command("bind")
def bind_listing(
    ctx: typer.Context,
    shop: str = typer.Argument(...),
    channel_item_id: str = typer.Argument(..., metavar="ITEM_ID"),
    merchant_sku: str = typer.Argument(..., metavar="SKU"),
    channel_sku_id: str = typer.Option("", "--sku-id", help="The channel's SKU id; omit for an item without SKUs."),
    rebind: bool = typer.Option(False, "--rebind", help="Move the listing if it is bound to another SKU."),
) -> None:
    """Bind a shop listing to a merchant SKU by hand (the listing sync leaves it alone)."""
    from hub.cli import _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import listings

        view = _run(ctx, lambda hub: listings.bind(hub, shop, merchant_sku, channel_item_id, channel_sku_id,
                                                   actor="cli", rebind=rebind))
        _out().print(f"{shop}: listing {view.channel_item_id}/{view.channel_sku_id or '-'} sells {view.merchant_sku} "
                     "(bound by hand); its stock is pushed now", markup=False)

    run()


@listings_app.command("unbind")
def unbind_listing(
    ctx: typer.Context,
    shop: str = typer.Argument(...),
    channel_item_id: str = typer.Argument(..., metavar="ITEM_ID"),
    channel_sku_id: str = typer.Option("", "--sku-id"),
) -> None:
    """Unbind a listing: the hub stops pushing its stock."""
    from hub.cli import _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import listings

        view = _run(ctx, lambda hub: listings.unbind(hub, shop, channel_item_id, channel_sku_id, actor="cli"))
        _out().print(f"{shop}: listing {view.channel_item_id}/{view.channel_sku_id or '-'} no longer sells "
                     f"{view.merchant_sku}", markup=False)

    run()


@listings_app.command("list")
def list_bindings(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, "--shop", "-s"),
    merchant_sku: str | None = typer.Option(None, "--sku"),
    source: str | None = typer.Option(None, "--source", help="manual, sync or order."),
    limit: int = typer.Option(200, "--limit", min=1, max=1000),
) -> None:
    """List listing bindings."""
    from hub.cli import _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import listings

        filters = listings.BindingFilter(shop=shop, merchant_sku=merchant_sku, source=source)

        async def work(hub: Any) -> Any:
            async with hub.database().session() as session:
                return await listings.list_bindings(session, filters, limit=limit)

        page, _ = _run(ctx, work)
        table = Table("shop", "item", "sku id", "SKU", "source", "bound by")
        for b in page:
            table.add_row(b.shop, b.channel_item_id, b.channel_sku_id or "-", b.merchant_sku, b.source,
                          b.bound_by or "")
        _out().print(table)

    run()


def _unmatched_table(rows: list[tuple[str, str, str, str | None, str, str]]) -> Table:
    table = Table("shop", "item", "sku id", "merchant code", "title", "why")
    for shop, item, sku_id, code, title, why in rows:
        table.add_row(shop, item, sku_id or "-", code or "(none)", title[:40], why)
    return table


@listings_app.command("unmatched")
def list_unmatched(ctx: typer.Context, shop: str | None = typer.Option(None, "--shop", "-s"),
                   limit: int = typer.Option(200, "--limit", min=1, max=1000)) -> None:
    """Listings the last sync could not bind: no merchant code, or one that names no active SKU."""
    from hub.cli import _out, _report_errors

    @_report_errors
    def run() -> None:
        from hub.services import listings

        async def work(hub: Any) -> Any:
            async with hub.database().session() as session:
                return await listings.list_unmatched(session, shop=shop, limit=limit)

        page, _ = _run(ctx, work)
        _out().print(_unmatched_table([(r.shop, r.channel_item_id, r.channel_sku_id, r.merchant_code, r.title,
                                        r.outcome) for r in page]))

    run()


@listings_app.command("sync")
def sync_listings(
    ctx: typer.Context,
    shop: list[str] | None = typer.Option(None, "--shop", "-s", help="Only this shop (repeatable)."),
    rebind_manual: bool = typer.Option(False, "--rebind-manual", help="Also move listings bound by hand."),
) -> None:
    """Pull each shop's listings and bind them to catalogue SKUs by merchant code."""
    from hub.cli import CliFailure, _out, _report_errors, _state

    @_report_errors
    def run() -> None:
        from hub.services import listings

        config = _state(ctx).config()
        names = shop or [n for n, s in config.shops.items() if s.enabled]
        unknown = sorted(set(names) - set(config.shops))
        if unknown:
            raise CliFailure(f"unknown shop(s) {unknown}; configured: {sorted(config.shops)}", 2)

        async def work(hub: Any) -> list[listings.SyncReport]:
            reports = []
            with _progress() as progress:
                for name in names:
                    task = progress.add_task(f"listing {name}", total=None)

                    def seen(count: int, task: TaskID = task) -> None:
                        progress.update(task, completed=count)

                    reports.append(await listings.sync_shop(hub, name, rebind_manual=rebind_manual, actor="cli",
                                                            on_page=seen))
            return reports

        reports = _run(ctx, work)
        table = Table("shop", "seen", "bound", "already", "kept (manual)", "unmatched", "note")
        for r in reports:
            table.add_row(r.shop, str(r.seen), str(r.bound), str(r.already_bound), str(r.kept_manual),
                          str(len(r.unmatched)), r.skipped or "")
        out = _out()
        out.print(table)
        rows = [(r.shop, item.channel_item_id, item.channel_sku_id, item.merchant_code, item.title, outcome.value)
                for r in reports for item, outcome in r.unmatched]
        if rows:
            out.print("unmatched listings (add the SKU to the catalogue, set the code in the shop, or bind by hand):",
                      markup=False)
            out.print(_unmatched_table(rows))

    run()
