"""The ``[reports]`` section of the configuration.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReportsSection(BaseModel):
    """``[reports]``."""

    model_config = ConfigDict(extra="forbid")
