"""The Douyin sandbox's after-sales: the state machine of refund-only, return-and-refund and
exchange cases with the platform's status codes, the buyer's moves, and the gateway methods
``afterSale.List`` / ``afterSale.Detail`` / ``afterSale.operate`` / ``afterSale.rejectReasonCodeList``
/ ``afterSale.fillLogistics`` (a 补寄's parcel).

Every change bumps the case's ``update_time`` (never twice to the same second, so the optimistic
lock ``afterSale.operate`` checks always sees it), sets ``status_deadline`` and queues the 200-series
push the platform sends, with the payload fields its message docs give. Synchronous and
protocol-free like ``sandbox_shop``; signatures and tokens are ``sandbox.py``'s job.

Where the platform's behaviour is not published the sandbox chooses, and says so: the deadlines
per status, the refusal reasons, the code for a stale ``update_time`` (the status-error code
``20309541``), the push for an exchange done (206) and ``code`` 50002 on every operate refusal.
A refund that gives an unshipped order all its money back cancels the order (4, push 106).
"""

from __future__ import annotations

from typing import Any

from plugins.douyin.sandbox_shop import SANDBOX_COMPANIES, AfterSaleCase, ApiFailure, EmulatedShop, ShopBook

#: ``kind`` of the uniform control surface → Douyin ``aftersale_type`` (refund-only: 2 before
#: shipping, 1 after; §5 type table).
KIND_TYPES = {"return_and_refund": 0, "exchange": 3}
TYPE_TEXT = {0: "退货退款", 1: "已发货仅退款", 2: "未发货仅退款", 3: "换货", 7: "补寄", 8: "维修"}
STATUS_DESC = {6: "待商家处理", 7: "待买家退货", 8: "待商家发货", 11: "待商家收货", 12: "售后成功",
               13: "换货待买家收货", 14: "换货成功", 27: "商家拒绝售后申请", 28: "售后关闭", 29: "商家拒绝退款"}
OPEN_STATUSES = frozenset({6, 7, 8, 11, 13})
#: order_status values before anything shipped (105 paid, 2 备货中).
UNSHIPPED = frozenset({"105", "2"})
#: How long each status waits before the platform acts for the silent party (the sandbox's own
#: periods; the platform publishes them per category, not per API).
DEADLINE_S = {6: 48 * 3600, 7: 7 * 86400, 8: 48 * 3600, 11: 48 * 3600, 13: 7 * 86400}
#: Control-surface courier names → the sandbox's ``company_code``.
COURIER_ALIASES = {"SF": "shunfeng", "ZTO": "zhongtong", "YTO": "yuantong", "STO": "shentong", "YUNDA": "yunda",
                   "EMS": "ems", "JD": "jd"}
#: ``afterSale.rejectReasonCodeList`` items (the sandbox's own codes and words; ``pkg`` 0 = the buyer
#: has not received the goods, 1 = has, −1 = either; ``order_type`` −1 = any).
REJECT_REASONS: list[dict[str, Any]] = [
    {"reject_reason_code": 1001, "reason": "商品已发出，物流显示买家已签收", "evidence_need": "Y",
     "evidence_description": "请上传物流签收截图", "image": "", "order_type": -1, "pkg": 1},
    {"reject_reason_code": 1002, "reason": "已与买家协商一致，买家同意撤销申请", "evidence_need": "N",
     "evidence_description": "", "image": "", "order_type": -1, "pkg": -1},
    {"reject_reason_code": 1003, "reason": "退回商品已使用，影响二次销售", "evidence_need": "Y",
     "evidence_description": "请上传退回商品照片", "image": "", "order_type": 0, "pkg": 1},
    {"reject_reason_code": 1004, "reason": "商品在运输途中，买家未签收", "evidence_need": "N",
     "evidence_description": "", "image": "", "order_type": 0, "pkg": 0},
]
SELLER_RETURN_ADDRESS: dict[str, Any] = {
    "province": {"id": 33, "name": "浙江省"}, "city": {"id": 3301, "name": "杭州市"},
    "town": {"id": 330106, "name": "西湖区"}, "street": {"id": 330106001, "name": "文新街道"},
    "detail": "文一西路 1 号 退货仓", "landmark": ""}
