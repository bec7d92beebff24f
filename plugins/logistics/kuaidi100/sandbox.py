"""``Kuaidi100Sandbox``: an ASGI emulator of Kuaidi100's query and subscription API, of the
signed callbacks it sends and of its electronic waybill API (``/label/order``, ``sandbox_label``),
for tests and the demo.

Same endpoints (``/poll/query.do``, ``/poll``), the same signatures (query sign checked, callbacks
signed with the subscription's salt), the same success and ``returnCode`` failure shapes. Waybills
are stateful: ``advance`` moves one along collected → in transit → out for delivery → signed, and
``send_callback`` pushes its ``lastResult`` to the subscribed URL. ``inject_fault`` makes the next
calls fail like Kuaidi100 does. Not a ``contracts.ChannelSandbox`` (it is not a sales channel), so
it is not registered with ``register_sandboxes``: tests instantiate it directly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from plugins.logistics.kuaidi100.client import callback_sign, loads_exact, param_text, query_sign
from plugins.logistics.kuaidi100.mapping import CHINA_TZ, format_time
from plugins.logistics.kuaidi100.sandbox_label import LabelDesk

#: A waybill's normal path: (Kuaidi100 state, what the courier's scan says).
NORMAL_PATH: tuple[tuple[str, str], ...] = (
    ("1", "【杭州市】杭州余杭区公司 已揽收"),
    ("0", "【杭州市】已离开 杭州转运中心，发往 上海转运中心"),
    ("0", "【上海市】已到达 上海转运中心"),
    ("5", "【上海市】上海浦东新区公司 派件员正在为您派件"),
    ("3", "【上海市】已签收，签收人凭取货码签收"),
)
STATE_NAMES = {"0": "在途", "1": "揽收", "2": "疑难", "3": "签收", "4": "退签", "5": "派件", "6": "退回",
               "14": "拒签"}
FAULTS = ("busy", "server_error", "key_expired", "unavailable", "bad_sign")


@dataclass
class SandboxWaybill:
    company: str
    number: str
    events: list[dict[str, str]] = field(default_factory=list)  # oldest first
    state: str | None = None
    step: int = 0


@dataclass
class SandboxSubscription:
    callback_url: str
    salt: str | None
    resultv2: str | None


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form body (parsed here: no multipart dependency for a sandbox)."""
    fields = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


