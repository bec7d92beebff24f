"""A merchant's decision on a case, written back to the platform once.

``decide`` checks the decision against the case (allowed now, amount within what was paid, a
reason where the platform needs one), claims its idempotency key and records it as an
``aftersale_actions`` row in one transaction, then writes it back through the shop's connector
(``decide_aftersale``) with the same key on every attempt. The platform's answer decides the rest:

- taken → the row is ``done``, the case advances (from the platform's report when the connector
  read it again), the stock and fulfilment consequences follow (``returns``, ``replacements``);
- moved on at the platform (``StaleAfterSaleError``) → ``CaseConflictError`` with the platform's
  current state, and nothing changes locally (the row is ``failed``);
- refused (``BadInputError``/``PermanentError``) → ``failed``, the reason returned;
- no API for this step → ``recorded``, the hub applies it locally and says so;
- a timeout → ``pending``: ``retry_pending`` tries it again later with the same key.

Not for reading cases (``queries``) or rules acting alone (``rules``, which call ``decide``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts.aftersales import Proof, RefuseReason
from hub.errors import HubError


class CaseConflictError(HubError):
    """The case moved on at the platform (or in the hub) so this decision no longer applies.
    ``current`` is what the platform reports now (a dict for the API), when known."""

    def __init__(self, message: str, *, current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class LineQuality:
    """How the goods of one case line came back: ``good`` go back on hand, ``damaged`` to the
    defective location."""

    position: int
    good: int = 0
    damaged: int = 0


@dataclass(frozen=True)
class DecisionIn:
    """A decision as a person (or a rule) asks for it; which fields matter depends on ``action``."""

    action: str
    refund_amount: Decimal | None = None
    reason_id: str | None = None
    reason_text: str | None = None
    proof: tuple[Proof, ...] = ()
    remark: str | None = None
    #: confirm_return / receive_exchange: per case line; empty = every unit came back good.
    quality: tuple[LineQuality, ...] = ()
    #: ship_exchange / reissue: the warehouse to ship from (None: routed like an order).
    warehouse: str | None = None
    #: ship_exchange when the replacement left outside the hub: its courier and tracking number.
    courier_code: str | None = None
    tracking_number: str | None = None


@dataclass
class DecisionOutcome:
    """What became of a decision. ``state``: done | recorded | pending | failed; ``repeated`` when
    the key was used before (nothing was done again; the first call's outcome)."""

    case_id: int
    action_id: int
    action: str
    state: str
    written_back: bool
    status: str
    note: str | None = None
    repeated: bool = False
    delivery_order_id: int | None = None
    stock: list[dict[str, Any]] = field(default_factory=list)


async def decide(hub: Any, case_id: int, decision: DecisionIn, *, actor: str, key: str | None = None,
                 cause: str = "api") -> DecisionOutcome:
    """Take ``decision`` on case ``case_id`` for ``actor`` (see the module docstring).

    Raises ``NotFoundError`` (no such case), ``BadInputError`` naming the field (not allowed now,
    an amount above what was paid, a reason missing), ``CaseConflictError`` (moved on)."""
    raise NotImplementedError


async def retry_pending(hub: Any, limit: int = 50) -> int:
    """Write back again the decisions left ``pending`` whose next attempt is due (same key);
    returns how many were tried."""
    raise NotImplementedError


async def refuse_reasons(hub: Any, case_id: int) -> list[RefuseReason]:
    """The platform's reasons for refusing the case now (empty: free text only)."""
    raise NotImplementedError
