"""Order-edit actors: ``order_edit_write`` sends one applied edit's write-back (a no-op once it is
settled, or while another sender holds it), and the periodic job ``order_edit_writeback_retry``:
it withdraws the price and quantity edits still waiting for approval whose order was paid
meanwhile (``stale``: one statement, whatever their number), then retries the write-backs that got
no answer, or were approved in a batch (same key, backing off, ``[order_edits]
writeback_max_attempts``). Thin: each calls ``hub.services.order_edits``. ``jobs(hub)`` lists the
periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor

WRITE_ACTOR = "order_edit_write"
RETRY_ACTOR = "order_edit_writeback_retry"
#: How often due write-backs and stale approvals are looked for (each write-back waits its own backoff).
RETRY_INTERVAL_S = 30.0


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=WRITE_ACTOR)
async def order_edit_write(edit_id: int) -> None:
    """Send one edit's write-back."""
    from hub.services.order_edits import writeback

    await writeback.deliver(current_hub(), edit_id)


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=RETRY_ACTOR)
async def retry_order_edit_writes() -> None:
    """Withdraw the money changes the orders' payment made moot, then write back the pending
    edits that are due, with their own keys."""
    from hub.services.order_edits import stale, writeback

    hub = current_hub()
    await stale.withdraw_stale_edits(hub)
    await writeback.retry_pending(hub)


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs."""
    return [(RETRY_ACTOR, RETRY_INTERVAL_S, RETRY_ACTOR, ())]
