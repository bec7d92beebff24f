"""``hub aftersales`` commands that decide cases: approve, refuse, agree-return, receive,
agree-exchange, ship-exchange, reissue; and ``reasons`` (the platform's refuse reasons).

The same decisions as ``POST /api/v1/aftersales/{id}/decisions`` through
``hub.services.aftersales.decisions``, attributed to ``cli:<os user>``; ``--key`` makes a repeated
command decide once. Exit 0 when the platform took it (or the hub recorded it), 0 with "pending"
when the write-back waits for a retry, 2 for a decision that does not apply, 1 for a conflict.
Not for reading cases (``cases``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer

CASE = typer.Argument(..., metavar="CASE_ID", min=1, help="The hub's id of the case.")
WAREHOUSE = typer.Option(None, "--warehouse", help="Ship from here (default: routed as an order).")
KEY = typer.Option(None, "--key", max=80, help="An idempotency key: the same command again decides nothing more.")


def _amount(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not an amount", param_hint="--amount") from None


def _quality(values: list[str]) -> tuple[Any, ...]:
    """``POSITION:GOOD:DAMAGED`` per line (``2:1:1``: line 2, one good, one damaged)."""
    from hub.services.aftersales.decisions import LineQuality

    out = []
    for value in values:
        parts = value.split(":")
        try:
            position, good, damaged = (int(p) for p in parts) if len(parts) == 3 else (0, 0, -1)
        except ValueError:
            position, good, damaged = 0, 0, -1
        if position < 0 or damaged < 0 or good < 0:
            raise typer.BadParameter(f"{value!r}: give POSITION:GOOD:DAMAGED, e.g. 1:2:0", param_hint="--quality")
        out.append(LineQuality(position, good, damaged))
    return tuple(out)


def _case_type(ctx: typer.Context, case_id: int) -> str | None:
    """The case's type (None when there is no such case: the decision then says so)."""
    from sqlalchemy import select

    from hub.cli import _report_errors, _run_async, _state
    from hub.db.tables import AfterSaleRow

    @_report_errors
    def run() -> str | None:
        hub = _state(ctx).hub()

        async def read() -> str | None:
            async with hub.database().session() as session:
                found = await session.scalar(select(AfterSaleRow.type).where(AfterSaleRow.id == case_id))
                return str(found) if found is not None else None

        return _run_async(hub, read)

    return run()


