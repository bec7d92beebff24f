"""``DouyinWaybill``: the Douyin e-waybill (抖音电子面单) as a courier account (``CREATE_WAYBILL``):
``logistics.newCreateOrder`` issues a number for a parcel, ``logistics.cancelOrder`` recycles it.

It calls the Douyin gateway through the shop client (``client.DouyinClient``: signing, the
envelope, token refresh, inner retries) with the app and shop the e-waybill subscription belongs
to, and keeps its tokens in its own account state. Same key → same number: the platform returns
the first number for the same ``order_id`` + ``pack_id`` (``waybill_mapping``), so a call whose
answer was lost is simply asked again. Not for tracking (no TRACK) or printing
(``logistics.waybillApply`` print data is encrypted and left to the printing client).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from contracts import (
    Capability,
    ConnectorContext,
    TrackingEvent,
    Waybill,
    WaybillRequest,
    canonical_courier_code,
    canonical_courier_map,
)
from hub.plugin_api import BadInputError, PermanentError, RetryableError
from plugins.douyin import waybill_mapping as mapping
from plugins.douyin.client import DEFAULT_GATEWAY, DouyinRefusal, client_for

log = structlog.get_logger(__name__)

#: ⚠️ [U] Hub courier code → the e-waybill's ``logistics_code``. The real codes come from
#: ``logistics.listShopNetsite`` / ``logistics.templateList`` (``company``/``logistics_code``); these
#: are the shop API's company codes, assumed to be the same. Override with ``logistics_codes``.
DEFAULT_LOGISTICS_CODES: dict[str, str] = {
    "SF": "shunfeng",
    "ZTO": "zhongtong",
    "YTO": "yuantong",
    "STO": "shentong",
    "YUNDA": "yunda",
    "EMS": "ems",
    "JD": "jd",
    "JT": "jtexpress",
}


class NetInfo(BaseModel):
    """``net_info`` for one courier: ``net_code`` is required for franchise (加盟) couriers.
    ⚠️ [U] The values ``category`` takes (直营/加盟) are not documented: written as the operator gives them."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    net_code: str | None = None


