"""The ``[batch]`` section of the configuration.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BatchSection(BaseModel):
    """``[batch]``: when a batch is answered at once and how a background job walks its items."""

    model_config = ConfigDict(extra="forbid")

    sync_limit: int = Field(default=200, ge=0, le=5000, description=(
        "Batches of at most this many items are run in the request and answered with every outcome; "
        "larger ones become a background job (202) whose progress you poll."))
    chunk_size: int = Field(default=100, ge=1, le=5000, description=(
        "A background job applies this many items per transaction and commits its progress after each."))
    max_items: int = Field(default=50_000, ge=1, le=1_000_000, description="The most items one batch may name.")
