"""Decisions that extension hooks return: audit holds and routing.

Pure values; the hub applies them. Not for warehouse wire formats (those live in plugins).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Hold(BaseModel):
    """A reason an order must not proceed until a person (or a later event) lifts it."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="Machine code: 'stock_short', 'cancel_requested'."
    )
    reason: str = Field(min_length=1, description="What a person reads in the dashboard.")


class RoutingDecision(BaseModel):
    """Which warehouse(s) fulfil an order: one, or a split of lines across several."""

    model_config = ConfigDict(frozen=True)

    warehouse: str | None = Field(default=None, description="One warehouse for the whole order.")
    split: dict[str, list[str]] = Field(
        default_factory=dict, description="Warehouse → line external ids, when split."
    )
    reason: str = ""
