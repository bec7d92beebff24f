"""CLI commands for parcel tracking, its timeline and stuck-parcel exceptions."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this step's commands to ``hub`` (none yet)."""
