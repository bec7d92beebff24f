"""The Cainiao e-waybill methods of the TOP sandbox: ``cainiao.waybill.ii.get`` and
``cainiao.waybill.ii.cancel``, answered from an in-memory waybill account per seller session.
``TaobaoSandbox`` (and so the Tmall one) registers them; its ``cainiao`` attribute is the state.

As strict as the real API where its models say what is required: the request JSON must parse;
``cp_code``, ``sender`` (name, mobile or phone, address province/city/detail) and one to ten
``trade_order_info_dtos`` each with ``object_id``, ``order_info`` (``order_channels_type``,
``trade_order_list``), ``package_info.items``, ``recipient`` (as the sender) and ``template_url``.
A cp_code the account has no subscription for is refused. A recipient must be in clear text, or
carry the ``oaid`` of one of that seller's trades (``recipient.oaid``, with ``recipient.tid``, when
given, that trade's id): a masked (``*``) or encrypted (``~…``) recipient without one is refused,
since no label could be printed from it. The same ``object_id`` (per cp_code)
returns the waybill issued first, unchanged. Numbers are drawn per cp_code.

The sandbox's own, not Cainiao's (the public models do not name them) ⚠️ [U]: the sub_codes of
its business errors (``SUB_*`` below; a missing nested field answers TOP's code 40 shape
``isv.missing-parameter:<path>``), and what ``print_data`` holds besides ``data``,
``signature`` and ``templateURL``. Not a place for hub logic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.plugin_api import sandbox_ids
from plugins.taobao.top_gateway import TopApiError, TopCall, invalid, missing

REQUEST_PARAM = "param_waybill_cloud_print_apply_new_request"
MAX_DTOS = 10
#: cp_codes a sandbox account subscribes to (``CainiaoWaybills.subscriptions`` per shop changes it).
SUBSCRIBED = frozenset({"YTO", "ZTO", "STO", "YUNDA", "SF", "EMS", "POSTB", "JD"})
#: The first digits of sandbox numbers per cp_code (look-alikes; 12 digits follow).
PREFIX = {"YTO": "YT", "ZTO": "78", "STO": "77", "YUNDA": "43", "SF": "SF", "EMS": "11", "POSTB": "98", "JD": "JDV"}

SUB_NOT_SUBSCRIBED = "isv.waybill-subscription-not-exist"  # the sandbox's own ⚠️ [U]
SUB_NOT_FOUND = "isv.waybill-not-exist"  # the sandbox's own ⚠️ [U]
SUB_ALREADY_CANCELLED = "isv.waybill-already-cancelled"  # the sandbox's own ⚠️ [U]
SUB_ALREADY_COLLECTED = "isv.waybill-already-collected"  # the sandbox's own ⚠️ [U]
SUB_RECIPIENT_HIDDEN = "isv.recipient-encrypted-without-oaid"  # the sandbox's own ⚠️ [U]
SUB_OAID_UNKNOWN = "isv.oaid-not-exist"  # the sandbox's own ⚠️ [U]


@dataclass
class IssuedWaybill:
    """One number the sandbox issued, with what it was asked for."""

    shop: str
    cp_code: str
    waybill_code: str
    object_id: str
    request: dict[str, Any]
    print_data: str
    status: str = "issued"  # issued | cancelled | collected
    times_asked: int = 1


def _business(sub_code: str, sub_msg: str) -> TopApiError:
    return TopApiError(15, "Remote service error", sub_code, sub_msg)


def _required_text(value: Any, path: str) -> str:
    if value is None or str(value).strip() == "":
        raise missing(path)
    return str(value)


def _check_party(party: Any, path: str) -> None:
    if not isinstance(party, dict):
        raise missing(path)
    _required_text(party.get("name"), f"{path}.name")
    if not (str(party.get("mobile") or "").strip() or str(party.get("phone") or "").strip()):
        raise missing(f"{path}.mobile")
    address = party.get("address")
    if not isinstance(address, dict):
        raise missing(f"{path}.address")
    for name in ("province", "city", "detail"):
        _required_text(address.get(name), f"{path}.address.{name}")


def _check_dto(dto: Any, index: int) -> None:
    path = f"trade_order_info_dtos[{index}]"
    if not isinstance(dto, dict):
        raise invalid("trade_order_info_dtos", f"{path} must be an object")
    _required_text(dto.get("object_id"), f"{path}.object_id")
    _required_text(dto.get("template_url"), f"{path}.template_url")
    order = dto.get("order_info")
    if not isinstance(order, dict):
        raise missing(f"{path}.order_info")
    _required_text(order.get("order_channels_type"), f"{path}.order_info.order_channels_type")
    orders = order.get("trade_order_list")
    if not isinstance(orders, list) or not orders or not all(str(o).strip() for o in orders):
        raise missing(f"{path}.order_info.trade_order_list")
    package = dto.get("package_info")
    items = package.get("items") if isinstance(package, dict) else None
    if not isinstance(items, list) or not items:
        raise missing(f"{path}.package_info.items")
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise missing(f"{path}.package_info.items[{n}].name")
        if not isinstance(item.get("count"), int) or item["count"] <= 0:
            raise invalid(f"{path}.package_info.items[{n}].count", "count must be a positive integer")
    _check_party(dto.get("recipient"), f"{path}.recipient")


def _hidden(party: dict[str, Any]) -> bool:
    """Whether a party's name, phones or street are masked (``*``) or encrypted (``~…``)."""
    found = party.get("address")
    address: dict[str, Any] = found if isinstance(found, dict) else {}
    values = [party.get("name"), party.get("mobile"), party.get("phone"), address.get("detail")]
    return any("*" in str(v) or str(v).startswith("~") for v in values if v)


