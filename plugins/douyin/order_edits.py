"""Order edits over the Douyin (抖店) open platform: the seller's remark and star
(``order.addOrderRemark``) and the receiver, phone and detail line of the shipping address
(``order.addressModify``). Not for reading orders (``mapping``).

Remark sources: the open-platform docs and zsmhub/doudian-sdk: ``order_id`` (the parent order),
``remark`` (required; ≤ 500 characters in the current docs, ≤ 60 in older SDKs [U]), ``is_add_star``
and ``star`` sent as **strings**; stars 0 grey, 1 purple, 2 cyan, 3 green, 4 orange, 5 red — a
different table from TOP's flags. The remark is required, so a star is set together with the order's
current remark.

Address (zsmhub/doudian-sdk ``order_addressModify`` and the doc's error table): ``order_id``,
``post_receiver``, ``post_tel`` and ``post_addr{province, city, town, street: {id, name},
address_detail, land_mark}`` — each of the three may be sent alone, but a ``post_addr`` needs every
sub-field, ids included. The hub keeps the ids Douyin sent with the order
(``extra["post_addr_regions"]``, see ``mapping``), so it can send a new detail line within the same
region; it cannot know the ids of another region. ``request.order`` carries the edited address and
the hub holds Douyin's receiver, phone and detail only masked or as ciphertext, so "changed" means:
a name, phone or detail the person typed (no ``*``: masked values and Douyin's ciphertext have
one) is sent; the region names are compared with the kept ones (an empty district/town means "as
Douyin has it"). A changed region is **refused** (``BadInputError`` naming ``address``), not half
written: a merchant who sees "sent" would trust that Douyin's order — the one the courier waybill
is printed from — has the whole new address; "failed: change the region in the Douyin seller
centre" says exactly what to do, and the hub keeps its edit either way. Douyin answering "nothing
changed" (80004) means it has the values already (a repeat after a lost answer): written back.

Kept in the hub (``written_back=False``): price and quantity (``order.updateOrderAmount`` takes a
discount per sub-order, not a unit price), cancellation (no seller cancel API for paid orders [U])
and the buyer's remark.
"""

from __future__ import annotations

from typing import Any

from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditResult, SellerFlag
from contracts.orders import Address
from hub.plugin_api import BadInputError, PermanentError, RetryableError
from plugins.douyin.client import DouyinRefusal
from plugins.douyin.mapping import REGION_LEVELS

DOUYIN_EDIT_KINDS = frozenset({OrderEditKind.ADDRESS, OrderEditKind.SELLER_NOTE, OrderEditKind.FLAG})
#: The hub's colours → Douyin's ``star`` codes. Colours Douyin has no star for are refused.
DOUYIN_STARS: dict[SellerFlag, int] = {SellerFlag.NONE: 0, SellerFlag.PURPLE: 1, SellerFlag.CYAN: 2,
                                       SellerFlag.GREEN: 3, SellerFlag.ORANGE: 4, SellerFlag.RED: 5}
#: The hub's colour of each Douyin star (reading orders back).
HUB_FLAGS = {code: flag for flag, code in DOUYIN_STARS.items()}
REMARK_MAX = 500
#: ``post_addr.address_detail``: 1–60 characters (error ``isv.business-failed:80002``).
DETAIL_MIN, DETAIL_MAX = 1, 60
#: The hub's address field of each Douyin ``post_addr`` level (Douyin's ``town`` is the district).
REGION_FIELDS = dict(zip(REGION_LEVELS, ("province", "city", "district", "town"), strict=True))


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


def typed(value: str | None) -> str | None:
    """``value`` as the person typed it, or None when empty or masked/ciphertext (it has a ``*``)."""
    clean = (value or "").strip()
    return clean if clean and "*" not in clean else None


def _region_problem(address: Address, kept: dict[str, Any]) -> str | None:
    """Why the new address's region cannot be written to Douyin, or None when it is the kept one."""
    if not kept:
        return ("the hub has not kept Douyin's region ids for this order (it was fetched before they were "
                "kept): fetch the order again, or change the address in the Douyin seller centre")
    changed = [name for level, name in REGION_FIELDS.items()
               if (getattr(address, name) or "").strip() not in ("", (kept.get(level) or {}).get("name", ""))]
    if changed:
        return (f"the region changed ({', '.join(changed)}); Douyin needs its own region ids for a new region, "
                "which the hub does not have: change the address in the Douyin seller centre (抖店 → 订单 → "
                "修改地址)")
    return None


