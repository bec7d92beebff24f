"""``hub shop``: operator commands for one shop — for now, authorising it with the code the
platform returned when the merchant authorised the app.

The same operation as ``POST /api/v1/shops/{shop}/authorize`` (``hub.services.shop_authorization``).
Not for listing shops or their status (``GET /api/v1/shops``).
"""

from __future__ import annotations

import getpass

import typer

shop_app = typer.Typer(help="Shops: authorise a shop with the platform's code.", no_args_is_help=True)


@shop_app.command("authorize")
def authorize(
    ctx: typer.Context,
    shop: str = typer.Argument(..., metavar="SHOP", help="The shop's name in hub.toml ([shops.<name>])."),
    code: str = typer.Option(..., "--code", help="The authorisation code the platform returned to the app "
                                                  "(Douyin: valid 10 minutes, once)."),
) -> None:
    """Exchange CODE for the shop's tokens; resume the shop if it was paused for its authorisation."""
    from hub.cli import _out, _report_errors, _run_async, _state

    @_report_errors
    def run() -> None:
        from hub.services.shop_authorization import AuthorizeOutcome, authorize_shop

        hub = _state(ctx).hub()
        actor = f"cli:{getpass.getuser()}"

        async def work() -> AuthorizeOutcome:
            return await authorize_shop(hub, shop, code, actor=actor)

        outcome = _run_async(hub, work)
        found = outcome.authorization
        name = f" ({found.account_name})" if found.account_name else ""
        expiry = f"; token valid until {found.expires_at:%Y-%m-%d %H:%M} UTC" if found.expires_at else ""
        _out().print(f"shop {shop!r} authorised as platform shop {found.account_id}{name}{expiry}", markup=False)
        if outcome.resumed:
            _out().print(f"shop {shop!r} was paused for its authorisation and is running again", markup=False)

    run()
