"""CLI commands for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub`` (none yet)."""
