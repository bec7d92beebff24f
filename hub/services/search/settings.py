"""The ``[search]`` section of the configuration.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SearchSection(BaseModel):
    """``[search]``."""

    model_config = ConfigDict(extra="forbid")
