"""The batch actions a person may run over many orders, by name, and what each returns per order.

An action is an async handler over a list of order ids (or other ids the action names, e.g.
after-sale case ids) that applies itself in one transaction per chunk and returns one
``ItemOutcome`` per id: done, or refused with a reason a person can act on (partial success is
normal: one order refused does not undo the others). Each domain registers its own actions in
its own module with ``@batch_action``; ``ACTION_MODULES`` lists them so importing the registry
never imports a domain (no cycle). The API, CLI, console and background jobs all run actions
through ``hub.services.batch`` by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from hub.api.auth import Permission, Principal
    from hub.context import Hub


@dataclass(frozen=True)
class ItemOutcome:
    """What happened to one item: ``ok``, or refused with ``message`` saying why."""

    ok: bool
    message: str = ""


#: (session, hub, item ids, validated params, caller) → an outcome per id. The handler runs inside
#: the caller's transaction (one per chunk); it must not commit, and must apply each item at most once
#: when the chunk is retried (check current state, use idempotency keys for external effects).
BatchHandler = Callable[["AsyncSession", "Hub", Sequence[int], BaseModel, "Principal"],
                        Awaitable[dict[int, ItemOutcome]]]


@dataclass(frozen=True)
class BatchAction:
    name: str
    permission: Permission
    params: type[BaseModel]
    handler: BatchHandler
    description: str
    #: What the ids name: ``order`` (orders.id) or another kind (``aftersale``, ``parcel``, ``edit``).
    item: str = "order"
    #: True for an action that reuses services opening their own transactions (a shipment, a label,
    #: a decision written back to the platform): the runner then gives it a session outside any
    #: transaction (read with it, never write) and records the outcomes after it; such a handler must be
    #: idempotent by itself (a tracking number recorded once, a decision keyed), since a chunk cut off
    #: between its effects and their record runs again.
    own_transactions: bool = False
    #: For ``ship``: the items are CSV rows (``order_no``, ``courier``, ``tracking_no``), not ids.
    rows: bool = False


ACTIONS: dict[str, BatchAction] = {}

#: Modules that register actions when imported (each domain's own).
ACTION_MODULES: tuple[str, ...] = (
    "hub.services.batch.actions_fulfilment",  # release holds, approve review, ship from CSV, print labels
    "hub.services.batch.actions_aftersales",  # decide after-sale cases
    "hub.services.search.batch_actions",  # tag, untag, priority, hold
    "hub.services.order_edits.batch_actions",  # approve / reject edits
)


def batch_action(name: str, permission: Permission, params: type[BaseModel], description: str,
                 item: str = "order", *, own_transactions: bool = False,
                 rows: bool = False) -> Callable[[BatchHandler], BatchHandler]:
    """Register ``handler`` as the batch action ``name``."""

    def register(handler: BatchHandler) -> BatchHandler:
        ACTIONS[name] = BatchAction(name, permission, params, handler, description, item, own_transactions, rows)
        return handler

    return register


def load_actions() -> Mapping[str, BatchAction]:
    """Every registered action (imports the domain modules that exist)."""
    for module in ACTION_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return ACTIONS


def parse_params(action: BatchAction, raw: Mapping[str, Any]) -> BaseModel:
    """The action's params validated (pydantic ``ValidationError`` on bad input)."""
    return action.params.model_validate(dict(raw))
