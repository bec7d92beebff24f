"""The Taobao (and Tmall) sandbox's order-edit methods: ``taobao.trade.memo.update`` and
``taobao.trade.shippingaddress.update``, as strict as the TOP docs (bububa/opentaobao ``tbtrade``):
the memo ≤ 1000 bytes, the flag 0–5, the address only on WAIT_SELLER_SEND_GOODS trades and each
field within its GBK byte limit. The change shows on the trade the next ``trade.fullinfo.get``
returns, ``modified`` moves and TMC publishes ``taobao_trade_TradeMemoModified`` /
``taobao_trade_TradeLogisticsAddressChanged``. The error sub-codes are the sandbox's own [U].
Not a place for hub logic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plugins.taobao.order_edits import ADDRESS_FIELDS, ADDRESS_STATUS, MEMO_MAX_BYTES, MOBILE_MAX, PHONE_MAX, gbk_bytes
from plugins.taobao.top_gateway import TopApiError, TopCall, invalid

if TYPE_CHECKING:
    from plugins.taobao.sandbox import TaobaoSandbox

#: Every address param and its GBK byte limit.
ADDRESS_LIMITS = {param: limit for _, param, limit in ADDRESS_FIELDS} | {
    "receiver_phone": PHONE_MAX, "receiver_mobile": MOBILE_MAX}


def order_edit_handlers(sandbox: TaobaoSandbox, app_key: str) -> dict[str, Callable[[TopCall], dict[str, Any]]]:
    """The TOP methods, bound to ``sandbox``'s trades."""

    def publish(call: TopCall, topic: str, trade: dict[str, Any], **extra: Any) -> None:
        sandbox.gateway.tmc.publish(app_key, "default", topic,
                                    {"tid": trade["tid"], "seller_nick": trade["seller_nick"], **extra},
                                    user_nick=sandbox.shop(str(call.shop)).nick, pub_time=trade["modified"])

    def memo_update(call: TopCall) -> dict[str, Any]:
        tid = call.require("tid")
        memo = call.params.get("memo") or ""
        reset = str(call.params.get("reset") or "false").lower() == "true"
        if gbk_bytes(memo) > MEMO_MAX_BYTES:
            raise invalid("memo", f"memo is longer than {MEMO_MAX_BYTES} bytes")
        flag = call.params.get("flag")
        if flag not in (None, "") and (not str(flag).isdigit() or not 0 <= int(str(flag)) <= 5):
            raise invalid("flag", "flag must be 0-5")
        with sandbox.lock:
            trade = sandbox._trade_for(call, tid)
            if reset:
                trade["seller_memo"] = ""
            elif memo:
                trade["seller_memo"] = memo
            if flag not in (None, ""):
                trade["seller_flag"] = int(str(flag))
            trade["modified"] = sandbox.now_text()
            publish(call, "taobao_trade_TradeMemoModified", trade, seller_memo=trade.get("seller_memo", ""),
                    seller_flag=trade.get("seller_flag", 0))
            return {"trade": {"tid": trade["tid"], "modified": trade["modified"]}}

    def address_update(call: TopCall) -> dict[str, Any]:
        tid = call.require("tid")
        for param, limit in ADDRESS_LIMITS.items():
            value = call.params.get(param)
            if value and value != "-1" and gbk_bytes(str(value)) > limit:
                raise invalid(param, f"{param} is longer than {limit} bytes")
        with sandbox.lock:
            trade = sandbox._trade_for(call, tid)
            if trade["status"] != ADDRESS_STATUS:
                raise TopApiError(15, "Remote service error", "isv.trade-status-error",
                                  f"trade {tid} is {trade['status']}: the address can be changed only before shipping")
            for param in ADDRESS_LIMITS:
                value = call.params.get(param)
                if value == "-1" and param in ("receiver_phone", "receiver_mobile"):
                    trade.pop(param, None)
                elif value:
                    trade[param] = str(value)
            trade["modified"] = sandbox.now_text()
            publish(call, "taobao_trade_TradeLogisticsAddressChanged", trade)
            return {"trade": {"tid": trade["tid"], "modified": trade["modified"]}}

    return {"taobao.trade.memo.update": memo_update, "taobao.trade.shippingaddress.update": address_update}
