"""``hub orders list``, ``show`` and ``reindex-search``: find orders from the command line (the same
filters, one-box search and sorts as ``GET /api/v1/orders``), show one order's triage state, and
recompute the search hashes of every order (after the key changed, or for orders stored before).

Personal data is searched through keyed hashes only and never printed here. Not for changing
orders (``hub.operations_cli.triage``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def register(group: typer.Typer) -> None:
    """Add ``list``, ``show`` and ``reindex-search`` to the ``hub orders`` group."""
    group.command("list")(orders_list)
    group.command("show")(order_show)
    group.command("reindex-search")(reindex_search)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def orders_list(
    ctx: typer.Context,
    q: str | None = typer.Option(None, "--q", help="One box: order number, buyer nick, recipient name or phone "
                                                   "(4 digits: the phone's last four)."),
    order_no: str | None = typer.Option(None, "--order-no", help="The platform's order number, exactly."),
    recipient: str | None = typer.Option(None, "--recipient", help="The recipient's name."),
    phone: str | None = typer.Option(None, "--phone", help="The phone, in full or its last 4 digits."),
    buyer: str | None = typer.Option(None, "--buyer", help="The buyer's nick, exactly."),
    shop: str | None = typer.Option(None, "--shop"),
    status: str | None = typer.Option(None, "--status"),
    on_hold: bool | None = typer.Option(None, "--on-hold/--not-held", help="Only held / only not held orders."),
    user_tag: str | None = typer.Option(None, "--tag", help="Orders carrying this user tag."),
    priority_min: int | None = typer.Option(None, "--priority-min", min=-9, max=9),
    sort: str = typer.Option("-id", "--sort", help="-id, -paid_at, paid_at, -total, total or -priority."),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
) -> None:
    """Orders matching the filters, in the chosen order (newest first by default)."""
    from rich.table import Table

    from hub.api.queries.orders import OrderFilters, list_orders
    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.db.tables import OrderRow
    from hub.services.search.hashing import key_for
    from hub.services.search.tags import TagView, tags_of
    from hub.services.search.terms import phone_search, quick_search, recipient_search

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        key = key_for(hub.config)[0]
        filters = OrderFilters(
            status=(status,) if status else (), shop=shop, buyer=buyer, on_hold=on_hold, order_no=order_no,
            quick=quick_search(q, key) if q and q.strip() else None,
            recipient_hash=recipient_search(recipient, key, "--recipient") if recipient else None,
            phone=phone_search(phone, key, "--phone") if phone else None,
            user_tag=user_tag, priority_min=priority_min)

        async def work() -> tuple[list[OrderRow], dict[int, list[TagView]]]:
            async with hub.database().session() as session:
                page = await list_orders(session, filters, limit=limit, sort=sort)
                return list(page.rows), await tags_of(session, [r.id for r in page.rows])

        rows, tags = _run_async(hub, work)
        if not rows:
            _out().print("no order matches", markup=False)
            return
        table = Table(title=f"Orders ({len(rows)})")
        for column in ("id", "shop", "order no", "status", "total", "paid", "priority", "held", "tags"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(str(r.id), r.shop, r.external_id, r.status, f"{r.total_amount:.2f} {r.currency}",
                          _when(r.paid_at), str(r.priority), "yes" if r.on_hold else "",
                          ", ".join(t.name for t in tags.get(r.id, [])))
        _out().print(table)

    run()


def order_show(ctx: typer.Context, order_id: int = typer.Argument(..., metavar="ID", min=1)) -> None:
    """One order: status, priority, user tags, holds and history (no personal data)."""
    from hub.api.queries.orders import OrderStory, order_story
    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.errors import NotFoundError
    from hub.services.search.tags import TagView, tags_of

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def work() -> tuple[OrderStory, list[TagView]]:
            async with hub.database().session() as session:
                story = await order_story(session, order_id)
                if story is None:
                    raise NotFoundError(f"order {order_id} does not exist")
                return story, list((await tags_of(session, [order_id])).get(order_id, []))

        story, tags = _run_async(hub, work)
        out, o = _out(), story.order
        out.print(f"order {o.id}: {o.platform} {o.shop} {o.external_id}, {o.status} / {o.fulfilment_status}, "
                  f"{o.total_amount:.2f} {o.currency}, priority {o.priority}", markup=False)
        out.print(f"  user tags: {', '.join(t.name for t in tags) or '-'}", markup=False)
        for h in story.holds:
            state = f"released by {h.released_by}" if h.released_at else "open"
            out.print(f"  hold {h.code} ({state}): {h.reason}", markup=False)
        for e in story.events:
            out.print(f"  {_when(e.at)} {e.kind} by {e.actor or '-'} ({e.cause})", markup=False)

    run()


def reindex_search(ctx: typer.Context, batch: int | None = typer.Option(None, "--batch", min=1, max=10_000)) -> None:
    """Recompute every order's search hashes under the current key, in batches."""
    from hub.cli import _out, _report_errors, _run_async, _state
    from hub.services.search.hashing import key_for
    from hub.services.search.reindex import ReindexResult, reindex

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        key, source = key_for(hub.config)

        async def work() -> ReindexResult:
            return await reindex(hub.database(), key, batch=batch or hub.config.search.reindex_batch)

        done = _run_async(hub, work)
        _out().print(f"reindexed {done.orders} order(s) in {done.batches} batch(es); key from {source}", markup=False)

    run()
