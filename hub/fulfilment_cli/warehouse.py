"""CLI commands for pick list, pack and ship; WMS confirmations and stock reports."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub`` (none yet)."""
