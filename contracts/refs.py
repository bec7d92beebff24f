"""Where a thing lives outside the hub: ``ChannelRef(platform, shop, external_id)``.

The hub's own ids are separate; the ``bindings`` table links the two. Platform ids are always
strings (TOP ``tid``/``oid`` and Douyin order ids exceed 2^53 and must never pass through a float).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _id_as_string(value: Any) -> str:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("platform ids must be strings or integers, never floats or booleans")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


class ChannelRef(BaseModel):
    """A reference to an object on a partner platform, within one configured shop/account."""

    model_config = ConfigDict(frozen=True)

    platform: str = Field(min_length=1, description="Platform name, e.g. 'taobao', 'douyin'.")
    shop: str = Field(min_length=1, description="The configured shop (account) name in hub.toml.")
    external_id: str = Field(description="The platform's id of the object, as a string.")

    @field_validator("external_id", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> str:
        return _id_as_string(value)

    def __str__(self) -> str:
        return f"{self.platform}:{self.shop}:{self.external_id}"


def platform_id(value: Any) -> str:
    """Normalise a platform id (int or str) to the canonical string form; rejects floats."""
    return _id_as_string(value)
