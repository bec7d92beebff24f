"""Id counters for the partner sandboxes, shifted per run so a restarted demo never reuses an id.

The sandboxes keep their state in memory: after ``hub run --demo`` restarts, they start empty,
while the hub's database still holds the orders, messages and listings of the earlier run under
the sandboxes' ids. A sandbox draws every id from ``sandbox_ids(first)``; the demo calls
``set_sandbox_id_offset`` once before building the sandboxes so a new run's ids start above any
earlier run's. Tests leave the offset at 0 and see the sandboxes' documented first ids.
The offset separates runs, not sandboxes: the demo runs every sandbox at once, so each sandbox
class starts its counters from first ids of its own (a Tmall sandbox is a Taobao one with other
first ids). Not for the hub's own ids (database sequences).
"""

from __future__ import annotations

import itertools
import time

_offset = 0

#: 2024-01-01T00:00:00Z: runs are numbered by the seconds elapsed since.
_EPOCH_S = 1_704_067_200
#: Ids a run may draw per second of its life before reaching the next run's first id. The demo
#: draws a few a second; a run that started s seconds after another starts s × this above it.
IDS_PER_SECOND = 10_000


def run_offset(now_s: float | None = None) -> int:
    """The offset for a run starting now: later runs start above every id an earlier run drew."""
    seconds = int(time.time() if now_s is None else now_s) - _EPOCH_S
    return max(seconds, 0) * IDS_PER_SECOND


def set_sandbox_id_offset(offset: int) -> None:
    """Shift the first id of every sandbox counter created from now on (0 restores the defaults)."""
    global _offset
    _offset = offset


def sandbox_ids(first: int, step: int = 1) -> itertools.count[int]:
    """An id counter starting at ``first`` plus the current run's offset."""
    return itertools.count(first + _offset, step)


__all__ = ["IDS_PER_SECOND", "run_offset", "sandbox_ids", "set_sandbox_id_offset"]
