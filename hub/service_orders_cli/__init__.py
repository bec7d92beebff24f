"""The ``hub service-orders`` and ``hub technicians`` commands, one module per concern: ``cases``
(list, show), ``steps`` (assign, book, check in, complete, cancel, fail), ``creation`` (a service
order for an order of any shop), ``figures`` and ``technicians`` (the registry). ``register`` adds
both command groups to ``hub``."""

from __future__ import annotations

import importlib

import typer

MODULES = ("cases", "steps", "creation", "figures")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Service orders (installation, repair): list, show, steps, create, figures.",
                        no_args_is_help=True)
    for name in MODULES:
        importlib.import_module(f"hub.service_orders_cli.{name}").register(group)
    app.add_typer(group, name="service-orders")
    technicians = typer.Typer(help="Technicians who do service work: add, list, show, change, (de)activate.",
                              no_args_is_help=True)
    importlib.import_module("hub.service_orders_cli.technicians").register(technicians)
    app.add_typer(technicians, name="technicians")
