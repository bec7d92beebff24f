"""The ``[order_edits]`` section of the configuration.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class OrderEditsSection(BaseModel):
    """``[order_edits]``."""

    model_config = ConfigDict(extra="forbid")
