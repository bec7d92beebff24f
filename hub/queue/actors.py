"""The hub's actor registry: ``@hub_actor`` records what an actor is, ``bind_actors`` makes it real.

Decorating does not touch any broker, so the broker is configured (Redis or in-process) before
actors bind, and every test can bind the same actors to a fresh broker. Not for retry policy
(``hub.queue.retry``) or sending (``hub.queue.runtime``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import dramatiq

from hub.errors import HubError

#: Queues by concern, so a backlog of imports never delays a stock push (docs/architecture.md §5):
#: ``channels`` takes messages in (message channels, polls), ``ingest`` processes what message
#: channels, polls and imports stored, ``webhooks`` processes what pushes stored (its own queue, so
#: a push storm does not starve TMC processing or the other way round).
QUEUES = ("channels", "ingest", "stock", "fulfilment", "bulk", "default", "webhooks")
#: Queues a worker keeps threads of its own for (``[queue] intake_threads``) when it also consumes
#: others: taking messages in must never wait behind processing them.
INTAKE_QUEUES = ("channels",)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ActorSpec:
    """What an actor is, independent of any broker. Times are milliseconds."""

    fn: Callable[..., Any]
    name: str
    queue: str
    max_retries: int
    min_backoff_ms: int
    max_backoff_ms: int
    time_limit_ms: int
    priority: int = 0

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    def options(self) -> dict[str, Any]:
        """The dramatiq actor options the hub's middleware read.

        ``throws``: the worker logs a ``HubError`` (already classified, message secret-free) as an
        expected failure, without a traceback; anything else keeps its traceback in the log. With
        dramatiq's ``Retries`` gone, ``throws`` affects only that logging, not retrying.
        """
        return {
            "max_retries": self.max_retries,
            "min_backoff": self.min_backoff_ms,
            "max_backoff": self.max_backoff_ms,
            "time_limit": self.time_limit_ms,
            "throws": (HubError,),
        }


_registry: dict[str, ActorSpec] = {}


def hub_actor(
    *,
    queue: str,
    max_retries: int,
    min_backoff_ms: int = 1000,
    max_backoff_ms: int = 300_000,
    time_limit_ms: int = 300_000,
    name: str | None = None,
    priority: int = 0,
) -> Callable[[F], F]:
    """Register ``fn`` (async or sync) as an actor and return it unchanged.

    ``max_retries`` is required on purpose: dramatiq's default (20 retries over weeks) must never
    be in place. Registering a different function under a name already taken is an error;
    re-registering the same function (a module reloaded) replaces the entry. ``priority``:
    lower runs first when a worker has several messages waiting (stock pushes and channel intake
    go before order processing, so a backlog of orders never delays what shops show).
    """
    if queue not in QUEUES:
        raise ValueError(f"actor queue {queue!r} is not one of {', '.join(QUEUES)}")
    if max_retries < 0:
        raise ValueError("max_retries must be 0 or more")
    if not 0 < min_backoff_ms <= max_backoff_ms:
        raise ValueError(f"backoff bounds must satisfy 0 < min ({min_backoff_ms}) <= max ({max_backoff_ms})")
    if time_limit_ms <= 0:
        raise ValueError("time_limit_ms must be positive")

    def register(fn: F) -> F:
        actor_name = name or fn.__name__
        existing = _registry.get(actor_name)
        if existing is not None and _qualified(existing.fn) != _qualified(fn):
            raise ValueError(
                f"actor name {actor_name!r} is taken by {_qualified(existing.fn)}; "
                f"give {_qualified(fn)} another name"
            )
        _registry[actor_name] = ActorSpec(
            fn=fn,
            name=actor_name,
            queue=queue,
            max_retries=max_retries,
            min_backoff_ms=min_backoff_ms,
            max_backoff_ms=max_backoff_ms,
            time_limit_ms=time_limit_ms,
            priority=priority,
        )
        return fn

    return register


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def registered_actors() -> dict[str, ActorSpec]:
    """A copy of the registry: actor name → spec."""
    return dict(_registry)


def unregister(name: str) -> None:
    """Forget an actor (tests that register throwaway actors clean up with this)."""
    _registry.pop(name, None)


def bind_actors(broker: dramatiq.Broker) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Create a ``dramatiq.Actor`` on ``broker`` for every registered spec; returns them by name."""
    bound: dict[str, dramatiq.Actor[Any, Any]] = {}
    for spec in _registry.values():
        bound[spec.name] = dramatiq.Actor(
            spec.fn,
            broker=broker,
            actor_name=spec.name,
            queue_name=spec.queue,
            priority=spec.priority,
            options=spec.options(),
        )
    return bound
