"""The operations commands, one module per concern: ``hub orders`` (``search``: find, show, sort;
``triage``: tags on orders, priority, manual holds; ``edits``: edits, approvals, cancellation) and
the groups ``hub tags``, ``hub jobs``/batch commands, ``hub export``, ``hub notifications`` and
``hub reports``. ``register`` adds them all to ``hub``."""

from __future__ import annotations

import importlib

import typer

ORDERS_MODULES = ("search", "triage", "edits")
APP_MODULES = ("tags", "batch", "export", "notifications", "reports")


def register(app: typer.Typer) -> None:
    orders = typer.Typer(help="Orders: search, show, tags, priority, holds, edits and approvals.", no_args_is_help=True)
    for name in ORDERS_MODULES:
        importlib.import_module(f"hub.operations_cli.{name}").register(orders)
    app.add_typer(orders, name="orders")
    for name in APP_MODULES:
        importlib.import_module(f"hub.operations_cli.{name}").register(app)
