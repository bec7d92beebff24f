"""The ``[order_edits]`` section of the configuration.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OrderEditsSection(BaseModel):
    """``[order_edits]``."""

    model_config = ConfigDict(extra="forbid")

    #: How many times a write-back that got no answer is sent (same key) before it is marked failed.
    writeback_max_attempts: int = Field(default=8, ge=1, le=100)
    #: The edit kinds that wait in the approval queue (``orders.approve``) before they take effect.
    approval_kinds: list[str] = Field(default_factory=lambda: ["price", "quantity"])
    #: The longest note (memo or buyer remark) the hub takes, in characters.
    note_max_chars: int = Field(default=500, ge=1, le=5000)
