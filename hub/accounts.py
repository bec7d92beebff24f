"""Connector instances per configured account (shops, couriers, warehouses), on one event loop.

Builds each connector with its ``ConnectorContext``: validated settings (config merged with
credentials from the environment), database-backed ``ShopState`` and the per-shop token bucket
(Redis when configured, in-process otherwise). Not for deciding *what* to call: services do that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hub.config import AccountConfig, resolve_credentials
from hub.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from hub.context import Hub


@dataclass
class AccountContext:
    """``contracts.ConnectorContext`` as the hub provides it."""

    name: str
    platform: str
    settings: Any
    state: Any
    throttle: Any
    kind: str = "channel"
    extra: dict[str, Any] = field(default_factory=dict)


class AccountRegistry:
    """Lazily instantiated connectors, keyed by (kind, account name)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._instances: dict[tuple[str, str], Any] = {}

    def _account(self, kind: str, name: str) -> AccountConfig:
        sections: dict[str, dict[str, Any]] = {
            "channel": dict(self.hub.config.shops),
            "courier": dict(self.hub.config.couriers),
            "warehouse": dict(self.hub.config.warehouses),
        }
        account = sections[kind].get(name)
        if account is None or not account.enabled:
            raise NotFoundError(f"no enabled {kind} account named {name!r} in the configuration")
        return account

    def _build(self, kind: str, name: str) -> Any:
        from hub.db.shop_state import DbShopState
        from hub.queue.ratelimit import TokenBucket

        account = self._account(kind, name)
        cls = self.hub.plugins.connector_class(kind, account.platform)
        if cls is None:
            raise ConfigError(f"{kind} {name!r}: no connector for platform {account.platform!r}")
        section = {"channel": "shops", "courier": "couriers", "warehouse": "warehouses"}[kind]
        values, problems = resolve_credentials(account, f"{section}.{name}", secrets=self.hub.config.secrets)
        if problems:
            raise ConfigError(f"{kind} {name!r} is misconfigured", problems)
        try:
            settings = cls.Settings.model_validate(values)
        except ValidationError as exc:  # a person must fix the file: final, never retried as transient
            raise ConfigError(f"{kind} {name!r}: its settings are invalid", [
                (f"{section}.{name}.settings." + ".".join(str(part) for part in error["loc"]), error["msg"])
                for error in exc.errors()]) from exc
        bucket = TokenBucket(
            self.hub.redis(), f"ratelimit:{kind}:{name}", account.rate_limit_per_s, account.rate_limit_burst,
            key_prefix=self.hub.redis_key(""),
        )
        context = AccountContext(
            name=name,
            platform=account.platform,
            settings=settings,
            state=DbShopState(self.hub.database(), f"{kind}:{name}"),
            throttle=bucket.acquire,
            kind=kind,
        )
        return cls(context)

    def get(self, kind: str, name: str) -> Any:
        key = (kind, name)
        instance = self._instances.get(key)
        if instance is None:
            instance = self._build(kind, name)
            self._instances[key] = instance
        return instance

    def channel(self, shop: str) -> Any:
        return self.get("channel", shop)

    def courier(self, name: str) -> Any:
        return self.get("courier", name)

    def warehouse(self, name: str) -> Any:
        return self.get("warehouse", name)

    async def aclose(self) -> None:
        for instance in self._instances.values():
            close = getattr(instance, "aclose", None)
            if close is not None:
                await close()
        self._instances.clear()
