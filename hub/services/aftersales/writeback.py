"""One write-back of a decision to the shop's platform, and what its answer means for the hub.

``platform_actions`` says whether (and which decisions) a shop's connector writes back;
``write_back`` calls ``decide_aftersale`` with short, bounded tenacity retries for
``RetryableError`` (as ``hub.http.call_with_retries``, with shorter waits: a person is waiting for
the answer; each try inside the shop's ``partner_call`` guard) and sorts the answer
into one ``Answer``: taken, moved on (stale), refused, or unknown (try again later with the same
key). Never raises for a partner's answer. Not for the bookkeeping around it (``decisions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from contracts.aftersales import AfterSale, AfterSaleAction, AfterSaleDecision, AfterSaleDecisionResult
from contracts.connectors import Capability, declared
from hub.errors import (
    AuthorizationError,
    BadInputError,
    PermanentError,
    ShopPausedError,
    StaleAfterSaleError,
    describe_error,
)
from hub.services.shop_health import partner_call
from hub.services.shop_health import with_brief_retries as with_retries

log = structlog.get_logger(__name__)


TAKEN, STALE, REFUSED, UNKNOWN = "taken", "stale", "refused", "unknown"


@dataclass(frozen=True)
class Answer:
    """What the platform made of one write-back: ``kind`` is taken | stale | refused | unknown."""

    kind: str
    result: AfterSaleDecisionResult | None = None
    #: The platform's current case (stale), when the connector could read it.
    current: AfterSale | None = None
    error: str | None = None
    field: str | None = None


def platform_actions(hub: Any, platform: str, shop: str) -> frozenset[AfterSaleAction] | None:
    """The decisions ``shop``'s connector writes back; None when the shop is not configured or its
    connector cannot decide after-sales (``Capability.DECIDE_AFTERSALES``)."""
    if shop not in hub.config.shops:
        return None
    cls = hub.plugins.channel_class(platform)
    if cls is None or not declared(cls, Capability.DECIDE_AFTERSALES):
        return None
    return frozenset(AfterSaleAction(a) for a in getattr(cls, "aftersale_actions", frozenset()))


async def write_back(hub: Any, shop: str, case: AfterSale, decision: AfterSaleDecision) -> Answer:
    """Send ``decision`` on ``case`` to ``shop``'s platform (same key on every try)."""
    connector = hub.accounts().channel(shop)

    async def once() -> AfterSaleDecisionResult:
        async with partner_call(hub, shop, "after-sale decision"):
            result: AfterSaleDecisionResult = await connector.decide_aftersale(case, decision)
            return result

    try:
        result = await with_retries(once)
    except StaleAfterSaleError as exc:
        current = exc.current if isinstance(exc.current, AfterSale) else None
        return Answer(STALE, current=current, error=describe_error(exc))
    except AuthorizationError as exc:  # partner_call paused the shop: wait for re-authorisation
        return Answer(UNKNOWN, error=f"shop paused, waiting for re-authorisation: {describe_error(exc)}")
    except BadInputError as exc:
        return Answer(REFUSED, error=describe_error(exc), field=exc.field)
    except PermanentError as exc:
        return Answer(REFUSED, error=describe_error(exc))
    except ShopPausedError as exc:  # the breaker is open: nothing was sent
        return Answer(UNKNOWN, error=describe_error(exc))
    except Exception as exc:  # RetryableError, a timeout, an unclassified fault: did it land? ask again later
        log.warning("aftersale.writeback_unknown", shop=shop, case=case.ref.external_id,
                    action=decision.action.value, reason=describe_error(exc))
        return Answer(UNKNOWN, error=describe_error(exc))
    return Answer(TAKEN, result=result)
