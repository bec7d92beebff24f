"""The fulfilment commands of ``hub``, one module per step; ``register`` adds them all."""

from __future__ import annotations

import importlib

import typer

MODULES = ("review", "delivery", "warehouse", "waybills", "tracking", "merging")


def register(app: typer.Typer) -> None:
    for name in MODULES:
        importlib.import_module(f"hub.fulfilment_cli.{name}").register(app)
