"""``Kuaidi100LabelCourier``: Kuaidi100's electronic waybill (电子面单) API as a courier account
(``CREATE_WAYBILL``): ``method=order`` issues a number with the account's courier e-waybill
credentials (``partnerId`` …), ``method=cancel`` recycles it.

A separate platform (``kuaidi100_label``) from tracking (``kuaidi100``): it signs with the account's
``secret`` on another host, and each account is one courier e-waybill account. Same key → same
number: ``orderId`` = the key with ``reorder`` false (Kuaidi100 answers a repeat within 48 hours
with the first result), so transient faults are retried here and by the queue. Not for the wire
details (``label_client``) or the translation (``label_mapping``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from contracts import Capability, ConnectorContext, TrackingEvent, Waybill, WaybillRequest, canonical_courier_code
from hub.plugin_api import BadInputError, PermanentError
from plugins.logistics.kuaidi100 import label_mapping as mapping
from plugins.logistics.kuaidi100.label_client import DEFAULT_LABEL_BASE_URL, Kuaidi100LabelClient
from plugins.logistics.kuaidi100.mapping import company_code, courier_table

log = structlog.get_logger(__name__)


class Kuaidi100LabelSettings(BaseModel):
    """One Kuaidi100 e-waybill account. ``key``, ``secret``, ``partner_key`` and ``partner_secret``
    come from the environment (credentials)."""

    model_config = ConfigDict(extra="forbid")

    key: SecretStr = Field(description="The Kuaidi100 account's key (授权key).")
    secret: SecretStr = Field(description="The account's secret, which signs label calls.")
    base_url: str = DEFAULT_LABEL_BASE_URL
    couriers: list[str] = Field(default_factory=list, description="Hub courier codes this account issues for "
                                "(its partner credentials belong to them); empty: any the table maps.")
    courier_codes: dict[str, str] = Field(default_factory=dict, description="Hub courier code → Kuaidi100 "
                                          "company code (kuaidicom), over the built-in table.")
    partner_id: str | None = Field(default=None, description="partnerId: the courier e-waybill account or "
                                   "monthly account number.")
    partner_key: SecretStr | None = None
    partner_secret: SecretStr | None = None
    partner_name: str | None = None
    net: str | None = Field(default=None, description="The net site, or the authorising platform (taobao, "
                            "cainiao, douyin…) for platform-authorised accounts.")
    code: str | None = None
    check_man: str | None = None
    tb_net: str | None = Field(default=None, description="'网点名称,网点编号' when a platform account has several.")
    print_type: Literal["NON", "HTML", "IMAGE", "CLOUD"] = Field(
        default="NON", description="NON: numbers only; HTML/IMAGE: a label short link in print_data.label; "
        "CLOUD: print on the Kuaidi100 cloud printer siid.")
    temp_id: str | None = None
    siid: str | None = None
    pay_type: Literal["SHIPPER", "CONSIGNEE", "MONTHLY", "THIRDPARTY"] | None = None
    exp_type: str | None = Field(default=None, description="Product, e.g. 标准快递 (courier-specific).")
    cancel_reason: str = "unused"
    timeout_s: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _cloud_needs_printer(self) -> Kuaidi100LabelSettings:
        if self.print_type == "CLOUD" and not self.siid:
            raise ValueError("print_type CLOUD needs siid (the Kuaidi100 cloud printer)")
        return self


class Kuaidi100LabelCourier:
    """A Kuaidi100 e-waybill account."""

    platform: ClassVar[str] = mapping.PROVIDER
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CREATE_WAYBILL})
    Settings: ClassVar[type[BaseModel]] = Kuaidi100LabelSettings

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        settings: Kuaidi100LabelSettings = context.settings
        self.settings = settings
        self.courier_codes = courier_table(settings.courier_codes)
        self.client = Kuaidi100LabelClient(context.name, settings.key.get_secret_value(),
                                           settings.secret.get_secret_value(), settings.base_url,
                                           throttle=context.throttle, timeout_s=settings.timeout_s)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _partner(self) -> dict[str, str]:
        s = self.settings
        values = {
            "partnerId": s.partner_id, "partnerKey": s.partner_key.get_secret_value() if s.partner_key else None,
            "partnerSecret": s.partner_secret.get_secret_value() if s.partner_secret else None,
            "partnerName": s.partner_name, "net": s.net, "code": s.code, "checkMan": s.check_man, "tbNet": s.tb_net,
        }
        return {k: v for k, v in values.items() if v}

    def kuaidicom(self, courier_code: str) -> str:
        hub_code = canonical_courier_code(courier_code)
        allowed = {canonical_courier_code(c) for c in self.settings.couriers}
        if allowed and hub_code not in allowed:
            raise BadInputError(f"courier {self.context.name!r}: this Kuaidi100 e-waybill account issues for "
                                f"{', '.join(sorted(allowed))}, not {courier_code!r}", field="courier_code")
        company = company_code(hub_code, self.courier_codes)
        if company is None:
            raise BadInputError(f"courier {self.context.name!r}: no Kuaidi100 company code for courier "
                                f"{courier_code!r}; add it to the courier_codes setting", field="courier_code")
        return company

    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        """``method=order`` with ``orderId`` = the key and ``reorder`` false: a repeat (a retry
        after a lost answer) gets the first number back."""
        s = self.settings
        param = mapping.order_param(request, self.kuaidicom(request.courier_code), self._partner(),
                                    print_type=s.print_type, pay_type=s.pay_type, exp_type=s.exp_type,
                                    temp_id=s.temp_id, siid=s.siid)
        where = f"courier {self.context.name!r}: Kuaidi100 e-waybill for parcel {request.key!r}"
        data = await self.client.call("order", param, where)
        try:
            waybill = mapping.waybill_of(data, request)
        except ValueError as exc:
            raise PermanentError(f"{where}: {exc}") from exc
        log.info("waybill.issued", provider=self.platform, account=self.context.name, key=request.key,
                 courier=waybill.courier_code)
        return waybill

    async def cancel_waybill(self, courier_code: str, waybill_number: str) -> bool:
        """``method=cancel``: True when Kuaidi100 accepts it. ⚠️ [U] Kuaidi100 publishes no code for
        "already cancelled" or "already collected", so every refusal raises with its message
        (never False)."""
        param = mapping.cancel_param(self.kuaidicom(courier_code), waybill_number, self._partner(),
                                     self.settings.cancel_reason)
        where = f"courier {self.context.name!r}: Kuaidi100 cancel of waybill {waybill_number}"
        await self.client.call("cancel", param, where)
        return True

    async def track(self, tracking_number: str, courier_code: str | None = None) -> list[TrackingEvent]:
        raise PermanentError("a Kuaidi100 e-waybill account does not track; configure a kuaidi100 account for that")

    def parse_tracking_push(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        raise PermanentError("a Kuaidi100 e-waybill account receives no tracking pushes")

