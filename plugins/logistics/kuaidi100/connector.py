"""``Kuaidi100Courier``: tracking through Kuaidi100 — query a waybill, subscribe it, and verify and
parse the callbacks Kuaidi100 sends.

Declares TRACK and RECEIVE_TRACKING_PUSH only: waybills come from Kuaidi100's label API, a
separate courier platform (``label.Kuaidi100LabelCourier``, CREATE_WAYBILL). Not for the HTTP
details (``client``) or the state and courier-code tables (``mapping``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from contracts import Capability, ConnectorContext, TrackingEvent, canonical_courier_code
from hub.plugin_api import BadInputError, PermanentError
from plugins.logistics.kuaidi100.client import DEFAULT_BASE_URL, Kuaidi100Client
from plugins.logistics.kuaidi100.mapping import company_code, courier_table, hub_courier_code, tracking_events
from plugins.logistics.kuaidi100.push import (
    TRACKING_PUSH_CONTENT_TYPE,
    TRACKING_PUSH_REPLY_BODY,
    TrackingPush,
    parse_callback,
)


class Kuaidi100Settings(BaseModel):
    """One Kuaidi100 account. ``key`` and ``salt`` come from the environment (credentials)."""

    model_config = ConfigDict(extra="forbid")

    customer: str = Field(min_length=1, description="The account's customer id (授权码 customer).")
    key: SecretStr = Field(description="The account's key (授权key).")
    salt: SecretStr | None = Field(
        default=None,
        description="Sent with subscriptions; Kuaidi100 then signs callbacks with it. Without it callbacks "
        "carry no signature and cannot be verified.",
    )
    base_url: str = DEFAULT_BASE_URL
    courier_codes: dict[str, str] = Field(
        default_factory=dict, description="Hub courier code → Kuaidi100 company code, over the built-in table."
    )
    default_courier: str | None = Field(
        default=None, description="Hub courier code used by track() when the caller gives none."
    )
    resultv2: str | None = Field(
        default="1",
        description="Kuaidi100 'resultv2' flag (per-event statuses); ⚠️ values beyond 1 not confirmed. "
        "Empty to omit.",
    )


class Kuaidi100Courier:
    """A Kuaidi100 account: track waybills of many couriers, by query and by subscription."""

    platform: ClassVar[str] = "kuaidi100"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRACK, Capability.RECEIVE_TRACKING_PUSH})
    Settings: ClassVar[type[BaseModel]] = Kuaidi100Settings
    #: What the hub's tracking webhook answers an accepted callback with (Kuaidi100 retries otherwise).
    tracking_push_reply: ClassVar[bytes] = TRACKING_PUSH_REPLY_BODY
    tracking_push_content_type: ClassVar[str] = TRACKING_PUSH_CONTENT_TYPE

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        settings: Kuaidi100Settings = context.settings
        self.settings = settings
        self.courier_codes = courier_table(settings.courier_codes)
        self.client = Kuaidi100Client(
            context.name,
            settings.customer,
            settings.key.get_secret_value(),
            settings.base_url,
            throttle=context.throttle,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _company(self, courier_code: str | None) -> tuple[str, str]:
        hub_code = (courier_code or "").strip() or self.settings.default_courier
        if not hub_code:
            raise BadInputError(
                f"courier {self.context.name!r}: Kuaidi100 needs the courier of the waybill; pass courier_code "
                "or set default_courier",
                field="courier_code",
            )
        company = company_code(hub_code, self.courier_codes)
        if company is None:
            raise BadInputError(
                f"courier {self.context.name!r}: no Kuaidi100 company code for courier {hub_code!r}; add it to "
                "the courier_codes setting",
                field="courier_code",
            )
        return canonical_courier_code(hub_code), company

    async def track(
        self, tracking_number: str, courier_code: str | None = None, *, phone: str | None = None
    ) -> list[TrackingEvent]:
        """The waybill's events, oldest first; an empty list when Kuaidi100 has nothing yet.

        :param courier_code: the hub courier code (``SF``, ``ZTO``…); defaults to ``default_courier``.
        :param phone: the recipient's or sender's phone; SF waybills need it (⚠️ §7).
        """
        hub_code, company = self._company(courier_code)
        param: dict[str, Any] = {"com": company, "num": tracking_number}
        if phone:
            param["phone"] = phone
        if self.settings.resultv2:
            param["resultv2"] = self.settings.resultv2
        result = await self.client.query(param)
        if result is None:
            return []
        if str(result.get("nu") or tracking_number) != tracking_number:
            raise PermanentError(
                f"courier {self.context.name!r}: Kuaidi100 answered for waybill {result.get('nu')!r} instead of "
                f"{tracking_number!r}"
            )
        return tracking_events({**result, "nu": tracking_number}, hub_code)

    async def subscribe(
        self, tracking_number: str, courier_code: str, callback_url: str, *, phone: str | None = None
    ) -> bool:
        """Ask Kuaidi100 to push this waybill's tracking to ``callback_url`` (the hub's webhook).

        Returns True when newly subscribed, False when Kuaidi100 was already tracking it; both
        mean the subscription exists, so calling twice is safe.
        """
        _, company = self._company(courier_code)
        parameters: dict[str, Any] = {"callbackurl": callback_url}
        if self.settings.salt is not None:
            parameters["salt"] = self.settings.salt.get_secret_value()
        if self.settings.resultv2:
            parameters["resultv2"] = self.settings.resultv2
        if phone:
            parameters["phone"] = phone
        return await self.client.subscribe({"company": company, "number": tracking_number, "parameters": parameters})

    def parse_tracking_callback(self, headers: Mapping[str, str], body: bytes) -> TrackingPush:
        """Verify and parse a callback, keeping its subscription status (``abort`` → resubscribe)."""
        salt = self.settings.salt.get_secret_value() if self.settings.salt is not None else None
        return parse_callback(body, salt, self.courier_codes)

    def parse_tracking_push(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        """Verify a callback on the raw form body and return its events; raises ``SignatureError``
        on a bad sign. Answer an accepted callback with ``push.TRACKING_PUSH_REPLY``."""
        return self.parse_tracking_callback(headers, body).events

    def hub_courier_code(self, company: str) -> str:
        return hub_courier_code(company, self.courier_codes)
