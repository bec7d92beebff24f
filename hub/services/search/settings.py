"""The ``[search]`` section of the configuration.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SearchSection(BaseModel):
    """``[search]``."""

    model_config = ConfigDict(extra="forbid")

    key_secret: str = Field(
        default="HUB_SEARCH_KEY",
        description="The secret (environment variable, <NAME>_FILE or [hub] secrets_file entry) holding the key "
                    "of the keyed hashes personal data is searched by. Absent: derived from "
                    "[console] session_secret, else from [hub] database_url "
                    "(docs/operations/search-and-triage.md).",
    )
    reindex_batch: int = Field(default=500, ge=1, le=10_000,
                               description="Orders per transaction of `hub orders reindex-search`.")
