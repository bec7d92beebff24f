"""After-sales (``AfterSale``) with its state machine, the decisions a merchant takes on a case
and what the platform answers.

An after-sale is a buyer's refund, return, exchange or reissue request on an order, mapped from
platform objects by channel plugins. Service work orders (installation, repair) are in
``contracts.service_orders``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.money import Money
from contracts.refs import ChannelRef


class AfterSaleType(StrEnum):
    REFUND_ONLY = "refund_only"
    RETURN_AND_REFUND = "return_and_refund"
    EXCHANGE = "exchange"
    REISSUE = "reissue"
    REPAIR = "repair"
    OTHER = "other"


class AfterSaleStatus(StrEnum):
    """Canonical after-sale status.

    ``requested → (approved → awaiting_return → returned) → refunding → refunded``; ``rejected``
    may be followed by a new request (the buyer escalates) so it is not terminal; ``closed``
    (withdrawn or ended without refund) and ``refunded``/``completed`` are terminal.
    """

    REQUESTED = "requested"
    APPROVED = "approved"
    AWAITING_RETURN = "awaiting_return"
    RETURNED = "returned"
    REJECTED = "rejected"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    #: An exchange whose replacement has left the seller (Tmall 13 待买家收货, Douyin exchange shipped).
    REPLACEMENT_SHIPPED = "replacement_shipped"
    COMPLETED = "completed"  # exchange/reissue/repair done
    CLOSED = "closed"


AFTERSALE_TRANSITIONS: dict[AfterSaleStatus, frozenset[AfterSaleStatus]] = {
    AfterSaleStatus.REQUESTED: frozenset(set(AfterSaleStatus) - {AfterSaleStatus.REQUESTED}),
    AfterSaleStatus.APPROVED: frozenset(
        {
            AfterSaleStatus.AWAITING_RETURN,
            AfterSaleStatus.REPLACEMENT_SHIPPED,
            AfterSaleStatus.RETURNED,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.COMPLETED,
            AfterSaleStatus.CLOSED,
            AfterSaleStatus.REJECTED,
        }
    ),
    AfterSaleStatus.AWAITING_RETURN: frozenset(
        {
            AfterSaleStatus.RETURNED,
            AfterSaleStatus.REPLACEMENT_SHIPPED,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.COMPLETED,
            AfterSaleStatus.CLOSED,
            AfterSaleStatus.REJECTED,
        }
    ),
    AfterSaleStatus.RETURNED: frozenset(
        {
            AfterSaleStatus.REPLACEMENT_SHIPPED,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.COMPLETED,
            AfterSaleStatus.CLOSED,
            AfterSaleStatus.REJECTED,
        }
    ),
    AfterSaleStatus.REJECTED: frozenset(
        {
            AfterSaleStatus.REQUESTED,
            AfterSaleStatus.APPROVED,
            AfterSaleStatus.AWAITING_RETURN,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.CLOSED,
        }
    ),
    AfterSaleStatus.REFUNDING: frozenset({AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED}),
    AfterSaleStatus.REPLACEMENT_SHIPPED: frozenset(
        {AfterSaleStatus.COMPLETED, AfterSaleStatus.CLOSED, AfterSaleStatus.REFUNDING, AfterSaleStatus.REFUNDED}
    ),
    AfterSaleStatus.REFUNDED: frozenset(),
    AfterSaleStatus.COMPLETED: frozenset(),
    AfterSaleStatus.CLOSED: frozenset(),
}


def aftersale_can_move(current: AfterSaleStatus, reported: AfterSaleStatus) -> bool:
    """True when ``reported`` is a forward move from ``current`` (repeats and stale reports are not)."""
    return reported in AFTERSALE_TRANSITIONS[current]


TERMINAL_AFTERSALE_STATUSES = frozenset(s for s, moves in AFTERSALE_TRANSITIONS.items() if not moves)


class AfterSaleLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_external_id: str | None = None
    merchant_sku: str | None = None
    quantity: int = Field(default=1, ge=0)
    #: What the buyer asks back for this line, when the platform says per line.
    refund_amount: Money | None = None


class AfterSale(BaseModel):
    """A refund / return / exchange / reissue case on one order, as the channel reports it."""

    model_config = ConfigDict(frozen=True)

    ref: ChannelRef
    order_ref: ChannelRef
    type: AfterSaleType
    status: AfterSaleStatus
    raw_status: str
    refund_amount: Money | None = None
    reason: str | None = None
    lines: list[AfterSaleLine] = Field(default_factory=list)
    goods_returned: bool = False
    return_tracking_number: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    #: When the platform decides for the buyer if the seller has not answered (Douyin
    #: ``status_deadline``, TOP ``timeout``/``time_out``, AliExpress ``timeout_trigger_time``).
    deadline: AwareDatetime | None = None
    #: The platform's optimistic-lock value a write must carry (TOP ``refund_version``, Douyin
    #: ``update_time``, AliExpress solution ``version``); opaque to the hub.
    version: str | None = None
    #: The most the buyer may get back (what was paid for the lines), when the platform says.
    max_refund: Money | None = None
    #: The buyer's stated reason in detail (free text) and evidence (image URLs).
    description: str | None = None
    evidence: list[str] = Field(default_factory=list)
    return_courier: str | None = None
    #: For an exchange: the SKU (merchant code, or the platform's words) the buyer wants instead.
    exchange_sku: str | None = None
    #: Platform values a write-back needs and the hub does not interpret (``refund_phase``,
    #: ``buyer_login_id``, ``solution_id``...), as strings.
    extra: dict[str, str] = Field(default_factory=dict)


class AfterSaleAction(StrEnum):
    """What a merchant can decide on an after-sale case. ``allowed_actions`` says which apply to a
    case's type and status; a connector's ``aftersale_actions`` says which its platform takes."""

    APPROVE_REFUND = "approve_refund"  # refund (only, or partial) without a return
    REFUSE = "refuse"  # refuse the request (refund, return or exchange), with a reason
    AGREE_RETURN = "agree_return"  # the buyer may send the goods back (return address)
    CONFIRM_RETURN = "confirm_return"  # the goods came back: refund (quality decides where stock goes)
    REFUSE_RETURN = "refuse_return"  # the goods came back and are refused (second-stage refusal)
    AGREE_EXCHANGE = "agree_exchange"  # the buyer may send the goods back for a replacement
    RECEIVE_EXCHANGE = "receive_exchange"  # the exchanged goods came back (quality as for returns)
    SHIP_EXCHANGE = "ship_exchange"  # the replacement left: a new delivery through fulfilment
    REISSUE = "reissue"  # 补发: send again without a return: a new delivery through fulfilment


_OPEN_RETURN = (AfterSaleStatus.AWAITING_RETURN, AfterSaleStatus.RETURNED)

#: (type, status) → the actions a merchant may take then, whatever the platform.
_ALLOWED: dict[tuple[AfterSaleType, AfterSaleStatus], tuple[AfterSaleAction, ...]] = {
    (AfterSaleType.REFUND_ONLY, AfterSaleStatus.REQUESTED): (AfterSaleAction.APPROVE_REFUND, AfterSaleAction.REFUSE),
    (AfterSaleType.RETURN_AND_REFUND, AfterSaleStatus.REQUESTED): (AfterSaleAction.AGREE_RETURN,
                                                                   AfterSaleAction.REFUSE),
    (AfterSaleType.EXCHANGE, AfterSaleStatus.REQUESTED): (AfterSaleAction.AGREE_EXCHANGE, AfterSaleAction.REFUSE),
    (AfterSaleType.REISSUE, AfterSaleStatus.REQUESTED): (AfterSaleAction.REISSUE, AfterSaleAction.REFUSE),
    (AfterSaleType.REISSUE, AfterSaleStatus.APPROVED): (AfterSaleAction.REISSUE,),
    **{(AfterSaleType.RETURN_AND_REFUND, s): (AfterSaleAction.CONFIRM_RETURN, AfterSaleAction.REFUSE_RETURN)
       for s in _OPEN_RETURN},
    **{(AfterSaleType.EXCHANGE, s): (AfterSaleAction.RECEIVE_EXCHANGE, AfterSaleAction.REFUSE_RETURN)
       for s in _OPEN_RETURN},
}


def allowed_actions(case_type: AfterSaleType, status: AfterSaleStatus, *, received: bool = False
                    ) -> tuple[AfterSaleAction, ...]:
    """The actions a merchant may take on a case of ``case_type`` in ``status``, in the order a
    screen offers them. ``received``: the hub has recorded the exchanged goods as back (then the
    replacement may ship)."""
    if case_type is AfterSaleType.EXCHANGE and status is AfterSaleStatus.RETURNED and received:
        return (AfterSaleAction.SHIP_EXCHANGE,)
    return _ALLOWED.get((case_type, status), ())


class ReturnAddress(BaseModel):
    """Where the buyer sends goods back. ``address_id`` is the platform's id of a seller address
    (TOP ``seller_address_id``/``address_id``, Douyin ``receiver_address_id``, AliExpress
    ``return_address_id``); the text fields for platforms that take the address itself."""

    model_config = ConfigDict(frozen=True)

    address_id: str | None = None
    name: str | None = None
    phone: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    detail: str | None = None
    zip_code: str | None = None


class Proof(BaseModel):
    """A file a refusal carries (an image of the goods, a chat record): sent as multipart."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str
    content: bytes


