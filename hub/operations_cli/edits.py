"""``hub orders`` commands that edit orders: ``edit`` (address, notes, flag, price and quantity —
money changes wait for approval), ``cancel`` (an unshipped order), ``approvals`` (the queue),
``approve`` and ``reject``.

The same services as ``POST /api/v1/orders/{id}/edits`` and ``/api/v1/order-edits/{id}/…``
(``hub.services.order_edits``), attributed to ``cli:<os user>``. Without ``--if-version`` an edit
applies to the order as it is now. Exit 0 when recorded (the write-back's state is printed), 2
for a bad value (naming the field) or an unknown order, 1 when the order's state refuses it.
Buyers' personal data is never printed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer

ORDER = typer.Argument(..., metavar="ID", min=1, help="The hub's id of the order.")
EDIT = typer.Argument(..., metavar="EDIT_ID", min=1, help="The id of the edit.")
IF_VERSION = typer.Option(None, "--if-version", min=1, help="Only if the order is still at this version.")
FLAGS = ("none", "red", "yellow", "green", "blue", "purple", "pink", "cyan", "orange")


def _pairs(values: list[str], field: str, convert: Any) -> list[tuple[str, Any]]:
    from hub.errors import BadInputError

    pairs = []
    for value in values:
        line, sep, amount = value.partition("=")
        try:
            if not sep or not line:
                raise ValueError
            pairs.append((line, convert(amount)))
        except (ValueError, InvalidOperation):
            raise BadInputError(f"{field}: {value!r} is not LINE=VALUE", field=field) from None
    return pairs


def _print_edit(view: Any) -> None:
    from hub.cli import _out

    out = _out()
    out.print(f"edit {view.id} of order {view.order_id} ({view.kind}): {view.status}; write-back {view.writeback}",
              markup=False)
    if view.writeback_error:
        out.print(f"  {view.writeback_error}", markup=False)


def _edit(ctx: typer.Context, order_id: int, kind: str, values: Any, reason: str, if_version: int | None) -> None:
    from contracts.order_edits import OrderEditKind
    from hub.cli import _cli_actor, _report_errors, _run_async, _state
    from hub.services.order_edits import records
    from hub.services.order_edits.request import EditAsk, request_edit

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()

        async def go() -> Any:
            version = if_version
            if version is None:
                async with hub.database().session() as session:
                    version = (await records.load_order(session, order_id, None)).version
            ask = EditAsk(kind=OrderEditKind(kind), values=values, reason=reason, version=version)
            return await request_edit(hub, order_id, ask, actor=_cli_actor(), principal=None, cause="cli")

        _print_edit(_run_async(hub, go))

    run()


def _decide(ctx: typer.Context, edit_id: int, *, approve: bool, note: str | None) -> None:
    from hub.cli import _cli_actor, _out, _report_errors, _run_async, _state
    from hub.errors import ConflictError, NotFoundError
    from hub.services.order_edits import approvals

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        outcome = _run_async(hub, lambda: approvals.decide(hub, [edit_id], approve=approve, actor=_cli_actor(),
                                                           note=note, principal=None))[edit_id]
        if not outcome.ok:
            raise (NotFoundError if "does not exist" in outcome.message else ConflictError)(outcome.message)
        _out().print(f"edit {edit_id}: {outcome.message}", markup=False)

    run()


def register(group: typer.Typer) -> None:
    """Add this module's commands to ``hub orders``."""

    @group.command("edit")
    def edit(ctx: typer.Context, order_id: int = ORDER,
             address_name: str | None = typer.Option(None, "--address-name"),
             address_phone: str | None = typer.Option(None, "--address-phone"),
             address_province: str | None = typer.Option(None, "--address-province"),
             address_city: str | None = typer.Option(None, "--address-city"),
             address_district: str | None = typer.Option(None, "--address-district"),
             address_street: str | None = typer.Option(None, "--address-street"),
             address_postcode: str | None = typer.Option(None, "--address-postcode"),
             seller_note: str | None = typer.Option(None, "--seller-note", help="The seller's memo ('' clears it)."),
             buyer_note: str | None = typer.Option(None, "--buyer-note", help="The hub's copy of the buyer's remark."),
             flag: str | None = typer.Option(None, "--flag", help=f"One of: {', '.join(FLAGS)}."),
             price: list[str] = typer.Option([], "--price", help="LINE=AMOUNT (unit price); waits for approval."),
             quantity: list[str] = typer.Option([], "--quantity", help="LINE=N; waits for approval."),
             reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
             if_version: int | None = IF_VERSION) -> None:
        """Edit one thing on an order (one kind per command)."""
        from contracts.order_edits import LineChange, OrderEditValues, SellerFlag
        from contracts.orders import Address
        from hub.cli import _report_errors
        from hub.errors import BadInputError

        @_report_errors
        def build() -> tuple[str, OrderEditValues]:
            address = {"name": address_name, "phone": address_phone, "province": address_province,
                       "city": address_city, "district": address_district, "street": address_street,
                       "postcode": address_postcode}
            kinds: list[tuple[str, OrderEditValues]] = []
            if any(address.values()):
                kinds.append(("address", OrderEditValues(address=Address(**address))))
            if seller_note is not None:
                kinds.append(("seller_note", OrderEditValues(note=seller_note)))
            if buyer_note is not None:
                kinds.append(("buyer_note", OrderEditValues(note=buyer_note)))
            if flag is not None:
                if flag not in FLAGS:
                    raise BadInputError(f"flag: one of {', '.join(FLAGS)}", field="flag")
                kinds.append(("flag", OrderEditValues(flag=SellerFlag[flag.upper()])))
            if price:
                kinds.append(("price", OrderEditValues(lines=[LineChange(line=line, unit_price=amount) for line, amount
                                                               in _pairs(price, "price", Decimal)])))
            if quantity:
                kinds.append(("quantity", OrderEditValues(lines=[LineChange(line=line, quantity=n) for line, n
                                                                  in _pairs(quantity, "quantity", int)])))
            if len(kinds) != 1:
                raise BadInputError("give exactly one kind of edit (--address-…, --seller-note, --buyer-note, "
                                    "--flag, --price or --quantity)", field="kind")
            return kinds[0]

        kind, values = build()
        _edit(ctx, order_id, kind, values, reason, if_version)

    @group.command("cancel")
    def cancel(ctx: typer.Context, order_id: int = ORDER,
               reason: str = typer.Option(..., "--reason", help="Why the order is cancelled."),
               if_version: int | None = IF_VERSION) -> None:
        """Cancel an unshipped order: its stock goes back, and the platform is told where it can be."""
        from contracts.order_edits import OrderEditValues

        _edit(ctx, order_id, "cancel", OrderEditValues(reason=reason), reason, if_version)

    @group.command("approvals")
    def approvals_(ctx: typer.Context, status: str = typer.Option("pending_approval", "--status")) -> None:
        """The money changes waiting for approval (or edits in another status)."""
        from hub.cli import _out, _report_errors, _run_async, _state
        from hub.services.order_edits import approvals, records

        @_report_errors
        def run() -> None:
            hub = _state(ctx).hub()

            async def go() -> list[Any]:
                async with hub.database().session() as session:
                    return [records.view(r, pii=False) for r in await approvals.queue(session, None, status=status)]

            rows = _run_async(hub, go)
            out = _out()
            if not rows:
                out.print(f"no edits {status}", markup=False)
            for v in rows:
                changed = ", ".join(f"{c['line']}: {b.get('unit_price', b.get('quantity'))} → "
                                    f"{c.get('unit_price', c.get('quantity'))}"
                                    for b, c in zip(v.before.get("lines", []), v.after.get("lines", []), strict=False))
                out.print(f"{v.id}\torder {v.order_id}\t{v.shop}\t{v.kind}\t{changed}\tby {v.requested_by}\t"
                          f"{v.reason}", markup=False)

        run()

    @group.command("approve")
    def approve(ctx: typer.Context, edit_id: int = EDIT, note: str | None = typer.Option(None, "--note")) -> None:
        """Approve a money change (not your own): it is applied and written back."""
        _decide(ctx, edit_id, approve=True, note=note)

    @group.command("reject")
    def reject(ctx: typer.Context, edit_id: int = EDIT,
               note: str = typer.Option(..., "--note", help="Why it is rejected.")) -> None:
        """Reject a money change."""
        _decide(ctx, edit_id, approve=False, note=note)
