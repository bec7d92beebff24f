"""CLI commands for the review queue: orders held by review strategies, approve, hold and release."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub`` (none yet)."""