class DouyinWaybillSettings(BaseModel):
    """One Douyin e-waybill account: the app and the shop whose e-waybill subscription issues numbers.
    ``app_secret`` (and ``access_token``/``refresh_token``) come from the environment."""

    model_config = ConfigDict(extra="forbid")

    gateway_url: str = Field(default=DEFAULT_GATEWAY, min_length=1)
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    shop_id: str = Field(min_length=1, description="The shop whose e-waybill subscription is used.")
    access_token: SecretStr | None = Field(default=None, description="Required for a tool app (工具型); a "
                                           "self-use app (自用型) takes its own token.")
    refresh_token: SecretStr | None = None
    app_type: Literal["tool", "self"] = "tool"
    sign_method: Literal["md5", "hmac-sha256"] = "hmac-sha256"
    token_refresh_margin_s: float = Field(default=1800, ge=60, lt=3600)
    min_call_interval_ms: int = Field(default=0, ge=0)
    throttle_retry_after_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=15.0, gt=0)
    logistics_codes: dict[str, str] = Field(
        default_factory=lambda: canonical_courier_map(DEFAULT_LOGISTICS_CODES),
        description="Hub courier code (any case) → the e-waybill's logistics_code.")
    net_info: dict[str, NetInfo] = Field(default_factory=dict, description="Hub courier code → net_info.")
    order_channels: dict[str, str] = Field(
        default_factory=dict, description="Hub platform → the e-waybill's order_channel code, for parcels of "
        "orders from other platforms. ⚠️ The code table is not in our sources: none is built in.")
    user_id: int | None = Field(default=None, description="Shared-account only: the shop_id that really uses "
                                "the numbers (-1 when unknown).")
    pay_method: Literal[1, 2] | None = Field(default=None, description="1 寄付月结, 2 寄付现结; unset: the net "
                                             "site's agreed method.")
    product_types: dict[str, str] = Field(default_factory=dict, description="Hub courier code → product_type.")

    @field_validator("shop_id", "app_key", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("logistics_codes", "product_types")
    @classmethod
    def _canonical(cls, value: dict[str, str]) -> dict[str, str]:
        return canonical_courier_map(value)

    @field_validator("net_info")
    @classmethod
    def _canonical_net(cls, value: dict[str, NetInfo]) -> dict[str, NetInfo]:
        return {canonical_courier_code(k): v for k, v in value.items()}


class DouyinWaybill:
    """A Douyin e-waybill account."""

    platform: ClassVar[str] = mapping.PROVIDER
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CREATE_WAYBILL})
    Settings: ClassVar[type[BaseModel]] = DouyinWaybillSettings

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        settings: DouyinWaybillSettings = context.settings
        self.settings = settings
        self.client = client_for(context, settings)

    async def aclose(self) -> None:
        await self.client.aclose()

    def logistics_code(self, courier_code: str) -> str:
        code = self.settings.logistics_codes.get(canonical_courier_code(courier_code))
        if not code:
            raise BadInputError(f"courier {self.context.name!r}: no Douyin logistics_code for courier "
                                f"{courier_code!r}; add it to the logistics_codes setting", field="courier_code")
        return code

    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        """``logistics.newCreateOrder`` for one parcel. Transient faults (a timeout, 20000/20001,
        ``4029``) are retried here with the same ``order_id`` + ``pack_id``, which the platform
        answers with the number it already issued."""
        courier = canonical_courier_code(request.courier_code)
        net = self.settings.net_info.get(courier)
        params = mapping.create_params(
            request, self.logistics_code(courier),
            order_channel=self.settings.order_channels.get(request.platform),
            user_id=self.settings.user_id,
            net_info=net.model_dump(exclude_none=True) if net is not None else None,
            pay_method=self.settings.pay_method,
            product_type=self.settings.product_types.get(courier))
        where = f"courier {self.context.name!r}: Douyin e-waybill for parcel {request.key!r}"
        try:
            data = await self.client.call("logistics.newCreateOrder", params)
        except DouyinRefusal as exc:
            if exc.sub_code in mapping.CREATE_RETRY:
                raise RetryableError(f"{where}: the platform asks to retry later ({exc.sub_code})",
                                     code=exc.code, partner_message=exc.partner_message) from exc
            raise
        outcome = mapping.parse_created(data, request, params)
        if isinstance(outcome, Waybill):
            log.info("waybill.issued", provider=self.platform, account=self.context.name, key=request.key,
                     courier=courier)
            return outcome
        err_code, err_msg = outcome
        # ⚠️ [U] err_infos codes are not published per item: none is taken as transient.
        raise PermanentError(f"{where} refused: {err_code} {err_msg}".rstrip(), code=err_code, partner_message=err_msg)

    async def cancel_waybill(self, courier_code: str, waybill_number: str) -> bool:
        """``logistics.cancelOrder``: True when cancelled or already cancelled, False when it can no
        longer be (collected, tracked or shipped); anything else raises."""
        params = mapping.cancel_params(self.logistics_code(courier_code), waybill_number, self.settings.user_id)
        try:
            data = await self.client.call("logistics.cancelOrder", params)
        except DouyinRefusal as exc:
            if exc.sub_code in mapping.CANCEL_ALREADY:
                return True
            if exc.sub_code in mapping.CANCEL_TOO_LATE:
                log.info("waybill.cancel_too_late", provider=self.platform, account=self.context.name,
                         sub_code=exc.sub_code)
                return False
            if exc.sub_code in mapping.CANCEL_RETRY:
                raise RetryableError(f"courier {self.context.name!r}: Douyin is still cancelling waybill "
                                     f"{waybill_number} ({exc.sub_code}); will ask again", code=exc.code,
                                     partner_message=exc.partner_message) from exc
            raise
        if mapping.cancel_succeeded(data):
            return True
        raise PermanentError(f"courier {self.context.name!r}: Douyin did not cancel waybill {waybill_number} "
                             "(cancel_result.success is false)")

    async def track(self, tracking_number: str, courier_code: str | None = None) -> list[TrackingEvent]:
        raise PermanentError("the Douyin e-waybill account does not track parcels (no TRACK capability)")

    def parse_tracking_push(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        raise PermanentError("the Douyin e-waybill account receives no tracking pushes")
