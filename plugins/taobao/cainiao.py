"""``CainiaoWaybillCourier``: electronic waybills (菜鸟电子面单) through Cainiao over TOP.

A courier account that issues waybill numbers with ``cainiao.waybill.ii.get`` and recycles unused
ones with ``cainiao.waybill.ii.cancel``, with a Taobao/Tmall seller's TOP session (the seller who
holds the Cainiao waybill subscription). Declares CREATE_WAYBILL only: no tracking here.

Idempotency: each parcel is asked for with ``object_id`` = the hub's key (and ``package_info.id``
derived from it), so a retry after a lost answer gets the number issued first ⚠️ [U]: which of the
two fields Cainiao keys its reuse on is not documented in the public models. HTTP, signing and
the TOP error classes come from ``client.TopClient``; the request and answer shapes from
``cainiao_mapping``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from contracts import Capability, ConnectorContext, Waybill, WaybillRequest, canonical_courier_map
from hub.plugin_api import PermanentError, RetryableError, call_with_retries
from plugins.taobao import cainiao_mapping as mapping
from plugins.taobao.client import DEFAULT_GATEWAY, TopClient

#: Transport failures after which the request may have reached Cainiao (and a number been issued):
#: the retry then gets that number back, and the waybill is reported as ``reused``.
ANSWER_LOST = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError)


class CainiaoSettings(BaseModel):
    """One Cainiao waybill account (``[couriers.<name>]``); secrets come from the environment."""

    model_config = ConfigDict(extra="forbid")

    gateway_url: str = Field(default=DEFAULT_GATEWAY, description="The TOP gateway.")
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    session: SecretStr = Field(description="The TOP session of the seller who holds the waybill subscription.")
    sign_method: Literal["md5", "hmac", "hmac-sha256"] = "hmac-sha256"
    partner_id: str | None = None
    cp_codes: dict[str, str] = Field(
        default_factory=dict, description="Hub courier code → Cainiao cp_code, over the built-in table "
        "(YTO confirmed; ZTO, STO, YUNDA, SF, EMS, POSTB, JD ⚠️ [U]).")
    template_url: str = Field(
        min_length=1, description="The cloud-print standard template URL sent as template_url "
        "(http://cloudprint.cainiao.com/template/standard/<id>).")
    template_urls: dict[str, str] = Field(
        default_factory=dict, description="Hub courier code → template URL, where a courier needs its own.")
    product_code: str | None = Field(default=None, description="product_code (the courier's product; SF).")
    user_id: int | None = Field(
        default=None, description="user_id: the seller id actually using the account, when one waybill "
        "account serves several shops.")
    shop_user_ids: dict[str, int] = Field(
        default_factory=dict, description="Hub shop name → user_id, over user_id.")
    order_channels: dict[str, str] = Field(
        default_factory=dict, description="Order platform → order_channels_type, over the built-in "
        "taobao → TB, tmall → TM; anything else is sent as OTHERS ⚠️ [U].")
    branch_code: str | None = Field(
        default=None, description="Sent as shipping_branch_code (the branch to draw numbers from) ⚠️ [U]: "
        "seen in a public request model, not in Cainiao's documentation.")
    customer_code: str | None = Field(default=None, description="Sent as customer_code (monthly account) ⚠️ [U].")
    brand_code: str | None = Field(default=None, description="Sent as brand_code ⚠️ [U].")
    cancel_done_sub_codes: list[str] = Field(
        default_factory=lambda: ["isv.waybill-already-cancelled"],
        description="cancel sub_codes meaning 'cancelled already' (cancel_waybill → True). ⚠️ [U]: Cainiao's "
        "codes are not public; the default is the sandbox's.")
    cancel_refused_sub_codes: list[str] = Field(
        default_factory=lambda: ["isv.waybill-already-collected"],
        description="cancel sub_codes meaning 'used or collected, cannot be cancelled' (→ False). ⚠️ [U] as above.")
    timeout_seconds: float = Field(default=15.0, gt=0, description="Per HTTP request.")

    @field_validator("cp_codes", "template_urls")
    @classmethod
    def _canonical(cls, value: dict[str, str]) -> dict[str, str]:
        return canonical_courier_map(value)


class CainiaoWaybillCourier:
    """A Cainiao e-waybill account over TOP (see the module docstring)."""

    platform: ClassVar[str] = "cainiao"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CREATE_WAYBILL})
    Settings: ClassVar[type[BaseModel]] = CainiaoSettings

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        settings: CainiaoSettings = context.settings
        self.settings = settings
        self.cp_codes = mapping.cp_code_table(settings.cp_codes)
        self.client = TopClient(
            settings.gateway_url,
            settings.app_key,
            settings.app_secret.get_secret_value(),
            settings.session.get_secret_value(),
            settings.sign_method,
            throttle=context.throttle,
            label=context.name,
            partner_id=settings.partner_id,
            timeout=settings.timeout_seconds,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def apply_request(self, request: WaybillRequest) -> tuple[str, dict[str, Any]]:
        """(cp_code, the ``param_waybill_cloud_print_apply_new_request`` JSON) for ``request``."""
        settings = self.settings
        cp_code = mapping.cp_code_for(request.courier_code, self.cp_codes)
        extra = {"shipping_branch_code": settings.branch_code or "", "customer_code": settings.customer_code or "",
                 "brand_code": settings.brand_code or ""}
        body = mapping.apply_request(
            request,
            cp_code=cp_code,
            template_url=settings.template_urls.get(request.courier_code, settings.template_url),
            order_channels_type=mapping.order_channel(request.platform, settings.order_channels),
            user_id=settings.shop_user_ids.get(request.shop, settings.user_id),
            product_code=settings.product_code,
            extra=extra,
        )
        return cp_code, body

    async def _call(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Call with the hub's bounded retries; also says whether an earlier attempt's answer was
        lost after the request went out (so the answer may be for a number issued then)."""
        lost = False

        async def once() -> dict[str, Any]:
            nonlocal lost
            try:
                return await self.client.call(method, params, retry=False)
            except ANSWER_LOST:
                lost = True
                raise

        try:
            return await call_with_retries(once), lost
        except httpx.TransportError as exc:
            raise RetryableError(f"courier {self.context.name!r}: {method} got no answer ({type(exc).__name__}); "
                                 "retry: the same key returns the same waybill") from exc

    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        """Issue (or get back) the waybill of one parcel; ``reused`` when an earlier attempt of this
        call may have issued it (Cainiao's answer does not say whether a number is new)."""
        cp_code, body = self.apply_request(request)
        answer, lost = await self._call(mapping.GET_METHOD, {mapping.REQUEST_PARAM: body})
        return mapping.waybill_from_answer(answer, request, cp_code=cp_code, reused=lost)

    async def cancel_waybill(self, courier_code: str, waybill_number: str) -> bool:
        """Recycle an unused number: True when cancelled (or cancelled already), False when Cainiao
        refuses because it was used or collected (``cancel_refused_sub_codes``)."""
        cp_code = mapping.cp_code_for(courier_code, self.cp_codes)
        params = {"cp_code": cp_code, "waybill_code": waybill_number}
        try:
            answer, _ = await self._call(mapping.CANCEL_METHOD, params)
        except PermanentError as exc:
            sub_code = _sub_code(exc)
            if sub_code in self.settings.cancel_done_sub_codes:
                return True
            if sub_code in self.settings.cancel_refused_sub_codes:
                return False
            raise
        result = answer.get("cancel_result")
        return result is True or str(result).lower() == "true"


def _sub_code(error: PermanentError) -> str | None:
    """The TOP sub_code of a classified error (``client.classify_error`` keeps "msg; sub_code;
    sub_msg" as the partner message)."""
    parts = (error.partner_message or "").split("; ")
    return next((p for p in parts if p.startswith(("isv.", "isp."))), None)