#: The event-time field of each after-sale tag (official SDK ``message/*.go``, doc samples).
EVENT_TIME_FIELD = {"200": "apply_time", "201": "agree_time", "202": "agree_time", "203": "return_time",
                    "204": "refuse_time", "205": "refuse_time", "206": "success_time", "207": "close_time",
                    "208": "modify_time", "211": "apply_time"}


def _refused(code: str, msg: str, detail: str = "", *, top: int = 50002) -> ApiFailure:
    return ApiFailure(top, code, msg, detail or msg)


def status_error(case: AfterSaleCase, detail: str) -> ApiFailure:
    return _refused("isv.business-failed:20309541", "售后状态错误", f"after-sale {case.aftersale_id} "
                    f"is {case.status} {STATUS_DESC.get(case.status, '')}: {detail}")


def _case(shop: EmulatedShop, aftersale_id: Any) -> AfterSaleCase:
    case = shop.aftersales.get(str(aftersale_id or ""))
    if case is None:
        raise _refused("isp.service-error:10000", "售后单无效", f"after-sale {aftersale_id} not found")
    return case


# --------------------------------------------------------------------------- changes


def touch(book: ShopBook, case: AfterSaleCase, status: int, record: str) -> None:
    """Move ``case`` to ``status`` now: a new ``update_time`` (strictly later) and deadline."""
    case.status = status
    case.updated = max(book.now(), case.updated + 1)
    case.deadline = case.updated + DEADLINE_S[status] if status in DEADLINE_S else 0
    case.records.append(record)


def push(book: ShopBook, shop: EmulatedShop, tag: str, case: AfterSaleCase, **extra: Any) -> None:
    """Queue the after-sale message ``tag`` with the payload of the platform's message docs: ids,
    status and type, the money and reason block, ``update_time`` and the tag's own event time."""
    data: dict[str, Any] = {
        "p_id": int(case.order_id), "s_id": int(case.sub_order.order_id), "shop_id": shop.shop_id,
        "aftersale_id": int(case.aftersale_id), "aftersale_status": case.status, "aftersale_type": case.type,
        "refund_amount": case.refund_fen, "refund_post_amount": 0, "refund_voucher_num": 0,
        "reason_code": case.reason_code, "update_time": case.updated,
    }
    data[EVENT_TIME_FIELD.get(tag, "update_time")] = case.updated
    data.update(extra)
    book.events.append((shop.name, tag, data))


def _refund(book: ShopBook, shop: EmulatedShop, case: AfterSaleCase, record: str) -> None:
    """The seller agreed to pay: 201 (agreed), then the money moves at once in the sandbox: 206."""
    touch(book, case, 12, record)
    case.refund_status = 3
    push(book, shop, "201", case)
    push(book, shop, "206", case)
    _close_if_refunded(book, shop, case.order_id)


def _close_if_refunded(book: ShopBook, shop: EmulatedShop, order_id: str) -> None:
    """A paid order not shipped whose every sub-order got all it paid back (cases 12 success) is
    cancelled by the platform (order_status 4, push 106); one sub-order of two, or part of one's
    payment, leaves it to ship [U: the rule is what sellers see, the docs give only the statuses]."""
    order = shop.orders.get(order_id)
    if order is None or order.status not in UNSHIPPED:
        return
    back: dict[str, int] = {}
    for other in shop.aftersales.values():
        if other.order_id == order_id and other.status == 12:
            back[other.sub_order.order_id] = back.get(other.sub_order.order_id, 0) + other.refund_fen
    if all(back.get(line.order_id, 0) >= line.sku.price_fen * line.quantity for line in order.lines):
        book.close_refunded(shop, order)