def address_params(request: OrderEditRequest) -> dict[str, Any] | None:
    """``order.addressModify`` params for an address edit, or None when nothing Douyin keeps changed.
    ``BadInputError`` naming ``address`` for a region the hub cannot send, ``address.street`` for a
    detail line Douyin refuses."""
    address = request.values.address
    if address is None:
        raise BadInputError("address: the new address is required", field="address")
    kept = request.order.extra.get("post_addr_regions") or {}
    problem = _region_problem(address, kept)
    if problem:
        raise BadInputError(f"address: {problem}", field="address")
    params: dict[str, Any] = {"order_id": request.order.ref.external_id}
    if name := typed(address.name):
        params["post_receiver"] = name
    if phone := typed(address.phone):
        params["post_tel"] = phone
    detail = typed(address.street)
    if detail is not None:
        if not DETAIL_MIN <= len(detail) <= DETAIL_MAX:
            raise BadInputError(f"address.street: {len(detail)} characters; Douyin takes a detail line of "
                                f"{DETAIL_MIN}–{DETAIL_MAX}", field="address.street")
        missing = [level for level in REGION_LEVELS
                   if not ((kept.get(level) or {}).get("id") and (kept.get(level) or {}).get("name"))]
        if missing:
            raise BadInputError(f"address: Douyin's order has no region id for {', '.join(missing)}, which a new "
                                "detail line needs: change the address in the Douyin seller centre", field="address")
        params["post_addr"] = {**{level: {"id": kept[level]["id"], "name": kept[level]["name"]}
                                  for level in REGION_LEVELS},
                               "address_detail": detail, "land_mark": ""}  # required; the hub has none [U]
    return params if len(params) > 1 else None


#: ``order.addressModify`` refusals by sub_code (the doc's error table), as the merchant reads them.
ADDRESS_REFUSALS: dict[str, tuple[str | None, str]] = {
    "isv.parameter-invalid:20003": (None, "Douyin has no such order (20003)"),
    "isv.parameter-invalid:20002": ("address.phone", "Douyin refused the phone number (20002)"),
    "isv.business-failed:80001": (None, "part of the order has shipped (80001): Douyin changes the address of "
                                        "unshipped orders only"),
    "isv.business-failed:80102": (None, "part of the order has shipped (80102): Douyin changes the address of "
                                        "unshipped orders only"),
    "isv.business-failed:80002": ("address.street", f"Douyin takes a detail line of {DETAIL_MIN}–{DETAIL_MAX} "
                                                    "characters (80002)"),
    "isv.business-failed:40001": (None, "Douyin allows no address change on this order (40001, a hot-selling "
                                        "item); ask the buyer to change it or leave it"),
    "isv.business-failed:50004": (None, "the order is not this Douyin shop's (50004)"),
}
NOTHING_CHANGED = "isv.parameter-invalid:80004"
#: Busy: ``isv.business-failed:8888`` in the address table, ``isp.service-error:8888`` in the remark's.
BUSY_SUFFIX = ":8888"


async def _modify_address(call: Any, params: dict[str, Any]) -> OrderEditResult:
    try:
        await call("order.addressModify", params)
    except DouyinRefusal as exc:
        if exc.sub_code == NOTHING_CHANGED:  # Douyin has these values already (e.g. a repeat after a lost answer)
            return OrderEditResult(written_back=True, note="Douyin had this address already (80004)")
        if exc.sub_code.endswith(BUSY_SUFFIX):
            raise RetryableError("Douyin order.addressModify: busy (8888); will retry", code=exc.code,
                                 partner_message=exc.partner_message) from exc
        if exc.sub_code not in ADDRESS_REFUSALS:
            raise
        field, said = ADDRESS_REFUSALS[exc.sub_code]
        if field:
            raise BadInputError(f"{field}: {said}", field=field, code=exc.code) from exc
        raise PermanentError(f"address: {said}", code=exc.code, partner_message=exc.partner_message) from exc
    return OrderEditResult(written_back=True)


async def edit_order(call: Any, request: OrderEditRequest) -> OrderEditResult:
    """Write ``request`` with ``call`` (the client's ``call``); a remark set twice is the same remark,
    an address sent twice is answered "nothing changed" (taken as written)."""
    if request.kind not in DOUYIN_EDIT_KINDS:
        return OrderEditResult(written_back=False, note=(
            f"the hub does not write '{request.kind.value}' to Douyin; kept in the hub only (change it in the "
            "Douyin seller centre too)"))
    if request.kind is OrderEditKind.ADDRESS:
        params = address_params(request)
        if params is None:
            return OrderEditResult(written_back=False, note=(
                "nothing Douyin keeps changed (name, phone and detail left masked, the region as Douyin has it); "
                "kept in the hub only"))
        return await _modify_address(call, params)
    await call("order.addOrderRemark", remark_params(request))
    return OrderEditResult(written_back=True)
