"""Order edits over the Douyin (抖店) open platform: the seller's remark and star
(``order.addOrderRemark``). Sources: the open-platform docs and zsmhub/doudian-sdk:
``order_id`` (the parent order), ``remark`` (required; ≤ 500 characters in the current docs,
≤ 60 in older SDKs [U]), ``is_add_star`` and ``star`` sent as **strings**; stars 0 grey, 1 purple,
2 cyan, 3 green, 4 orange, 5 red — a different table from TOP's flags. The remark is required, so a
star is set together with the order's current remark.

Kept in the hub (``written_back=False``): the address — ``order.addressModify`` needs Douyin's
region ids for ``post_addr`` (province/city/town/street ``{id, name}``), which the hub does not
keep [U] —, price and quantity (``order.updateOrderAmount`` takes a discount per sub-order, not
a unit price), cancellation (no seller cancel API for paid orders [U]) and the buyer's remark.
Not for reading orders (``mapping``).
"""

from __future__ import annotations

from typing import Any

from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditResult, SellerFlag
from hub.plugin_api import BadInputError

DOUYIN_EDIT_KINDS = frozenset({OrderEditKind.SELLER_NOTE, OrderEditKind.FLAG})
#: The hub's colours → Douyin's ``star`` codes. Colours Douyin has no star for are refused.
DOUYIN_STARS: dict[SellerFlag, int] = {SellerFlag.NONE: 0, SellerFlag.PURPLE: 1, SellerFlag.CYAN: 2,
                                       SellerFlag.GREEN: 3, SellerFlag.ORANGE: 4, SellerFlag.RED: 5}
#: The hub's colour of each Douyin star (reading orders back).
HUB_FLAGS = {code: flag for flag, code in DOUYIN_STARS.items()}
REMARK_MAX = 500


def douyin_star(flag: SellerFlag) -> int:
    """Douyin's star code for the hub's colour; ``BadInputError`` for a colour Douyin lacks."""
    if flag not in DOUYIN_STARS:
        names = ", ".join(f.name.lower() for f in DOUYIN_STARS)
        raise BadInputError(f"flag: Douyin has no {flag.name.lower()} star (it has {names})", field="flag")
    return DOUYIN_STARS[flag]


def remark_params(request: OrderEditRequest) -> dict[str, Any]:
    """``order.addOrderRemark`` params for a seller-note or flag edit."""
    order = request.order
    remark = (request.values.note if request.kind is OrderEditKind.SELLER_NOTE else order.seller_note) or ""
    if not remark:
        raise BadInputError("note: Douyin takes a star only with a remark (its remark is required); write a "
                            "seller note first", field="note")
    if len(remark) > REMARK_MAX:
        raise BadInputError(f"note: {len(remark)} characters, Douyin takes at most {REMARK_MAX}", field="note")
    params: dict[str, Any] = {"order_id": order.ref.external_id, "remark": remark}
    if request.kind is OrderEditKind.FLAG:
        if request.values.flag is None:
            raise BadInputError("flag: a flag colour is required", field="flag")
        star = douyin_star(request.values.flag)
    else:
        star = int(order.extra.get("seller_remark_stars") or 0)  # keep the star the order has
    params.update(is_add_star="true" if star else "false", star=str(star))
    return params


async def edit_order(call: Any, request: OrderEditRequest) -> OrderEditResult:
    """Write ``request`` with ``call`` (the client's ``call``); a remark set twice is the same remark."""
    if request.kind not in DOUYIN_EDIT_KINDS:
        return OrderEditResult(written_back=False, note=(
            f"the hub does not write '{request.kind.value}' to Douyin; kept in the hub only (change it in the "
            "Douyin seller centre too)"))
    await call("order.addOrderRemark", remark_params(request))
    return OrderEditResult(written_back=True)