def open_case(book: ShopBook, shop_name: str, order_id: str, kind: str | int, *, amount_fen: int | None = None,
              reason: str | None = None) -> str:
    """The buyer applies (push 200). ``kind``: "refund_only" | "return_and_refund" | "exchange",
    or a Douyin ``aftersale_type``. One open case per sub-order, on a paid order, for at most what
    was paid: anything else is a ``ValueError`` (the buyer's app would not let it through)."""
    with book.lock:
        shop = book.shop(shop_name)
        order = book.order(shop_name, order_id)
        if order.status in ("1", "4"):
            raise ValueError(f"order {order_id} is {order.status}: only a paid order takes an after-sale")
        shipped = order.status in ("3", "5", "101")
        if isinstance(kind, int):
            raw_type = kind
        elif kind == "refund_only":
            raw_type = 1 if shipped else 2
        elif kind in KIND_TYPES:
            raw_type = KIND_TYPES[kind]
        else:
            raise ValueError(f"unknown after-sale kind {kind!r}; expected refund_only, return_and_refund or exchange")
        line = order.lines[0]
        if any(c.sub_order is line and c.status in OPEN_STATUSES for c in shop.aftersales.values()):
            raise ValueError(f"sub-order {line.order_id} already has an open after-sale")
        paid = line.sku.price_fen * line.quantity
        wanted = paid if amount_fen is None else amount_fen
        if wanted > paid or wanted < 0:
            raise ValueError(f"refund {wanted} fen is above what was paid ({paid} fen)")
        if raw_type == 3:
            wanted = 0  # an exchange returns no money
        now = book.now()
        case = AfterSaleCase(str(next(book.aftersale_ids)), order.order_id, line, raw_type, 6, 1, wanted, now, now,
                             reason=reason or ("尺码不合适" if raw_type == 3 else "不想要了"),
                             reason_code=12 if raw_type == 3 else 1, reason_remark=reason or "",
                             got_pkg=1 if order.status == "5" or raw_type in (0, 3) else 0)
        case.evidence = [f"https://sandbox.jinritemai.invalid/evidence/{case.aftersale_id}-1.jpg"]
        case.deadline = now + DEADLINE_S[6]
        case.records.append("买家申请售后")
        shop.aftersales[case.aftersale_id] = case
        push(book, shop, "200", case)
        return case.aftersale_id


def buyer_returns(book: ShopBook, shop_name: str, aftersale_id: str, tracking_number: str, company: str) -> None:
    """The buyer sends the goods back after the seller agreed (7 → 11, push 203)."""
    with book.lock:
        shop = book.shop(shop_name)
        case = _case(shop, aftersale_id)
        if case.status != 7:
            raise ValueError(f"after-sale {aftersale_id} is {case.status}: the buyer returns goods only at 7")
        code = COURIER_ALIASES.get(company.upper(), company)
        names = {c["code"]: c["name"] for c in SANDBOX_COMPANIES}
        touch(book, case, 11, "买家已退货")
        case.return_logistics = {"tracking_no": tracking_number, "company_code": code,
                                 "company_name": names.get(code, company), "logistics_time": case.updated}
        push(book, shop, "203", case)


def buyer_receives(book: ShopBook, shop_name: str, aftersale_id: str) -> None:
    """The buyer confirms the replacement arrived (13 → 14). The push is 206 [U: the message docs name no tag
    for a finished exchange; the hub re-reads the case on any after-sale tag]."""
    with book.lock:
        shop = book.shop(shop_name)
        case = _case(shop, aftersale_id)
        if case.status != 13:
            raise ValueError(f"after-sale {aftersale_id} is {case.status}: a replacement is received only at 13")
        touch(book, case, 14, "买家已收到换货")
        push(book, shop, "206", case)


def buyer_modifies(book: ShopBook, shop_name: str, aftersale_id: str, *, amount_fen: int | None = None,
                   remark: str | None = None) -> None:
    """The buyer changes the request (a waiting one, or one the seller refused: it waits again),
    push 208; its ``update_time`` moves, so a decision on the old one is stale."""
    with book.lock:
        shop = book.shop(shop_name)
        case = _case(shop, aftersale_id)
        if case.status not in (6, 27):
            raise ValueError(f"after-sale {aftersale_id} is {case.status}: only a waiting or refused one changes")
        if amount_fen is not None:
            paid = case.sub_order.sku.price_fen * case.sub_order.quantity
            if not 0 <= amount_fen <= paid:
                raise ValueError(f"refund {amount_fen} fen is above what was paid ({paid} fen)")
            case.refund_fen = amount_fen
        if remark is not None:
            case.reason_remark = remark
        case.refusal = {}
        touch(book, case, 6, "买家修改售后申请")
        push(book, shop, "208", case)


def buyer_cancels(book: ShopBook, shop_name: str, aftersale_id: str) -> None:
    """The buyer withdraws an open case (→ 28, push 207)."""
    with book.lock:
        shop = book.shop(shop_name)
        case = _case(shop, aftersale_id)
        if case.status not in OPEN_STATUSES - {13}:
            raise ValueError(f"after-sale {aftersale_id} is {case.status}: it cannot be withdrawn")
        touch(book, case, 28, "买家撤销售后申请")
        push(book, shop, "207", case)


