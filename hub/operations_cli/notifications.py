"""``hub`` commands: notifications."""

from __future__ import annotations

import typer


def register(group: typer.Typer) -> None:
    """Add this module's commands to ``group``."""
