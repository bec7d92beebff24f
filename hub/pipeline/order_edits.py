"""Order-edit actors: ``order_edit_write`` sends one applied edit's write-back (a no-op once it is
settled, or while another sender holds it), and the periodic retry of write-backs that got no
answer, or were approved in a batch (same key, backing off, ``[order_edits]
writeback_max_attempts``). Thin: each calls ``hub.services.order_edits.writeback``. ``jobs(hub)``
lists the periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor

WRITE_ACTOR = "order_edit_write"
RETRY_ACTOR = "order_edit_writeback_retry"
#: How often due write-backs are looked for (each edit waits its own backoff).
RETRY_INTERVAL_S = 30.0


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=WRITE_ACTOR)
async def order_edit_write(edit_id: int) -> None:
    """Send one edit's write-back."""
    from hub.services.order_edits import writeback

    await writeback.deliver(current_hub(), edit_id)


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=RETRY_ACTOR)
async def retry_order_edit_writes() -> None:
    """Write back the pending edits that are due, with their own keys."""
    from hub.services.order_edits import writeback

    await writeback.retry_pending(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs."""
    return [(RETRY_ACTOR, RETRY_INTERVAL_S, RETRY_ACTOR, ())]
