"""The queue layer: actor registry, broker, retry/dead-letter policy, outbox relay, leader lock,
rate limiter, circuit breaker and scheduler (docs/architecture.md §5).

Nothing here knows about orders or platforms; services and actors live in ``hub.pipeline`` and
``hub.services`` and reach the queue through ``hub.queue.runtime``.
"""
