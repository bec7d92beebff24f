"""CLI commands for routing and delivery orders: to a WMS or the own warehouse."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub`` (none yet)."""