class Kuaidi100Sandbox:
    """The emulator; ``app`` is the ASGI application, run it with ``hub.asgi_server``."""

    platform = "kuaidi100"

    def __init__(self, customer: str = "SANDBOXCUSTOMER", key: str = "sandbox-key",
                 secret: str = "sandbox-secret") -> None:
        self.customer = customer
        self.key = key
        self.secret = secret
        #: The electronic waybill API: ``label.inject_fault``, ``label.collect``, ``label.status``…
        self.label = LabelDesk(key, secret)
        self.waybills: dict[tuple[str, str], SandboxWaybill] = {}
        self.subscriptions: dict[tuple[str, str], SandboxSubscription] = {}
        self.callback_replies: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.clock = datetime(2026, 11, 11, 9, 0, tzinfo=CHINA_TZ)
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/poll/query.do", self._query, methods=["POST"]),
                Route("/poll", self._subscribe, methods=["POST"]),
                Route("/label/order", self._label, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------ driving the sandbox

    def courier_settings(self, base_url: str, *, salt: str | None = "sandbox-salt") -> dict[str, Any]:
        """Settings for a ``Kuaidi100Courier`` that talks to this sandbox."""
        values: dict[str, Any] = {"customer": self.customer, "key": self.key, "base_url": base_url}
        if salt is not None:
            values["salt"] = salt
        return values

    def label_settings(self, base_url: str, **values: Any) -> dict[str, Any]:
        """Settings for a ``Kuaidi100LabelCourier`` that talks to this sandbox."""
        return {"key": self.key, "secret": self.secret, "base_url": base_url, "partner_id": "SBX-MONTHLY-01",
                **values}

    async def _label(self, request: Request) -> Response:
        return await self.label.handle(await _form(request))

    def create_waybill(self, company: str, number: str) -> None:
        """A waybill the courier knows nothing about yet (queries answer "no result")."""
        with self._lock:
            self.waybills.setdefault((company, number), SandboxWaybill(company, number))

    def advance(self, company: str, number: str) -> str:
        """Move the waybill one step along ``NORMAL_PATH``; returns the new Kuaidi100 state."""
        with self._lock:
            waybill = self.waybills.setdefault((company, number), SandboxWaybill(company, number))
            if waybill.step >= len(NORMAL_PATH):
                raise ValueError(f"waybill {company}/{number} is already signed")
            state, context = NORMAL_PATH[waybill.step]
            waybill.step += 1
            self._record(waybill, state, context)
            return state

    def set_state(self, company: str, number: str, state: str, context: str) -> None:
        """Record any scan (a problem parcel, a refusal...) with the given Kuaidi100 state."""
        with self._lock:
            waybill = self.waybills.setdefault((company, number), SandboxWaybill(company, number))
            self._record(waybill, state, context)

    def _record(self, waybill: SandboxWaybill, state: str, context: str) -> None:
        self.clock += timedelta(hours=3)
        stamp = format_time(self.clock)
        waybill.events.append({"time": stamp, "ftime": stamp, "context": context, "state": state})
        waybill.state = state

    def inject_fault(self, fault: str, count: int = 1) -> None:
        """Fail the next ``count`` calls: ``busy`` (returnCode 502), ``server_error`` (501),
        ``key_expired`` (601), ``unavailable`` (HTTP 503); or sign the next ``count`` callbacks
        wrongly (``bad_sign``)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([fault] * count)

    def _take_fault(self, kinds: tuple[str, ...]) -> str | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault in kinds:
                    return self._faults.pop(index)
        return None

    # ------------------------------------------------------------------ what Kuaidi100 answers

    def _result(self, waybill: SandboxWaybill, resultv2: str | None) -> dict[str, Any]:
        data = []
        for event in reversed(waybill.events):  # Kuaidi100's default order is newest first
            item = {"time": event["time"], "ftime": event["ftime"], "context": event["context"], "location": ""}
            if resultv2:
                item["status"] = STATE_NAMES.get(event["state"], "在途")
            data.append(item)
        return {
            "message": "ok",
            "nu": waybill.number,
            "ischeck": "1" if waybill.state == "3" else "0",
            "com": waybill.company,
            "status": "200",
            "state": waybill.state or "0",
            "condition": "F00",
            "data": data,
        }

    @staticmethod
    def _fail(code: str, message: str) -> JSONResponse:
        return JSONResponse({"result": False, "returnCode": code, "message": message})

    def _fault_response(self) -> Response | None:
        fault = self._take_fault(("busy", "server_error", "key_expired", "unavailable"))
        if fault == "busy":
            return self._fail("502", "服务器繁忙，请稍后重试")
        if fault == "server_error":
            return self._fail("501", "服务器错误")
        if fault == "key_expired":
            return self._fail("601", "key已过期")
        if fault == "unavailable":
            return Response("Service Unavailable", status_code=503)
        return None

    async def _query(self, request: Request) -> Response:
        self.calls.append("query")
        form = await _form(request)
        customer, param, sign = str(form.get("customer", "")), str(form.get("param", "")), str(form.get("sign", ""))
        fault = self._fault_response()
        if fault is not None:
            return fault
        if customer != self.customer or not param:
            return self._fail("400", "参数不完整或者未授权")
        if sign != query_sign(param, self.key, self.customer):
            return self._fail("503", "验证签名失败")
        query = loads_exact(param)
        with self._lock:
            waybill = self.waybills.get((str(query.get("com")), str(query.get("num"))))
            if waybill is None or not waybill.events:
                return self._fail("500", "查询无结果，请隔段时间再查")
            return JSONResponse(self._result(waybill, query.get("resultv2")))

    async def _subscribe(self, request: Request) -> Response:
        self.calls.append("subscribe")
        form = await _form(request)
        fault = self._fault_response()
        if fault is not None:
            return fault
        if form.get("schema") != "json":
            return self._fail("700", "schema 不支持")
        try:
            param = loads_exact(str(form.get("param", "")))
        except ValueError:
            return self._fail("700", "参数格式错误")
        if param.get("key") != self.key:
            return self._fail("600", "您不是合法的订阅者（即授权Key出错）")
        parameters = param.get("parameters") or {}
        if not param.get("company") or not param.get("number") or not parameters.get("callbackurl"):
            return self._fail("700", "订阅参数错误")
        key = (str(param["company"]), str(param["number"]))
        with self._lock:
            if key in self.subscriptions:
                return self._fail("501", "重复订阅")
            self.subscriptions[key] = SandboxSubscription(
                str(parameters["callbackurl"]), parameters.get("salt"), parameters.get("resultv2")
            )
            self.waybills.setdefault(key, SandboxWaybill(*key))
        return JSONResponse({"result": True, "returnCode": "200", "message": "提交成功"})

    # ------------------------------------------------------------------ callbacks

    def callback_body(self, company: str, number: str) -> tuple[str, bytes]:
        """The callback Kuaidi100 would send now for a subscribed waybill: (URL, form body)."""
        with self._lock:
            subscription = self.subscriptions[(company, number)]
            waybill = self.waybills[(company, number)]
            result = self._result(waybill, subscription.resultv2)
        payload = {
            "status": "shutdown" if waybill.state == "3" else "polling",
            "message": "",
            "autoCheck": "0",
            "comOld": "",
            "comNew": "",
            "lastResult": result,
        }
        param = param_text(payload)
        form = {"param": param}
        if subscription.salt is not None:
            sign = callback_sign(param, subscription.salt)
            if self._take_fault(("bad_sign",)):
                sign = callback_sign(param, subscription.salt + "-wrong")
            form["sign"] = sign
        return subscription.callback_url, urlencode(form).encode("utf-8")

    async def send_callback(self, company: str, number: str) -> httpx.Response:
        """POST the callback to the subscribed URL; the reply is kept in ``callback_replies``."""
        url, body = self.callback_body(company, number)
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.post(
                url, content=body, headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"}
            )
        try:
            self.callback_replies.append(response.json())
        except ValueError:
            self.callback_replies.append({"http_status": response.status_code, "text": response.text})
        return response
