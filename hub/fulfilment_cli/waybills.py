"""CLI commands for courier choice, electronic waybills and printable labels."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub`` (none yet)."""