@dataclass
class CainiaoWaybills:
    """The waybill accounts of a sandbox's sellers (keyed by the hub shop the session opens)."""

    secret: str = "sandbox-cainiao-print-key"
    #: (shop, oaid) → the tid of that seller's trade the oaid names, or None (the TOP sandbox's).
    trade_of_oaid: Callable[[str, str], str | None] | None = None
    #: oaid → tid lookups of other sellers whose shops use these accounts too (``share_with``).
    shared: list[Callable[[str], str | None]] = field(default_factory=list)
    #: shop → the cp_codes its account subscribes to (``SUBSCRIBED`` when not set).
    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    waybills: dict[tuple[str, str, str], IssuedWaybill] = field(default_factory=dict)
    _counters: dict[str, Iterator[int]] = field(default_factory=dict)

    # -- query helpers for tests -----------------------------------------------------------------

    def issued(self, shop: str | None = None) -> list[IssuedWaybill]:
        """Every waybill issued (for ``shop``), in issue order, whatever its status now."""
        return [w for w in self.waybills.values() if shop is None or w.shop == shop]

    def cancelled(self, shop: str | None = None) -> list[IssuedWaybill]:
        return [w for w in self.issued(shop) if w.status == "cancelled"]

    def find(self, waybill_code: str) -> IssuedWaybill | None:
        return next((w for w in self.waybills.values() if w.waybill_code == waybill_code), None)

    def collect(self, waybill_code: str) -> None:
        """The courier picks the parcel up: the number can no longer be cancelled."""
        waybill = self.find(waybill_code)
        if waybill is None:
            raise KeyError(waybill_code)
        waybill.status = "collected"

    def share_with(self, lookup: Callable[[str], str | None]) -> None:
        """Accept the oaids ``lookup`` knows (oaid → tid) from every seller: another seller's shop
        ships with these accounts too (a shared waybill account, TOP's ``user_id`` case), e.g. the
        demo's Tmall shop with the Taobao shop's Cainiao account."""
        self.shared.append(lookup)

    def _trade_of(self, shop: str, oaid: str) -> str | None:
        tid = self.trade_of_oaid(shop, oaid) if self.trade_of_oaid else None
        for lookup in self.shared:
            tid = tid or lookup(oaid)
        return tid

    # -- the methods -------------------------------------------------------------------------------

    def _check_recipient(self, shop: str, dto: dict[str, Any], index: int) -> None:
        path = f"trade_order_info_dtos[{index}].recipient"
        recipient = dto["recipient"]
        oaid = str(recipient.get("oaid") or "").strip()
        if not oaid:
            if _hidden(recipient):
                raise _business(SUB_RECIPIENT_HIDDEN, f"{path} is masked or encrypted: give its oaid")
            return
        tid = self._trade_of(shop, oaid)
        if tid is None:
            raise _business(SUB_OAID_UNKNOWN, f"{path}.oaid names no trade of this seller")
        if recipient.get("tid") not in (None, "") and str(recipient["tid"]) != tid:
            raise invalid(f"{path}.tid", "tid must be the trade the oaid belongs to")

    def _number(self, cp_code: str) -> str:
        counter = self._counters.setdefault(cp_code, sandbox_ids(1))
        return f"{PREFIX.get(cp_code, cp_code)}{next(counter):012d}"

    def _print_data(self, cp_code: str, code: str, template_url: str) -> str:
        data = {"waybillCode": code, "cpCode": cp_code}
        signature = hashlib.sha256(f"{self.secret}{code}".encode()).hexdigest()[:32]
        return json.dumps({"data": data, "signature": signature, "templateURL": template_url},
                          ensure_ascii=False, separators=(",", ":"))

    def get(self, call: TopCall) -> dict[str, Any]:
        text = call.require(REQUEST_PARAM)
        try:
            body = json.loads(text)
        except ValueError:
            raise invalid(REQUEST_PARAM, "not JSON") from None
        if not isinstance(body, dict):
            raise invalid(REQUEST_PARAM, "must be a JSON object")
        cp_code = _required_text(body.get("cp_code"), "cp_code")
        _check_party(body.get("sender"), "sender")
        dtos = body.get("trade_order_info_dtos")
        if not isinstance(dtos, list) or not dtos:
            raise missing("trade_order_info_dtos")
        if len(dtos) > MAX_DTOS:
            raise invalid("trade_order_info_dtos", f"at most {MAX_DTOS} per call")
        for index, dto in enumerate(dtos):
            _check_dto(dto, index)
        shop = str(call.shop)
        if cp_code not in self.subscriptions.get(shop, SUBSCRIBED):
            raise _business(SUB_NOT_SUBSCRIBED, f"no waybill subscription for cp_code {cp_code}")
        for index, dto in enumerate(dtos):
            self._check_recipient(shop, dto, index)
        answers = []
        for dto in dtos:
            key = (shop, cp_code, str(dto["object_id"]))
            waybill = self.waybills.get(key)
            if waybill is None:
                code = self._number(cp_code)
                waybill = IssuedWaybill(shop, cp_code, code, key[2], {**body, "trade_order_info_dtos": [dto]},
                                        self._print_data(cp_code, code, str(dto["template_url"])))
                self.waybills[key] = waybill
            else:
                waybill.times_asked += 1
            answers.append({"object_id": waybill.object_id, "waybill_code": waybill.waybill_code,
                            "print_data": waybill.print_data, "cp_code": cp_code, "real_cp_code": cp_code})
        return {"modules": {"waybill_cloud_print_response": answers}}

    def cancel(self, call: TopCall) -> dict[str, Any]:
        cp_code, code = call.require("cp_code"), call.require("waybill_code")
        waybill = self.find(code)
        if waybill is None or waybill.cp_code != cp_code or waybill.shop != call.shop:
            raise _business(SUB_NOT_FOUND, f"waybill {code} of {cp_code} does not exist")
        if waybill.status == "cancelled":
            raise _business(SUB_ALREADY_CANCELLED, f"waybill {code} is cancelled already")
        if waybill.status == "collected":
            raise _business(SUB_ALREADY_COLLECTED, f"waybill {code} was collected: it cannot be cancelled")
        waybill.status = "cancelled"
        return {"cancel_result": True}


def cainiao_handlers(waybills: CainiaoWaybills) -> dict[str, Callable[[TopCall], dict[str, Any]]]:
    return {"cainiao.waybill.ii.get": waybills.get, "cainiao.waybill.ii.cancel": waybills.cancel}
