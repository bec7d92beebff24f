"""The shapes notifiers and the hub agree on: a ``Notification`` and the ``Notifier`` protocol.

A plugin's ``register_notifiers`` hook returns notifier *classes*; the hub instantiates one per
configured ``[notifications.channels.<name>]`` with that channel's validated ``Settings`` and
calls ``send`` once per delivery. Errors are raised as the hub's error classes (``hub.errors``),
as connectors do: ``RetryableError`` for a transient fault (the delivery is tried again later),
``PermanentError`` for a final refusal (recorded, not retried). No I/O here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class NotificationLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Notification(BaseModel):
    """One thing a person should know about. Never carries buyers' personal data (names, phones,
    addresses): ``facts`` holds ids, counts, shop names and times only."""

    model_config = ConfigDict(frozen=True)

    #: What happened: ``order_held``, ``refund_requested``, ``low_stock``, ``daily_summary``, ``test``...
    kind: str = Field(min_length=1, max_length=50)
    subject: str = Field(min_length=1, max_length=200)
    text: str = ""
    level: NotificationLevel = NotificationLevel.INFO
    #: Where a person acts on it (a console path or a full URL), or None.
    link: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    #: The same event raised twice has the same key (``order_held:<hold id>``): sent once per channel.
    dedup_key: str = Field(min_length=1, max_length=200)
    shop: str | None = None


@runtime_checkable
class Notifier(Protocol):
    """What every notifier class has: a unique ``name`` (the ``kind`` a channel names in config),
    a pydantic ``Settings`` model, a constructor taking the validated settings, and ``send``."""

    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]

    def __init__(self, settings: Any) -> None: ...

    async def send(self, notification: Notification) -> None:
        """Deliver ``notification``; return normally once the far end accepted it.

        Raise ``hub.errors.RetryableError`` for a fault worth retrying (timeout, 5xx, throttled)
        and ``hub.errors.PermanentError`` when the far end refuses for good (bad key, bad sign).
        """
        ...