def _decide(ctx: typer.Context, case_id: int, key: str | None, **fields: Any) -> None:
    from hub.cli import EXIT_RUNTIME, CliFailure, _cli_actor, _out, _report_errors, _run_async, _state
    from hub.services.aftersales import decisions

    @_report_errors
    def run() -> None:
        hub = _state(ctx).hub()
        actor = _cli_actor()
        decision = decisions.DecisionIn(**fields)
        try:
            outcome = _run_async(hub, lambda: decisions.decide(
                hub, case_id, decision, actor=actor, key=f"{actor}:{key}" if key else None, cause="cli"))
        except decisions.CaseConflictError as exc:
            current = exc.current or {}
            raise CliFailure(str(exc), EXIT_RUNTIME, [f"the platform now says: {current.get('status', 'unknown')} "
                                                      f"({current.get('raw_status', '-')})"]) from None
        out = _out()
        again = " (repeated: nothing done again)" if outcome.repeated else ""
        out.print(f"case {case_id}: {outcome.action} {outcome.state}{again}; status {outcome.status}", markup=False)
        if outcome.note:
            out.print(f"  {outcome.note}", markup=False)
        for move in outcome.stock:
            out.print(f"  stock: {move['quantity']} × {move['sku']} → {move['warehouse']} ({move['condition']})",
                      markup=False)
        if outcome.delivery_order_id:
            out.print(f"  delivery order {outcome.delivery_order_id}", markup=False)

    run()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``hub aftersales`` group."""

    @app.command("approve")
    def approve(ctx: typer.Context, case_id: int = CASE,
                amount: str | None = typer.Option(None, "--amount", help="The refund (default: what the buyer "
                                                                        "asked); at most what was paid."),
                remark: str | None = typer.Option(None, "--remark"), key: str | None = KEY) -> None:
        """Approve a refund (without a return)."""
        _decide(ctx, case_id, key, action="approve_refund", refund_amount=_amount(amount), remark=remark)

    @app.command("refuse")
    def refuse(ctx: typer.Context, case_id: int = CASE,
               reason_id: str | None = typer.Option(None, "--reason-id", help="From `hub aftersales reasons`."),
               reason: str | None = typer.Option(None, "--reason", help="The reason in words."),
               returned: bool = typer.Option(False, "--returned", help="Refuse goods that came back "
                                                                      "(refuse_return) rather than the request."),
               remark: str | None = typer.Option(None, "--remark"), key: str | None = KEY) -> None:
        """Refuse the request (or, with --returned, the goods that came back), with a reason."""
        _decide(ctx, case_id, key, action="refuse_return" if returned else "refuse", reason_id=reason_id,
                reason_text=reason, remark=remark)

    @app.command("agree-return")
    def agree_return(ctx: typer.Context, case_id: int = CASE, remark: str | None = typer.Option(None, "--remark"),
                     key: str | None = KEY) -> None:
        """Let the buyer send the goods back (to the shop's [aftersales] return address)."""
        _decide(ctx, case_id, key, action="agree_return", remark=remark)

    @app.command("receive")
    def receive(ctx: typer.Context, case_id: int = CASE,
                quality: list[str] = typer.Option([], "--quality", help="POSITION:GOOD:DAMAGED per line; "
                                                                         "none: everything came back good."),
                amount: str | None = typer.Option(None, "--amount", help="The refund (returns only)."),
                key: str | None = KEY) -> None:
        """The goods came back: into stock (damaged to the defective location), then the refund
        (confirm_return) or, for an exchange, the replacement may ship (receive_exchange)."""
        if _case_type(ctx, case_id) == "exchange":
            _decide(ctx, case_id, key, action="receive_exchange", quality=_quality(quality))
        else:
            _decide(ctx, case_id, key, action="confirm_return", quality=_quality(quality),
                    refund_amount=_amount(amount))

    @app.command("agree-exchange")
    def agree_exchange(ctx: typer.Context, case_id: int = CASE, remark: str | None = typer.Option(None, "--remark"),
                       key: str | None = KEY) -> None:
        """Let the buyer send the goods back for a replacement."""
        _decide(ctx, case_id, key, action="agree_exchange", remark=remark)

    @app.command("ship-exchange")
    def ship_exchange(ctx: typer.Context, case_id: int = CASE,
                      warehouse: str | None = WAREHOUSE,
                      courier: str | None = typer.Option(None, "--courier", help="Shipped outside the hub: courier."),
                      tracking: str | None = typer.Option(None, "--tracking", help="... and tracking number."),
                      key: str | None = KEY) -> None:
        """Send the replacement: a delivery order (the platform is told when it ships), or a parcel that left."""
        _decide(ctx, case_id, key, action="ship_exchange", warehouse=warehouse, courier_code=courier,
                tracking_number=tracking)

    @app.command("reissue")
    def reissue(ctx: typer.Context, case_id: int = CASE,
                warehouse: str | None = WAREHOUSE,
                courier: str | None = typer.Option(None, "--courier", help="Sent outside the hub: courier."),
                tracking: str | None = typer.Option(None, "--tracking", help="... and tracking number."),
                key: str | None = KEY) -> None:
        """Send the goods again (补发) without a return."""
        _decide(ctx, case_id, key, action="reissue", warehouse=warehouse, courier_code=courier,
                tracking_number=tracking)

    @app.command("reasons")
    def reasons(ctx: typer.Context, case_id: int = CASE) -> None:
        """The platform's reasons for refusing the case now (none: refuse with --reason in words)."""
        from hub.cli import _out, _report_errors, _run_async, _state
        from hub.services.aftersales import decisions

        @_report_errors
        def run() -> None:
            hub = _state(ctx).hub()
            found = _run_async(hub, lambda: decisions.refuse_reasons(hub, case_id))
            if not found:
                _out().print("the platform takes a reason in words only (--reason)", markup=False)
            for reason in found:
                proof = " (proof required)" if reason.proof_required else ""
                _out().print(f"{reason.id}\t{reason.text}{proof}", markup=False)

        run()