def platform_advances(book: ShopBook, shop_name: str, aftersale_id: str) -> int:
    """The platform acts when the deadline passes with the seller silent: a waiting refund is paid,
    a waiting return agreed (to the shop's default address), returned goods refunded; the buyer's
    return is simulated at 7. Returns the new status."""
    with book.lock:
        shop = book.shop(shop_name)
        case = _case(shop, aftersale_id)
        if case.status == 6 and case.type in (0, 3):
            touch(book, case, 7, "超时自动同意退货")
            case.return_address_id = case.return_address_id or "1"
            push(book, shop, "202", case, addr=_push_address())
        elif case.status == 6 and case.type in (1, 2):
            _refund(book, shop, case, "超时自动退款")
        elif case.status == 7:
            buyer_returns(book, shop_name, aftersale_id, f"SF{case.aftersale_id[-12:]}", "SF")
        elif case.status == 11 and case.type == 0:
            _refund(book, shop, case, "超时自动退款")
        return case.status


# --------------------------------------------------------------------------- afterSale.operate


def reasons_for(book: ShopBook, shop: EmulatedShop, case: AfterSaleCase) -> list[dict[str, Any]]:
    """The refusal reasons of a case: none before the order shipped (the SDK's field note: "only shipped
    orders return reasons"), else those for whether the buyer has the goods (``pkg``)."""
    order = book.order(shop.name, case.order_id)
    if order.status not in ("3", "5", "101"):
        return []
    return [dict(r) for r in REJECT_REASONS if r["pkg"] in (-1, case.got_pkg)]


def _check_refusal(book: ShopBook, shop: EmulatedShop, case: AfterSaleCase, item: dict[str, Any]) -> None:
    for name in ("reason", "remark"):
        if not str(item.get(name) or "").strip():
            raise _refused("isv.parameter-invalid:11000", "参数错误", f"{name} is required when refusing", top=40004)
    reasons = {r["reject_reason_code"]: r for r in reasons_for(book, shop, case)}
    code = item.get("reject_reason_code")
    reason = reasons.get(code) if isinstance(code, int) else None
    if reason is None:
        raise _refused("isv.parameter-invalid:11000", "参数错误", f"reject_reason_code {code!r} is not in "
                       "afterSale.rejectReasonCodeList for this after-sale", top=40004)
    evidence = item.get("evidence") or []
    if reason["evidence_need"] == "Y" and not evidence:
        raise _refused("isv.parameter-invalid:11000", "参数错误", f"reason {code} needs evidence", top=40004)
    if any(not str(e.get("url") or "").startswith("http") for e in evidence if isinstance(e, dict)):
        raise _refused("isv.parameter-invalid:11000", "参数错误", "evidence[].url must be a URL", top=40004)


def _logistics(item: dict[str, Any], operation: int) -> dict[str, Any]:
    logistics = item.get("logistics") or {}
    if not isinstance(logistics, dict) or not logistics:
        raise _refused("isv.parameter-invalid:11000", "参数错误", f"type {operation} needs logistics", top=40004)
    if operation in (101, 301) and not str(logistics.get("receiver_address_id") or "").isdigit():
        raise _refused("isv.parameter-invalid:11000", "参数错误", "logistics.receiver_address_id is required",
                       top=40004)
    if operation == 311:
        code, number = str(logistics.get("company_code") or ""), str(logistics.get("logistics_code") or "")
        if not code or not number:
            raise _refused("isv.parameter-invalid:11000", "参数错误", "type 311 needs logistics.company_code and "
                           "logistics.logistics_code", top=40004)
        if code not in {c["code"] for c in SANDBOX_COMPANIES}:
            raise _refused("isv.parameter-invalid:11000", "参数错误", f"company_code {code!r} unknown", top=40004)
    return logistics


#: operate ``type`` → (the ``aftersale_type`` values it applies to, the status it needs).
OPERATIONS: dict[int, tuple[frozenset[int], int]] = {
    201: (frozenset({1, 2}), 6), 202: (frozenset({1}), 6),
    101: (frozenset({0}), 6), 102: (frozenset({0}), 6), 111: (frozenset({0}), 11), 112: (frozenset({0}), 11),
    301: (frozenset({3}), 6), 302: (frozenset({3}), 6), 311: (frozenset({3}), 11), 312: (frozenset({3}), 11),
}
REFUSALS = frozenset({202, 102, 112, 302, 312})


