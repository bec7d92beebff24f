"""Order edits over TOP (Taobao and Tmall share them): the seller's memo and flag
(``taobao.trade.memo.update``) and the shipping address (``taobao.trade.shippingaddress.update``).

Sources: the TOP API docs as mirrored in bububa/opentaobao (``tbtrade``): memo ≤ 1000 bytes,
``flag`` 0 grey, 1 red, 2 yellow, 3 green, 4 blue, 5 pink [U: older pages say purple];
``reset=true`` clears the memo, ``reset=false`` with no memo leaves it as it is. The address call
takes only WAIT_SELLER_SEND_GOODS trades; its byte limits count GBK bytes (a Chinese character
is 2): receiver_name 50, receiver_phone 30, receiver_mobile 11, state/city/district/town 32 each,
receiver_address 228. TOP has no item-price or seller-cancel write for paid trades [U], so price,
quantity, cancel and the buyer's remark stay in the hub (``written_back=False``).
Not for reading trades (``mapping``).
"""

from __future__ import annotations

from typing import Any

from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditResult, SellerFlag
from contracts.orders import Address
from hub.plugin_api import BadInputError

#: What TOP writes back.
TOP_EDIT_KINDS = frozenset({OrderEditKind.ADDRESS, OrderEditKind.SELLER_NOTE, OrderEditKind.FLAG})
#: The hub's colours → TOP's flag codes. Colours TOP has no flag for are refused.
TOP_FLAGS: dict[SellerFlag, int] = {SellerFlag.NONE: 0, SellerFlag.RED: 1, SellerFlag.YELLOW: 2,
                                    SellerFlag.GREEN: 3, SellerFlag.BLUE: 4, SellerFlag.PINK: 5}
MEMO_MAX_BYTES = 1000
#: (address field, TOP param, GBK byte limit).
ADDRESS_FIELDS = (("name", "receiver_name", 50), ("province", "receiver_state", 32), ("city", "receiver_city", 32),
                  ("district", "receiver_district", 32), ("town", "receiver_town", 32),
                  ("street", "receiver_address", 228))
PHONE_MAX, MOBILE_MAX = 30, 11
#: The only trade status the address call takes.
ADDRESS_STATUS = "WAIT_SELLER_SEND_GOODS"


def gbk_bytes(text: str) -> int:
    """How many bytes TOP counts for ``text`` (GBK; a character GBK lacks counts as 2)."""
    return len(text.encode("gbk", errors="replace")) + sum(1 for c in text if _not_gbk(c))


def _not_gbk(char: str) -> bool:
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return True
    return False


def check_bytes(field: str, text: str, limit: int) -> None:
    """Refuse ``text`` longer than ``limit`` GBK bytes, naming the field."""
    size = gbk_bytes(text)
    if size > limit:
        raise BadInputError(f"{field}: {size} bytes in GBK, TOP takes at most {limit} (a Chinese character "
                            "counts 2); shorten it", field=field)


def top_flag(flag: SellerFlag) -> int:
    """TOP's code for the hub's colour; ``BadInputError`` for a colour TOP has no flag for."""
    if flag not in TOP_FLAGS:
        names = ", ".join(f.name.lower() for f in TOP_FLAGS)
        raise BadInputError(f"flag: TOP has no {flag.name.lower()} flag (it has {names})", field="flag")
    return TOP_FLAGS[flag]


def memo_params(tid: str, kind: OrderEditKind, note: str | None, flag: SellerFlag | None) -> dict[str, Any]:
    """``taobao.trade.memo.update`` params: a new memo (empty: cleared with ``reset``), or a flag
    with the memo left as it is."""
    params: dict[str, Any] = {"tid": tid}
    if kind is OrderEditKind.FLAG:
        if flag is None:
            raise BadInputError("flag: a flag colour is required", field="flag")
        params.update(flag=top_flag(flag), reset="false")
        return params
    memo = note or ""
    check_bytes("note", memo, MEMO_MAX_BYTES)
    params.update(memo=memo, reset="false" if memo else "true")
    return params


def address_params(tid: str, address: Address, raw_status: str) -> dict[str, Any]:
    """``taobao.trade.shippingaddress.update`` params; refuses a trade past WAIT_SELLER_SEND_GOODS
    and a value over its GBK byte limit, naming the field."""
    if raw_status != ADDRESS_STATUS:
        raise BadInputError(f"address: TOP changes the address of {ADDRESS_STATUS} trades only; this one is "
                            f"{raw_status}", field="address")
    params: dict[str, Any] = {"tid": tid}
    for name, param, limit in ADDRESS_FIELDS:
        value = getattr(address, name)
        if value:
            check_bytes(f"address.{name}", value, limit)
            params[param] = value
    if address.phone:
        phone = address.phone.strip()
        mobile = phone.isdigit() and len(phone) == MOBILE_MAX and phone.startswith("1")
        check_bytes("address.phone", phone, MOBILE_MAX if mobile else PHONE_MAX)
        params["receiver_mobile" if mobile else "receiver_phone"] = phone
    return params


def edit_call(request: OrderEditRequest) -> tuple[str, dict[str, Any]] | None:
    """The TOP method and params for ``request``; None for a kind TOP has no write for."""
    tid, values = request.order.ref.external_id, request.values
    if request.kind in (OrderEditKind.SELLER_NOTE, OrderEditKind.FLAG):
        return "taobao.trade.memo.update", memo_params(tid, request.kind, values.note, values.flag)
    if request.kind is OrderEditKind.ADDRESS:
        if values.address is None:
            raise BadInputError("address: the new address is required", field="address")
        return "taobao.trade.shippingaddress.update", address_params(tid, values.address, request.order.raw_status)
    return None


async def edit_order(client: Any, platform: str, request: OrderEditRequest) -> OrderEditResult:
    """Write ``request`` with ``client`` (a ``TopClient``). The edits set a value, so a repeat after
    a lost answer lands on the same state: retried by the client like any read."""
    call = edit_call(request)
    if call is None:
        return OrderEditResult(written_back=False, note=(
            f"TOP has no write API for '{request.kind.value}' on a {platform} trade; kept in the hub only "
            "(change it in the seller centre too)"))
    method, params = call
    await client.call(method, params)
    return OrderEditResult(written_back=True)
