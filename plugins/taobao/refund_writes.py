"""Pure planning of TOP refund write-backs: which method a merchant's decision on a refund calls,
from which refund statuses it may start, which statuses mean it was taken already, and its params.

Facts (TOP API docs): ``taobao.rp.refunds.agree`` (``refund_infos`` = ``refund_id|amount in
fen|refund_version[|refund_phase]``, the phase for Tmall only; also the "goods came back → refund"
step [U: no separate confirm API is documented]), ``taobao.refund.refuse`` (``refuse_message``
2–200 characters, ``refuse_proof`` an image ≤130000 bytes required for Tmall, ``refund_phase`` and
``refund_version`` required for Tmall), ``taobao.rp.returngoods.agree`` (``seller_address_id``;
Taobao also name/address/post/tel/mobile; Tmall phase/version/remark) and
``taobao.rp.returngoods.refuse`` (Tmall only; ``refuse_proof`` image ≤5 MB required). No I/O: the
calls are made by ``refund_decisions``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts import AfterSaleAction, Money, Proof, ReturnAddress
from hub.plugin_api import BadInputError
from plugins.taobao.signing import TopFile

#: What a Taobao (C-shop) refund can be decided with over TOP.
REFUND_ACTIONS: frozenset[AfterSaleAction] = frozenset({
    AfterSaleAction.APPROVE_REFUND, AfterSaleAction.REFUSE, AfterSaleAction.AGREE_RETURN,
    AfterSaleAction.CONFIRM_RETURN,
})
#: Tmall adds the refusal of returned goods (``taobao.rp.returngoods.refuse`` is Tmall only).
TMALL_REFUND_ACTIONS: frozenset[AfterSaleAction] = REFUND_ACTIONS | {AfterSaleAction.REFUSE_RETURN}

#: ``taobao.refund.refuse``'s proof: GIF/JPG/PNG of at most 130000 bytes.
REFUSE_PROOF_BYTES = 130_000
#: ``taobao.rp.returngoods.refuse``'s proof: an image of at most 5 MB.
RETURN_PROOF_BYTES = 5 * 1024 * 1024
PROOF_TYPES = frozenset({"image/gif", "image/jpeg", "image/jpg", "image/png"})
#: ``rp.returngoods.agree`` needs a remark on Tmall; the merchant's, else this.
DEFAULT_RETURN_REMARK = "同意退货"


@dataclass(frozen=True)
class RefundStep:
    """One decision's TOP call: ``starts_from`` the refund statuses it applies to, ``done_in`` the
    statuses that mean it was taken (a repeat is then answered without writing), ``not_yet`` the
    statuses where it will apply later (the buyer has not shipped the goods back yet)."""

    method: str
    starts_from: frozenset[str]
    done_in: frozenset[str]
    not_yet: frozenset[str] = frozenset()


STEPS: dict[AfterSaleAction, RefundStep] = {
    AfterSaleAction.APPROVE_REFUND: RefundStep("taobao.rp.refunds.agree", frozenset({"WAIT_SELLER_AGREE"}),
                                               frozenset({"SUCCESS"})),
    AfterSaleAction.CONFIRM_RETURN: RefundStep("taobao.rp.refunds.agree", frozenset({"WAIT_SELLER_CONFIRM_GOODS"}),
                                               frozenset({"SUCCESS"}), frozenset({"WAIT_BUYER_RETURN_GOODS"})),
    AfterSaleAction.REFUSE: RefundStep("taobao.refund.refuse", frozenset({"WAIT_SELLER_AGREE"}),
                                       frozenset({"SELLER_REFUSE_BUYER"})),
    # A repeat after the buyer already shipped the goods back is still "agreed".
    AfterSaleAction.AGREE_RETURN: RefundStep("taobao.rp.returngoods.agree", frozenset({"WAIT_SELLER_AGREE"}),
                                             frozenset({"WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS"})),
    AfterSaleAction.REFUSE_RETURN: RefundStep("taobao.rp.returngoods.refuse",
                                              frozenset({"WAIT_SELLER_CONFIRM_GOODS"}),
                                              frozenset({"SELLER_REFUSE_BUYER"}),
                                              frozenset({"WAIT_BUYER_RETURN_GOODS"})),
}


def refund_actions(platform: str) -> frozenset[AfterSaleAction]:
    """The refund decisions TOP takes for a shop of ``platform``."""
    return TMALL_REFUND_ACTIONS if platform == "tmall" else REFUND_ACTIONS


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def refund_id_of(refund: Mapping[str, Any]) -> str:
    return str(refund.get("refund_id_str") or refund.get("refund_id"))


def fen(amount: Money) -> int:
    """A CNY amount in fen (TOP's ``refund_infos`` unit); not CNY or finer than a fen → refused."""
    if amount.currency != "CNY":
        raise BadInputError(f"TOP refunds are in CNY, got {amount.currency}", field="refund_amount")
    cents = Decimal(amount.amount) * 100
    if cents != cents.to_integral_value() or cents <= 0:
        raise BadInputError(f"refund amount {amount.amount} must be positive and in whole fen", field="refund_amount")
    return int(cents)


def checked_amount(wanted: Money | None, refund: Mapping[str, Any], cap_field: str) -> int:
    """The amount to refund in fen: the merchant's, else what the buyer asks (``refund_fee``);
    above ``cap_field`` (what was paid, see ``mapping.aftersale_from_refund``) → ``BadInputError``."""
    amount = wanted or (Money(amount=str(refund["refund_fee"]), currency="CNY") if refund.get("refund_fee") else None)
    if amount is None:
        raise BadInputError(f"refund {refund_id_of(refund)} names no amount; give refund_amount", field="refund_amount")
    cents = fen(amount)
    cap = _text(refund.get(cap_field))
    if cap is not None and cents > fen_of_text(cap):
        raise BadInputError(f"refund {refund_id_of(refund)}: {amount.amount} CNY is more than the {cap} CNY paid "
                            f"({cap_field})", field="refund_amount")
    return cents


def fen_of_text(value: str) -> int:
    return int(Decimal(value) * 100)


def agree_params(refund: Mapping[str, Any], cents: int, platform: str) -> dict[str, Any]:
    """``taobao.rp.refunds.agree`` for one refund: ``refund_id|fen|version``, ``|phase`` on Tmall."""
    parts = [refund_id_of(refund), str(cents), str(refund.get("refund_version") or "")]
    if platform == "tmall":
        parts.append(_phase(refund))
    return {"refund_infos": "|".join(parts)}


def _phase(refund: Mapping[str, Any]) -> str:
    phase = _text(refund.get("refund_phase"))
    if phase is None:
        raise BadInputError(f"refund {refund_id_of(refund)} carries no refund_phase, which Tmall writes need; "
                            "ask refund.get for it (refund_fields)", field="refund_phase")
    return phase


def _tmall_lock(refund: Mapping[str, Any]) -> dict[str, Any]:
    return {"refund_phase": _phase(refund), "refund_version": refund.get("refund_version")}


def proof_file(proofs: Sequence[Proof], *, max_bytes: int, required: bool, method: str) -> TopFile | None:
    """The first proof as the ``refuse_proof`` file (the APIs take one image); checked like TOP does."""
    if not proofs:
        if required:
            raise BadInputError(f"{method} needs an image as proof on this shop", field="proof")
        return None
    proof = proofs[0]
    if proof.content_type.lower() not in PROOF_TYPES:
        raise BadInputError(f"{method} takes GIF, JPG or PNG proof, got {proof.content_type}", field="proof")
    if len(proof.content) > max_bytes:
        raise BadInputError(f"{method} takes proof of at most {max_bytes} bytes, got {len(proof.content)}",
                            field="proof")
    return TopFile(proof.filename, proof.content_type, proof.content)


def refuse_message(text: str | None) -> str:
    """``refuse_message``: 2–200 characters."""
    message = (text or "").strip()
    if not 2 <= len(message) <= 200:
        raise BadInputError("a refusal needs a message of 2 to 200 characters (reason_text, or a reason_id from "
                            "the platform's list)", field="reason_text")
    return message


def reason_number(reason_id: str | None) -> str | None:
    if reason_id is None:
        return None
    if not reason_id.isdigit():
        raise BadInputError(f"TOP refuse reasons are numbers, got {reason_id!r}", field="reason_id")
    return reason_id


def refuse_params(refund: Mapping[str, Any], message: str, reason_id: str | None, proofs: Sequence[Proof],
                  platform: str) -> dict[str, Any]:
    """``taobao.refund.refuse``: proof and the phase/version lock required on Tmall."""
    params: dict[str, Any] = {"refund_id": refund_id_of(refund), "refuse_message": message,
                              "refuse_reason_id": reason_number(reason_id),
                              "refuse_proof": proof_file(proofs, max_bytes=REFUSE_PROOF_BYTES,
                                                         required=platform == "tmall",
                                                         method="taobao.refund.refuse")}
    if platform == "tmall":
        params.update(_tmall_lock(refund))
    return params


def returngoods_refuse_params(refund: Mapping[str, Any], reason_id: str | None,
                              proofs: Sequence[Proof]) -> dict[str, Any]:
    """``taobao.rp.returngoods.refuse`` (Tmall only): proof required."""
    return {"refund_id": refund_id_of(refund), **_tmall_lock(refund), "refuse_reason_id": reason_number(reason_id),
            "refuse_proof": proof_file(proofs, max_bytes=RETURN_PROOF_BYTES, required=True,
                                       method="taobao.rp.returngoods.refuse")}


def _required(address: ReturnAddress, name: str) -> str:
    value = _text(getattr(address, name))
    if value is None:
        raise BadInputError(f"taobao.rp.returngoods.agree needs the return address' {name}",
                            field=f"return_address.{name}")
    return value


def returngoods_agree_params(refund: Mapping[str, Any], address: ReturnAddress | None, remark: str | None,
                             platform: str) -> dict[str, Any]:
    """``taobao.rp.returngoods.agree``: the seller address id (both), the address itself (Taobao:
    ``tel`` and ``mobile`` both get the one phone [U]), the phase/version/remark (Tmall)."""
    if address is None:
        raise BadInputError("agreeing to a return needs the return address", field="return_address")
    params: dict[str, Any] = {"refund_id": refund_id_of(refund),
                              "seller_address_id": _required(address, "address_id")}
    if platform == "tmall":
        params.update(_tmall_lock(refund), remark=(remark or DEFAULT_RETURN_REMARK)[:200])
        return params
    phone = _required(address, "phone")
    full = "".join(part for part in (address.province, address.city, address.district) if part)
    params.update(name=_required(address, "name"), address=full + _required(address, "detail"),
                  post=_required(address, "zip_code"), tel=phone, mobile=phone)
    return params