def _check(book: ShopBook, shop: EmulatedShop, operation: int, item: dict[str, Any]) -> AfterSaleCase:
    """Everything the platform checks for one item, before anything changes."""
    case = _case(shop, item.get("aftersale_id"))
    if case.backend_only:
        raise _refused("isv.business-failed:11001", "不支持通过OPEN处理",
                       f"after-sale {case.aftersale_id} must be handled in the 抖店 back office")
    stamp = item.get("update_time")
    if stamp not in (None, "", 0) and not str(stamp).isdigit():
        raise _refused("isv.parameter-invalid:11000", "参数错误", "update_time must be Unix seconds", top=40004)
    if stamp not in (None, "", 0) and int(stamp) != case.updated:
        # [U] The platform's code for a stale update_time is unpublished: the sandbox answers the
        # status error, which asks the caller to re-read the case either way.
        raise status_error(case, f"update_time {stamp} is stale (now {case.updated})")
    types, needed = OPERATIONS[operation]
    if case.type not in types:
        raise _refused("isv.business-failed:11005", "操作失败",
                       f"type {operation} does not apply to aftersale_type {case.type} {TYPE_TEXT.get(case.type)}")
    if case.status != needed:
        raise status_error(case, f"type {operation} needs status {needed}")
    if operation in REFUSALS:
        _check_refusal(book, shop, case, item)
    if operation in (101, 301, 311):
        _logistics(item, operation)
    return case


def _apply(book: ShopBook, shop: EmulatedShop, operation: int, case: AfterSaleCase, item: dict[str, Any]) -> None:
    if operation in REFUSALS:
        case.refusal = {k: item.get(k) for k in ("reject_reason_code", "reason", "remark", "evidence")}
        second = operation in (112, 312)
        touch(book, case, 29 if second else 27, f"商家拒绝 ({operation})")
        push(book, shop, "204" if operation in (202, 112, 312) else "205", case)
    elif operation in (201, 111):
        _refund(book, shop, case, f"商家同意退款 ({operation})")
    elif operation in (101, 301):
        case.return_address_id = str(item["logistics"]["receiver_address_id"])
        touch(book, case, 7, f"商家同意{'退货' if operation == 101 else '换货'}申请")
        push(book, shop, "202", case, addr=_push_address())
    elif operation == 311:
        logistics = item["logistics"]
        names = {c["code"]: c["name"] for c in SANDBOX_COMPANIES}
        touch(book, case, 13, "商家确认收货并发出换货")
        case.exchange_logistics = {"tracking_no": str(logistics["logistics_code"]),
                                   "company_code": str(logistics["company_code"]),
                                   "company_name": names[str(logistics["company_code"])],
                                   "logistics_time": case.updated}
        push(book, shop, "211", case)


