"""What event sources hand to the hub: ``InboundMessage`` and the pages of a poll.

Every source — an HTTP push, a platform message channel (TMC), a poll, a manual import — yields
``InboundMessage`` values. The hub stores each in its inbox (unique per platform, shop and
``message_id``) before anything else happens, and workers then turn them into canonical objects.
A message is usually a *trigger* (the hub fetches the full object through the connector); a
poll may attach the full object it already has, to save the fetch.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.aftersales import AfterSale
from contracts.orders import Order
from contracts.service_orders import ServiceAlert, ServiceOrder


class MessageKind(StrEnum):
    ORDER = "order"
    AFTERSALE = "aftersale"
    SERVICE_ORDER = "service_order"
    SERVICE_ALERT = "service_alert"  # a platform's SLA alert on a service order (``service_alert``)
    STOCK = "stock"
    PING = "ping"  # a platform's verification ping: answered, never stored as an object
    OTHER = "other"  # understood, recorded, no action


class InboundMessage(BaseModel):
    """One event from a partner, before the hub acts on it."""

    model_config = ConfigDict(frozen=True)

    message_id: str = Field(
        min_length=1,
        description="Unique per shop of a platform for this event (TMC id, Douyin msg_id); for polls "
        "the plugin derives one from the object id and its modification time.",
    )
    account_id: str | None = Field(
        default=None,
        description="The platform's id of the shop the event is about, when the event names one "
        "(Douyin shop_id). A push for one shop that names another is rejected; an app-level push is "
        "routed by it (see Capability.RECEIVE_APP_PUSH).",
    )
    kind: MessageKind
    topic: str = Field(description="The platform's event name or tag, verbatim.")
    external_id: str | None = Field(default=None, description="Id of the object the event is about.")
    occurred_at: AwareDatetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict, description="The decoded event, raw.")
    order: Order | None = Field(default=None, description="The full object, when the source has it.")
    aftersale: AfterSale | None = None
    service_order: ServiceOrder | None = None
    service_alert: ServiceAlert | None = Field(
        default=None, description="With kind SERVICE_ALERT: the alert, whole (alerts carry all they say).")


class OrderPage(BaseModel):
    """One page of orders changed in a window, from a poll."""

    model_config = ConfigDict(frozen=True)

    orders: list[Order]
    next_cursor: str | None = Field(default=None, description="Opaque; None when the window is done.")
    rejected: dict[str, str] = Field(
        default_factory=dict,
        description="Orders on this page that could not be mapped: external id → reason. The hub "
        "records each as a failed message (dead-lettered with the reason, replayable once the "
        "plugin is fixed) and the poll goes on.",
    )


class PushReceipt(BaseModel):
    """What a connector returns after verifying and parsing an HTTP push.

    ``messages`` are stored in the inbox; ``reply_body``/``reply_status`` are sent back to the
    platform as it expects (e.g. Douyin ``{"code":0,"msg":"success"}``). ``rejected`` lists
    per-message problems (index and reason) for messages skipped from a batch.
    """

    model_config = ConfigDict(frozen=True)

    messages: list[InboundMessage]
    reply_body: dict[str, Any] | str = Field(default_factory=dict)
    reply_status: int = 200
    rejected: list[tuple[int, str]] = Field(default_factory=list)
