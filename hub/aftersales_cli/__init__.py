"""The ``hub aftersales`` commands, one module per concern: ``cases`` (list, show), ``decisions``
(approve, refuse, agree to a return, receive, exchange, reissue; refuse reasons) and ``figures``
(rates and reasons). ``register`` adds the ``aftersales`` command group to ``hub``."""

from __future__ import annotations

import importlib

import typer

MODULES = ("cases", "decisions", "figures")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="After-sales cases: list, show, decide, figures.", no_args_is_help=True)
    for name in MODULES:
        importlib.import_module(f"hub.aftersales_cli.{name}").register(group)
    app.add_typer(group, name="aftersales")
