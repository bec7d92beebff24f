"""The configured notification channels: each one's notifier built from its kind and settings.

Secrets come from the environment (or ``[hub] secrets_file``) by the names in ``credentials``, as
for shops; ``describe`` shows a channel without them. Tests and the demo route the HTTP notifiers
to an in-process receiver with ``use_transport``. Not for sending: ``deliveries`` does that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import ValidationError

from hub.errors import ConfigError, NotFoundError
from hub.services.notifications.settings import NotificationChannel

_transport: httpx.AsyncBaseTransport | None = None


@contextmanager
def use_transport(transport: httpx.AsyncBaseTransport | None) -> Iterator[None]:
    """Send the HTTP notifiers' requests through ``transport`` (an ASGI app in tests) for the block."""
    global _transport
    previous, _transport = _transport, transport
    try:
        yield
    finally:
        _transport = previous


def channel_config(hub: Any, name: str) -> NotificationChannel:
    channel = hub.config.notifications.channels.get(name)
    if channel is None:
        raise NotFoundError(f"notification channel {name!r} does not exist")
    return channel


def settings_values(hub: Any, name: str, channel: NotificationChannel) -> dict[str, Any]:
    env = {**hub.config.secrets, **os.environ}
    values = dict(channel.settings)
    for key, var in channel.credentials.items():
        if var in env:
            values[key] = env[var]
        elif f"{var}_FILE" in env:
            with open(env[f"{var}_FILE"], encoding="utf-8") as handle:
                values[key] = handle.read().strip()
        else:
            raise ConfigError(f"notifications.channels.{name}.credentials.{key}: environment variable {var} is not set",
                              [(f"notifications.channels.{name}.credentials.{key}", f"{var} is not set")])
    return values


def build_notifier(hub: Any, name: str) -> Any:
    """The notifier for channel ``name``; ``ConfigError`` naming the field when it cannot be built."""
    channel = channel_config(hub, name)
    cls = hub.plugins.notifier_classes().get(channel.kind)
    if cls is None:
        known = sorted(hub.plugins.notifier_classes())
        raise ConfigError(f"notifications.channels.{name}.kind: no notifier {channel.kind!r}; known: {known}")
    try:
        settings = cls.Settings.model_validate(settings_values(hub, name, channel))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"notifications.channels.{name}.settings.{field}: {first['msg']}") from exc
    try:
        return cls(settings, transport=_transport)
    except TypeError:
        return cls(settings)


def describe(hub: Any) -> list[dict[str, Any]]:
    """Each channel's name, kind, whether enabled and its non-secret settings (never credentials)."""
    secret_words = ("secret", "password", "token", "key")
    return [
        {"name": name, "kind": channel.kind, "enabled": channel.enabled,
         "settings": {k: v for k, v in channel.settings.items() if not any(w in k.lower() for w in secret_words)
                      and not (isinstance(v, str) and ("key=" in v or "access_token=" in v))},
         "secrets": sorted(channel.credentials)}
        for name, channel in sorted(hub.config.notifications.channels.items())
    ]