class RefuseReason(BaseModel):
    """One reason from the platform's list for refusing a case (TOP ``refusereason.get``, Douyin
    ``rejectReasonCodeList``); ``proof_required`` when the platform wants evidence with it."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    proof_required: bool = False
    hint: str | None = None


class AfterSaleDecision(BaseModel):
    """A merchant's decision, as the hub hands it to the connector to write back.

    ``key`` is an idempotency key: the hub sends the same decision with the same key after a
    timeout, and the connector must not apply it twice (check the case's state first where the
    platform keeps no key). ``version`` is the case's optimistic-lock value as the hub last saw it."""

    model_config = ConfigDict(frozen=True)

    action: AfterSaleAction
    key: str = Field(min_length=1, max_length=100)
    version: str | None = None
    refund_amount: Money | None = None
    reason_id: str | None = None
    reason_text: str | None = None
    proof: list[Proof] = Field(default_factory=list)
    return_address: ReturnAddress | None = None
    #: For ``ship_exchange`` / ``reissue`` when the platform is told the parcel: the courier code
    #: (hub's canonical code) and the tracking number.
    courier_code: str | None = None
    tracking_number: str | None = None
    remark: str | None = None


class AfterSaleDecisionResult(BaseModel):
    """What the platform made of a decision.

    ``written_back``: the platform took it (False: it has no API for this step, and the hub only
    records it; ``note`` says so in the platform's terms). ``case`` is the case as the platform
    reports it afterwards, when the connector read it again (the hub applies it like any report)."""

    model_config = ConfigDict(frozen=True)

    written_back: bool
    case: AfterSale | None = None
    note: str | None = None