def operate(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    """``afterSale.operate``: ≤20 items of one ``type``; every item is checked first and one failing
    item fails the whole request (the platform's error table), so nothing changes then."""
    operation = params.get("type")
    if not isinstance(operation, int) or operation not in OPERATIONS:
        raise _refused("isv.parameter-invalid:11000", "参数错误", f"type {operation!r} is not supported", top=40004)
    items = params.get("items") or []
    if not isinstance(items, list) or not 1 <= len(items) <= 20:
        raise _refused("isv.parameter-invalid:11000", "参数错误", "items: 1..20", top=40004)
    with book.lock:
        checked = [(_check(book, shop, operation, item), item) for item in items]
        for case, item in checked:
            _apply(book, shop, operation, case, item)
        return {"items": [{"aftersale_id": int(case.aftersale_id), "status_code": 0, "status_msg": "成功"}
                          for case, _ in checked]}


def reject_reason_code_list(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    with book.lock:
        return {"items": reasons_for(book, shop, _case(shop, params.get("aftersale_id")))}


# --------------------------------------------------------------------------- afterSale.fillLogistics

#: ``send_type`` values of ``afterSale.fillLogistics`` (official SDK field notes): 1 = 补寄, the seller
#: ships. The sandbox emulates only 1; 3 (超市预约上门取货 / the buyer's return waybill) and 4 (a
#: repair's return) are refused as not emulated.
RESEND_SEND_TYPE = 1
RESEND_TYPE = 7


def _required(params: dict[str, Any], name: str) -> str:
    value = str(params.get(name) if params.get(name) is not None else "").strip()
    if not value:
        raise _refused("isv.parameter-invalid:11000", "参数错误", f"{name} is required", top=40004)
    return value


def fill_logistics(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    """``afterSale.fillLogistics`` with ``send_type`` 1: the seller's parcel for a 补寄 (type 7) → 13
    (sent, awaiting the buyer's receipt), pushes 226 补寄商家发货 with the fields its message doc
    gives. The parcel is kept in the case's ``exchange_logistics`` (the seller's parcel to the buyer)
    and shown as ``logistics_info.resend``.

    Where the platform's rules are not published the sandbox chooses [U]: a 补寄 still awaiting the
    seller (6) is taken as agreed and shipped at once (push 227 同意补寄 first; the facts name no
    API that agrees a 补寄), one awaiting shipment (8) as shipped; any other status is the status
    error 20309541; another case type is 11005 操作失败; ``aftersale_id`` must be an integer (int64
    in the SDK)."""
    raw_id = params.get("aftersale_id")
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise _refused("isv.parameter-invalid:11000", "参数错误", "aftersale_id must be an int64", top=40004)
    send_type = params.get("send_type")
    if send_type != RESEND_SEND_TYPE:
        raise _refused("isv.parameter-invalid:11000", "参数错误",
                       f"send_type {send_type!r}: the sandbox emulates only 1 (补寄)", top=40004)
    company, number = _required(params, "company_code"), _required(params, "tracking_no")
    names = {c["code"]: c["name"] for c in SANDBOX_COMPANIES}
    if company not in names:
        raise _refused("isv.parameter-invalid:11000", "参数错误", f"company_code {company!r} unknown", top=40004)
    with book.lock:
        case = _case(shop, raw_id)
        if case.backend_only:
            raise _refused("isv.business-failed:11001", "不支持通过OPEN处理",
                           f"after-sale {case.aftersale_id} must be handled in the 抖店 back office")
        if case.type != RESEND_TYPE:
            raise _refused("isv.business-failed:11005", "操作失败", f"send_type 1 (补寄) does not apply to "
                           f"aftersale_type {case.type} {TYPE_TEXT.get(case.type)}")
        if case.status not in (6, 8):
            raise status_error(case, "a 补寄 parcel is taken at 6 or 8 only")
        if case.status == 6:
            touch(book, case, 8, "商家同意补寄")
            book.events.append((shop.name, "227", _resend_payload(shop, case, status_key="after_sale_status")))
        touch(book, case, 13, "商家补寄发货")
        case.exchange_logistics = {"tracking_no": number, "company_code": company, "company_name": names[company],
                                   "logistics_time": case.updated}
        book.events.append((shop.name, "226", _resend_payload(shop, case)))
        return {}


def _resend_payload(shop: EmulatedShop, case: AfterSaleCase, *, status_key: str = "aftersale_status"
                    ) -> dict[str, Any]:
    """The 226/227 payload (official SDK ``message/*.go``): no money block; 227 spells the status
    ``after_sale_status``."""
    return {"p_id": int(case.order_id), "s_id": int(case.sub_order.order_id), "shop_id": shop.shop_id,
            "aftersale_id": int(case.aftersale_id), status_key: case.status, "aftersale_type": case.type,
            "reason_code": case.reason_code, "update_time": case.updated}


# --------------------------------------------------------------------------- reading


def _push_address() -> dict[str, Any]:
    a = SELLER_RETURN_ADDRESS
    return {"province": a["province"]["name"], "province_id": a["province"]["id"], "city": a["city"]["name"],
            "city_id": a["city"]["id"], "town": a["town"]["name"], "town_id": a["town"]["id"],
            "street": a["street"]["name"], "street_id": a["street"]["id"], "detail": a["detail"],
            "name": "售后仓", "mobile": "0571-1234567"}


def render_list_item(case: AfterSaleCase) -> dict[str, Any]:
    return {
        "aftersale_info": {
            "aftersale_id": case.aftersale_id, "aftersale_type": case.type, "aftersale_status": case.status,
            "related_id": case.sub_order.order_id, "apply_time": case.applied, "update_time": case.updated,
            "status_deadline": case.deadline, "refund_amount": case.refund_fen, "refund_post_amount": 0,
            "refund_status": case.refund_status, "aftersale_refund_type": 0,
            "return_logistics_code": case.return_logistics.get("tracking_no", ""),
            "create_time": case.applied, "aftersale_num": case.sub_order.quantity},
        "order_info": {"shop_order_id": case.order_id, "related_order_info": [{
            "sku_order_id": case.sub_order.order_id, "shop_sku_code": case.sub_order.sku.code,
            "aftersale_item_num": case.sub_order.quantity, "item_num": case.sub_order.quantity,
            "product_id": int(case.sub_order.sku.product_id), "order_status": 2}]},
    }


def render_detail(case: AfterSaleCase) -> dict[str, Any]:
    line, sku = case.sub_order, case.sub_order.sku
    exchange_sku = {"sku_id": int(sku.sku_id), "code": sku.code, "out_sku_id": "", "name": sku.title,
                    "spec_desc": "规格:默认", "num": line.quantity, "price": str(sku.price_fen), "url": ""}
    empty_logistics = {"tracking_no": "", "company_code": "", "company_name": "", "logistics_time": 0}
    return {
        "process_info": {
            "after_sale_info": {
                "after_sale_id": int(case.aftersale_id), "after_sale_status": case.status,
                "after_sale_status_desc": STATUS_DESC.get(case.status, ""), "after_sale_type": case.type,
                "after_sale_type_text": TYPE_TEXT.get(case.type, ""), "refund_status": case.refund_status,
                "refund_total_amount": case.refund_fen,
                "real_refund_amount": case.refund_fen if case.refund_status == 3 else 0,
                "refund_post_amount": 0, "apply_time": case.applied, "update_time": case.updated,
                "status_deadline": case.deadline, "reason": case.reason, "reason_code": case.reason_code,
                "reason_remark": case.reason_remark, "evidence": list(case.evidence),
                "need_return_count": line.quantity if case.type in (0, 3) else 0, "got_pkg": case.got_pkg,
                "part_type": 0, "after_sale_order_type": 1,
                "return_address_id": int(case.return_address_id) if case.return_address_id else 0,
                "return_address": SELLER_RETURN_ADDRESS if case.return_address_id else {},
                "exchange_sku_info": exchange_sku if case.type == 3 else {},
            },
            "logistics_info": {"return": case.return_logistics or dict(empty_logistics),
                               "exchange": (case.exchange_logistics if case.type != RESEND_TYPE else {})
                               or dict(empty_logistics),
                               "resend": (case.exchange_logistics if case.type == RESEND_TYPE else {})
                               or dict(empty_logistics), "order": []},
            "after_sale_shop_remarks": [],
        },
        "order_info": {"shop_order_id": int(case.order_id), "sku_order_infos": [{
            "sku_order_id": int(line.order_id), "shop_sku_code": sku.code, "item_quantity": line.quantity,
            "after_sale_item_count": line.quantity, "sku_id": int(sku.sku_id), "product_id": int(sku.product_id),
            "product_name": sku.title, "pay_amount": sku.price_fen * line.quantity,
            "item_sum_amount": sku.price_fen * line.quantity}]},
    }


def _page(params: dict[str, Any]) -> tuple[int, int]:
    try:
        page, size = int(params.get("page", 0)), int(params.get("size", 10))
    except (TypeError, ValueError):
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "page and size are integers") from None
    if page < 0 or not 1 <= size <= 100:
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "page from 0, size 1..100")
    return page, size


def aftersale_list(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    """``afterSale.List``: by update window (ends included), optionally one ``aftersale_id`` or
    ``order_id``, oldest update first; ``page`` from 0."""
    page, size = _page(params)
    lo, hi = int(params.get("update_start_time") or 0), int(params.get("update_end_time") or 2**62)
    wanted_id, wanted_order = str(params.get("aftersale_id") or ""), str(params.get("order_id") or "")
    with book.lock:
        chosen = sorted((c for c in shop.aftersales.values() if lo <= c.updated <= hi
                         and (not wanted_id or c.aftersale_id == wanted_id)
                         and (not wanted_order or c.order_id == wanted_order)),
                        key=lambda c: (c.updated, c.aftersale_id))
        window = chosen[page * size:(page + 1) * size]
        return {"items": [render_list_item(c) for c in window], "has_more": (page + 1) * size < len(chosen),
                "total": len(chosen), "page": page, "size": size}


def aftersale_detail(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    with book.lock:
        case = shop.aftersales.get(str(params.get("after_sale_id") or ""))
        if case is None:
            raise ApiFailure(50002, "isv.business-failed", "售后单不存在", str(params.get("after_sale_id")))
        return render_detail(case)
