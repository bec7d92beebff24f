"""The ``[notifications]`` section of the configuration.

Only pydantic here (``hub.config`` imports it). Channels name a notifier ``kind`` and its settings,
with secrets by environment variable name (``credentials``) as shops do; rules name an event and
the channels it goes to. A rule (or the daily summary) naming a channel that is not configured is
a config error naming each such field (``unknown_channel_problems``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

EVENTS = ("order_held", "refund_requested", "low_stock", "deadline_lapsing", "parcel_stuck", "sync_failing",
          "shop_paused", "unpaid_reminder_due")
Event = Literal["order_held", "refund_requested", "low_stock", "deadline_lapsing", "parcel_stuck", "sync_failing",
                "shop_paused", "unpaid_reminder_due"]


class NotificationChannel(BaseModel):
    """``[notifications.channels.<name>]``: one place notifications go (a robot, a mailbox, a URL)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, description="The notifier: webhook | email | dingtalk | wecom | a plugin's.")
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Setting name → environment variable holding its value (never the value itself).")

    @field_validator("credentials")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, env in value.items():
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
                raise ValueError(f"credentials.{key} must name an environment variable (UPPER_SNAKE_CASE), "
                                 f"not hold a value; got {env[:3]}…")
        return value


class NotificationRule(BaseModel):
    """``[[notifications.rules]]``: which event goes to which channels, for which shops."""

    model_config = ConfigDict(extra="forbid")

    event: Event
    channels: list[str] = Field(min_length=1)
    #: Only these shops' events (empty: every shop). Events without a shop (low stock) always pass.
    shops: list[str] = Field(default_factory=list)
    #: ``deadline_lapsing``: hours before the deadline; ``parcel_stuck``/``sync_failing``: ignored.
    threshold_hours: float | None = Field(default=None, gt=0, le=24 * 30)


class DailySummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(default_factory=list)
    #: Local time (``[hub] timezone``) the summary is sent at, ``HH:MM``.
    at: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class NotificationsSection(BaseModel):
    """``[notifications]``."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[str, NotificationChannel] = Field(default_factory=dict)
    rules: list[NotificationRule] = Field(default_factory=list)
    daily_summary: DailySummary = Field(default_factory=DailySummary)
    #: An order unpaid for this long is due for a reminder (催付).
    unpaid_reminder_after_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    #: After this long the platform closes an unpaid order itself; no reminder after that.
    unpaid_auto_close_minutes: int = Field(default=24 * 60, ge=10, le=30 * 24 * 60)
    #: How far back each scan looks for events (deliveries are deduplicated, so overlap is harmless);
    #: after an outage longer than this, a scan looks back to the last completed one (at most 14 days).
    lookback_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    #: Tries per delivery before it is recorded ``dead``.
    max_attempts: int = Field(default=6, ge=1, le=50)

    @model_validator(mode="after")
    def _known_channels(self) -> NotificationsSection:
        if self.unpaid_reminder_after_minutes >= self.unpaid_auto_close_minutes:
            raise ValueError("notifications.unpaid_reminder_after_minutes must be less than unpaid_auto_close_minutes")
        problems = unknown_channel_problems(self)
        if problems:
            # One error for the section (a model validator raises once), carrying each bad field:
            # ``hub.config.load_config`` reports them one by one (``ctx["problems"]``).
            raise PydanticCustomError("unknown_channel", "{text}", {
                "text": "; ".join(f"{where}: {what}" for where, what in problems), "problems": problems})
        return self

    def rules_for(self, event: str) -> list[NotificationRule]:
        return [rule for rule in self.rules if rule.event == event]


def unknown_channel_problems(section: NotificationsSection) -> list[tuple[str, str]]:
    """(field, problem) for every rule's and the daily summary's channel not in ``channels``: the
    field is ``notifications.rules.<i>.channels.<j>`` / ``notifications.daily_summary.channels.<j>``."""
    known = sorted(section.channels)
    named = [(f"notifications.rules.{i}.channels.{j}", name)
             for i, rule in enumerate(section.rules) for j, name in enumerate(rule.channels)]
    named += [(f"notifications.daily_summary.channels.{j}", name)
              for j, name in enumerate(section.daily_summary.channels)]
    return [(where, f"no channel {name!r} in [notifications.channels]; known: {known}")
            for where, name in named if name not in section.channels]
