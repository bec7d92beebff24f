"""``LabelDesk``: the Kuaidi100 sandbox's electronic waybill API (``POST /label/order``,
``method=order`` and ``method=cancel``), mounted by ``Kuaidi100Sandbox``.

As strict as Kuaidi100 and no stricter: the form's ``key``, ``method``, ``t``, ``param`` and
``sign`` = uppercase MD5(param + t + key + secret) over ``param`` as received (30002 when it does
not verify, 30003 for an unknown key); ``t`` is not checked against a clock (no window is
documented). ``order`` needs ``kuaidicom``, ``recMan`` and ``sendMan`` with ``name``, ``mobile`` or
``tel`` and ``printAddr`` (30001 naming the field otherwise); the partner fields are not checked
(which are required depends on the courier). ``orderId`` with ``reorder`` false answers a repeat
within 48 hours with the first result; ``reorder`` absent or true orders again, as Kuaidi100's
default does. Answers use the V2 shape ``{code, message, time, data}``; ``cancel`` answers the
legacy ``{result, returnCode, message}`` shape the official Java demo parses [U]. Numbers, sort
codes and package centres are the sandbox's own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from hub.plugin_api import constant_time_equals, sandbox_ids
from plugins.logistics.kuaidi100.client import loads_exact
from plugins.logistics.kuaidi100.label_client import label_sign

REPEAT_WINDOW_S = 48 * 3600
LABEL_FAULTS = ("server_error", "late_reply")
PREFIXES = {"zhongtong": "78", "yuantong": "YT", "shentong": "77", "yunda": "43", "shunfeng": "SF",
            "jd": "JDX", "ems": "11", "zhaijisong": "ZJS", "jtexpress": "JT"}
_NUMBERS = sandbox_ids(620_000_000_001)


@dataclass
class LabelOrder:
    order_id: str
    kuaidicom: str
    data: dict[str, Any]
    issued_at: float
    status: str = "issued"  # issued | cancelled | collected


class LabelDesk:
    """State and handler of ``/label/order``."""

    def __init__(self, key: str, secret: str, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.secret = secret
        self.clock = clock
        self.orders: dict[str, LabelOrder] = {}  # by kuaidinum
        self.by_order_id: dict[str, LabelOrder] = {}
        self.calls: list[str] = []
        self._faults: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()

    # ------------------------------------------------------------------ driving

    def inject_fault(self, fault: str, count: int = 1, *, seconds: float = 30.0) -> None:
        """Next ``count`` label calls: ``server_error`` (code -1 before doing anything) or
        ``late_reply`` (do the work, then hold the answer until ``release_replies()`` or ``seconds``)."""
        if fault not in LABEL_FAULTS:
            raise ValueError(f"unknown label fault {fault!r}; expected one of {', '.join(LABEL_FAULTS)}")
        with self._lock:
            self._faults.extend([(fault, seconds)] * count)

    def release_replies(self) -> None:
        self._release.set()

    def collect(self, kuaidinum: str) -> None:
        with self._lock:
            self.orders[kuaidinum].status = "collected"

    def status(self, kuaidinum: str) -> str | None:
        with self._lock:
            order = self.orders.get(kuaidinum)
            return None if order is None else order.status

    def issued(self) -> int:
        with self._lock:
            return len(self.orders)

    # ------------------------------------------------------------------ the API

    @staticmethod
    def _v2(code: int, message: str, data: Any = None) -> JSONResponse:
        body: dict[str, Any] = {"code": code, "message": message, "time": int(time.time() * 1000)}
        if data is not None:
            body["data"] = data
        return JSONResponse(body)

    async def handle(self, form: dict[str, str]) -> Response:
        method = form.get("method", "")
        self.calls.append(method)
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None and fault[0] == "server_error":
            return self._v2(-1, "服务器错误")
        for name in ("key", "method", "t", "param", "sign"):
            if not form.get(name):
                return self._v2(30001, f"参数错误: {name}")
        if form["key"] != self.key:
            return self._v2(30003, "账号信息不正确")
        if not constant_time_equals(form["sign"], label_sign(form["param"], form["t"], self.key, self.secret)):
            return self._v2(30002, "验证签名失败")
        try:
            param = loads_exact(form["param"])
        except ValueError:
            return self._v2(30001, "参数错误: param 不是 JSON")
        if not isinstance(param, dict):
            return self._v2(30001, "参数错误: param")
        if method == "order":
            response = self._order(param)
        elif method == "cancel":
            response = self._cancel(param)
        else:
            return self._v2(30001, f"参数错误: method {method}")
        if fault is not None and fault[0] == "late_reply":
            self._release.clear()
            await asyncio.to_thread(self._release.wait, fault[1])
        return response

    def _order(self, param: dict[str, Any]) -> Response:
        company = str(param.get("kuaidicom") or "")
        if not company:
            return self._v2(30001, "参数错误: kuaidicom")
        for who in ("recMan", "sendMan"):
            person = param.get(who)
            if not isinstance(person, dict):
                return self._v2(30001, f"参数错误: {who}")
            for name in ("name", "printAddr"):
                if not str(person.get(name) or "").strip():
                    return self._v2(30001, f"参数错误: {who}.{name}")
            if not str(person.get("mobile") or person.get("tel") or "").strip():
                return self._v2(30001, f"参数错误: {who}.mobile|tel")
        order_id = str(param.get("orderId") or "")
        reorder = param.get("reorder", True) not in (False, "false")
        now = self.clock()
        with self._lock:
            known = self.by_order_id.get(order_id) if order_id and not reorder else None
            if known is not None and known.status == "issued" and now - known.issued_at <= REPEAT_WINDOW_S:
                return self._v2(200, "success", dict(known.data))
            number = PREFIXES.get(company, "KD") + str(next(_NUMBERS))
            data: dict[str, Any] = {
                "kuaidinum": number, "kdComOrderNum": "", "taskId": f"sbx{number}", "bulkpen": "300-W01 00",
                "pkgCode": "571", "pkgName": "杭州转运中心", "road": "A12", "destCode": "021", "destName": "上海浦东",
                "orgCode": "571", "orgName": "杭州余杭", "childNum": "", "returnNum": "",
            }
            if param.get("printType") in ("HTML", "IMAGE"):
                data["label"] = f"https://sandbox.kuaidi100.invalid/label/{number}"
            order = LabelOrder(order_id, company, data, now)
            self.orders[number] = order
            if order_id:
                self.by_order_id[order_id] = order
        return self._v2(200, "success", dict(data))

    def _cancel(self, param: dict[str, Any]) -> Response:
        company, number = str(param.get("kuaidicom") or ""), str(param.get("kuaidinum") or "")
        if not company or not number:
            return JSONResponse({"result": False, "returnCode": "400", "message": "参数错误: kuaidicom, kuaidinum"})
        with self._lock:
            order = self.orders.get(number)
            if order is None or order.kuaidicom != company:
                return JSONResponse({"result": False, "returnCode": "400", "message": "面单号不存在"})
            if order.status == "collected":
                return JSONResponse({"result": False, "returnCode": "400", "message": "已揽收，不能取消"})
            order.status = "cancelled"
        return JSONResponse({"result": True, "returnCode": "200", "message": "取消成功"})

