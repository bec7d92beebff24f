"""A ``ConnectorContext`` for tests and tools: in-memory state, no rate limit.

Plugin tests build connectors with ``make_context(ConnectorClass, "shop", settings_dict)``; the
hub's own context (database-backed state, Redis token bucket) lives in ``hub.connectors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class InMemoryShopState:
    """``contracts.ShopState`` backed by a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


async def _no_throttle() -> None:
    return None


@dataclass
class SimpleContext:
    name: str
    platform: str
    settings: Any
    state: InMemoryShopState = field(default_factory=InMemoryShopState)
    throttle: Any = _no_throttle


def make_context(connector_class: type[Any], shop: str, settings: dict[str, Any]) -> SimpleContext:
    """Validate ``settings`` against the connector's ``Settings`` model and wrap them."""
    validated = connector_class.Settings.model_validate(settings)
    return SimpleContext(name=shop, platform=connector_class.platform, settings=validated)
