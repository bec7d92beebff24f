"""CLI commands for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook.

``hub merge proposals`` lists orders that could ship together; ``hub merge ID ID...`` merges them
(``--force`` across buyers or addresses, ``--alone`` ships them alone instead, ``--undo MERGE_ID``);
``hub split ID --lines a,b --lines c`` splits an order by lines; ``hub intercept ID`` stops an
order's shipment now. The same service calls as the API, attributed to ``cli:<user>``.
"""

from __future__ import annotations

from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub``."""
    app.command("merge")(merge)
    app.command("split")(split)
    app.command("intercept")(intercept)


def _run(ctx: typer.Context, work: Any) -> Any:
    from hub.cli import _run_async, _state

    hub = _state(ctx).hub()
    return _run_async(hub, lambda: work(hub))


def _failure(exc: Any) -> Any:
    from hub.cli import EXIT_BAD_INPUT, EXIT_RUNTIME, CliFailure

    return CliFailure(str(exc), EXIT_BAD_INPUT if exc.status in (404, 422) else EXIT_RUNTIME)


def merge(
    ctx: typer.Context,
    targets: list[str] = typer.Argument(..., help="'proposals', or the ids of the orders to merge."),
    force: bool = typer.Option(False, "--force", help="Merge although buyer, address or shop differ."),
    alone: bool = typer.Option(False, "--alone", help="Ship these orders alone instead (decline a proposal)."),
    undo: bool = typer.Option(False, "--undo", help="TARGETS is a merge id: undo that merge."),
) -> None:
    """List merge proposals, or merge unrouted orders into one delivery."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _out, _report_errors
    from hub.services.fulfilment import merging

    @_report_errors
    def run() -> None:
        out = _out()
        if targets == ["proposals"]:
            async def listed(hub: Any) -> Any:
                async with hub.database().session() as session:
                    return await merging.proposals(session, hub.config.fulfilment.merge)

            found = _run(ctx, listed)
            if not found:
                out.print("no merge proposals")
            for p in found:
                note = "" if p.certain else "  (address masked: check)"
                out.print(f"{' '.join(map(str, p.order_ids))}  shops {','.join(p.shops)}{note}")
            return
        if undo:
            async def undone(hub: Any) -> Any:
                async with hub.database().transaction() as session:
                    return await merging.undo_merge(session, targets[0], actor=_actor())
            try:
                out.print(f"merge {targets[0]} undone: orders {' '.join(map(str, _run(ctx, undone)))}")
            except merging.PlanConflict as exc:
                raise _failure(exc) from None
            return
        try:
            ids = [int(t) for t in targets]
        except ValueError:
            raise CliFailure("order ids are numbers (or say 'proposals')", EXIT_BAD_INPUT) from None

        async def made(hub: Any) -> Any:
            async with hub.database().transaction() as session:
                if alone:
                    return await merging.ship_alone(session, ids, actor=_actor())
                return await merging.merge_orders(session, hub.config.fulfilment.merge, ids, actor=_actor(),
                                                  force=force)
        try:
            result = _run(ctx, made)
        except merging.PlanConflict as exc:
            raise _failure(exc) from None
        out.print(f"orders {' '.join(map(str, ids))} ship alone" if alone else f"merged: {result}")

    run()


def split(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., min=1, help="The unrouted order to split."),
    lines: list[str] = typer.Option(..., "--lines", help="One delivery's line ids, comma-separated; repeat."),
) -> None:
    """Split an unrouted order into deliveries by line."""
    from hub.cli import _out, _report_errors
    from hub.services.fulfilment import merging

    @_report_errors
    def run() -> None:
        groups = [[x.strip() for x in group.split(",") if x.strip()] for group in lines]

        async def work(hub: Any) -> None:
            async with hub.database().transaction() as session:
                await merging.split_order(session, order_id, groups, actor=_actor())
        try:
            _run(ctx, work)
        except merging.PlanConflict as exc:
            raise _failure(exc) from None
        _out().print(f"order {order_id} split into {len(groups)} deliveries")

    run()


def intercept(ctx: typer.Context, order_id: int = typer.Argument(..., min=1, help="The order to stop."),
              reason: str = typer.Option("", "--reason", help="Why, for the hold.")) -> None:
    """Stop an order's shipment now: hold it, cancel its delivery orders and unused waybills."""
    from hub.cli import EXIT_BAD_INPUT, CliFailure, _out, _report_errors
    from hub.services.fulfilment import interception

    @_report_errors
    def run() -> None:
        async def work(hub: Any) -> Any:
            async with hub.database().transaction() as session:
                if not await interception.request(session, order_id, actor=_actor(), reason=reason):
                    return None
            return await interception.intercept(hub, order_id, actor=_actor())
        result = _run(ctx, work)
        if result is None:
            raise CliFailure(f"order {order_id} does not exist or shipped already", EXIT_BAD_INPUT)
        out = _out()
        if result.get("nothing_sent"):
            out.print(f"order {order_id} held; nothing had been sent")
            return
        out.print(f"order {order_id}: delivery orders cancelled {result['cancelled'] or '-'}, too late "
                  f"{result['too_late'] or '-'}, waybills cancelled {result['waybills_cancelled'] or '-'}")

    run()


def _actor() -> str:
    from hub.cli import _cli_actor

    return _cli_actor()
