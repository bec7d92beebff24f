"""The queue's retry policy, actor registry and broker stack, without any server: what happens to
a message after each kind of error, and that dramatiq's own retry defaults are never in place."""

from __future__ import annotations

import random
import time

import dramatiq
import pytest
from dramatiq.common import current_millis
from dramatiq.middleware import Retries, Shutdown, TimeLimitExceeded
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import (
    AuthorizationError,
    BadInputError,
    LockBusyError,
    PermanentError,
    RetryableError,
    ShopPausedError,
    SignatureError,
    ThrottledError,
)
from hub.queue import actors as registry
from hub.queue.actors import bind_actors, hub_actor
from hub.queue.broker import build_broker, retries_of
from hub.queue.retry import MAX_BUSY_REQUEUES, DeadLetter, backoff_ms, decide

BUDGET = {"max_retries": 3, "min_backoff_ms": 1000, "max_backoff_ms": 60_000}


@pytest.mark.parametrize(
    ("error", "retries", "busy", "action"),
    [
        (PermanentError("shop 'tb': item 42 does not exist (TOP isv.item-not-exist)"), 0, 0, "dead"),
        (AuthorizationError("shop 'tb': session invalid (TOP code 27); re-authorise"), 0, 0, "dead"),
        (BadInputError("order has no lines", field="lines"), 0, 0, "dead"),
        (SignatureError("bad signature"), 0, 0, "dead"),
        (RetryableError("HTTP 503 from TOP"), 0, 0, "retry"),
        (RetryableError("HTTP 503 from TOP"), 2, 0, "retry"),
        (RetryableError("HTTP 503 from TOP"), 3, 0, "dead"),
        (ValueError("unexpected"), 0, 0, "retry"),
        (ValueError("unexpected"), 3, 0, "dead"),
        (TimeLimitExceeded(), 0, 0, "retry"),
        (LockBusyError("order 7 is locked"), 3, 0, "requeue"),
        (ShopPausedError("tb", "breaker open"), 3, 5, "requeue"),
        (LockBusyError("order 7 is locked"), 0, MAX_BUSY_REQUEUES, "dead"),
        (Shutdown(), 3, 0, "requeue"),
    ],
)
def test_each_kind_of_error_gets_its_treatment(error: BaseException, retries: int, busy: int, action: str) -> None:
    decision = decide(error, retries=retries, busy_requeues=busy, **BUDGET)
    assert decision.action == action


def test_retry_after_is_a_floor_on_the_delay() -> None:
    decision = decide(ThrottledError("TOP code 7: app call limited", retry_after=12.5), retries=0, busy_requeues=0,
                      **BUDGET)
    assert decision.action == "requeue"
    assert decision.delay_ms >= 12_500
    decision = decide(RetryableError("TOP isp.remote-service-unavailable", retry_after=12.5), retries=0,
                      busy_requeues=0, **BUDGET)
    assert decision.action == "retry"
    assert decision.delay_ms >= 12_500


def test_throttling_does_not_spend_the_retry_budget_even_when_it_is_used_up() -> None:
    """A throttled call did nothing at the partner: a shipment confirmation that was throttled
    on its last attempt must still get its real attempt, after the partner's wait."""
    decision = decide(ThrottledError("Douyin 60000: request limited", retry_after=2), retries=BUDGET["max_retries"],
                      busy_requeues=4, **BUDGET)
    assert decision.action == "requeue"
    assert decision.delay_ms >= 2000
    assert decide(ThrottledError("limited"), retries=0, busy_requeues=MAX_BUSY_REQUEUES, **BUDGET).action == "dead"


@pytest.mark.parametrize("error", [TimeoutError(), TimeoutError(""), ValueError(), TimeLimitExceeded()])
def test_a_reason_is_never_empty_and_names_the_error_class(error: BaseException) -> None:
    for retries in (0, BUDGET["max_retries"]):
        reason = decide(error, retries=retries, busy_requeues=0, **BUDGET).reason
        assert reason.strip() and type(error).__name__ in reason


def test_a_short_retry_after_does_not_shorten_the_backoff() -> None:
    decision = decide(RetryableError("busy", retry_after=0.01), retries=2, busy_requeues=0, **BUDGET,
                      rng=random.Random(1))
    assert decision.delay_ms >= 2000  # third attempt: at least half of 4 s


def test_a_busy_lock_comes_back_soon() -> None:
    decision = decide(LockBusyError("order 7 is locked"), retries=0, busy_requeues=0, **BUDGET)
    assert 100 <= decision.delay_ms <= 1000


def test_a_paused_shop_waits_until_its_breaker_cools_down() -> None:
    now = time.time()
    decision = decide(ShopPausedError("tb", "breaker open", until=now + 20), retries=0, busy_requeues=0, **BUDGET,
                      now=now)
    assert decision.action == "requeue"
    assert 19_000 <= decision.delay_ms <= 20_000


def test_dead_letter_reason_is_the_error_message() -> None:
    decision = decide(PermanentError("shop 'tb': SKU 'A-1' unknown; map it first"), retries=0, busy_requeues=0,
                      **BUDGET)
    assert decision.reason == "shop 'tb': SKU 'A-1' unknown; map it first"


@given(
    retries=st.integers(min_value=0, max_value=60),
    min_ms=st.integers(min_value=1, max_value=10_000),
    extra=st.integers(min_value=0, max_value=1_000_000),
    seed=st.integers(),
)
def test_backoff_stays_between_the_actors_bounds(retries: int, min_ms: int, extra: int, seed: int) -> None:
    max_ms = min_ms + extra
    delay = backoff_ms(retries, min_ms, max_ms, random.Random(seed))
    assert min_ms <= delay <= max_ms
    assert delay >= min(max_ms, min_ms * 2**retries) // 2  # exponential, with at most half as jitter


def test_hub_actor_requires_an_explicit_retry_budget() -> None:
    with pytest.raises(TypeError):
        hub_actor(queue="default")  # type: ignore[call-arg]


def test_hub_actor_rejects_a_queue_outside_the_concerns() -> None:
    with pytest.raises(ValueError, match="ingest, stock, fulfilment, bulk, default"):
        hub_actor(queue="orders", max_retries=1)


def test_hub_actor_returns_the_function_unchanged_and_refuses_a_taken_name() -> None:
    async def queue_test_unit_a(order_id: int) -> None: ...

    def queue_test_unit_b() -> None: ...

    try:
        assert hub_actor(queue="stock", max_retries=2, name="queue_test_unit")(queue_test_unit_a) is queue_test_unit_a
        assert registry.registered_actors()["queue_test_unit"].is_async
        with pytest.raises(ValueError, match="taken"):
            hub_actor(queue="stock", max_retries=2, name="queue_test_unit")(queue_test_unit_b)
    finally:
        registry.unregister("queue_test_unit")


def test_bound_actors_carry_their_budget_and_dramatiq_retries_is_gone() -> None:
    def queue_test_bound(order_id: int) -> None: ...

    hub_actor(queue="fulfilment", max_retries=4, min_backoff_ms=200, max_backoff_ms=9000,
              time_limit_ms=5000)(queue_test_bound)
    try:
        broker = build_broker(None)
        actor = bind_actors(broker)["queue_test_bound"]
        assert actor.queue_name == "fulfilment"
        assert {k: actor.options[k] for k in ("max_retries", "min_backoff", "max_backoff", "time_limit")} == {
            "max_retries": 4, "min_backoff": 200, "max_backoff": 9000, "time_limit": 5000}
        assert not any(isinstance(m, Retries) for m in broker.middleware)
        assert {"ingest", "stock", "fulfilment", "bulk", "default"} <= broker.get_declared_queues()
    finally:
        registry.unregister("queue_test_bound")


class _Collect:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def __call__(self, letter: DeadLetter) -> int:
        self.letters.append(letter)
        return len(self.letters)


def _processed_with(broker: dramatiq.Broker, error: BaseException, **options: object) -> dramatiq.broker.MessageProxy:
    message = dramatiq.Message(queue_name="stock", actor_name="queue_test_policy", args=(7,),
                               kwargs={"inbox_id": 99}, options=dict(options))
    proxy = dramatiq.broker.MessageProxy(message)
    retries_of(broker).after_process_message(broker, proxy, exception=error)
    return proxy


@pytest.fixture
def policy_broker():
    def queue_test_policy(order_id: int, inbox_id: int | None = None) -> None: ...

    hub_actor(queue="stock", max_retries=2, min_backoff_ms=100, max_backoff_ms=1000,
              name="queue_test_policy")(queue_test_policy)
    sink = _Collect()
    broker = build_broker(None, dead_letter_sink=sink)
    bind_actors(broker)
    yield broker, sink
    registry.unregister("queue_test_policy")


def test_retry_after_sets_the_next_eta_of_the_message(policy_broker) -> None:
    broker, _ = policy_broker
    before = current_millis()
    _processed_with(broker, ThrottledError("TOP code 7", retry_after=3), retries=2)

    queued = dramatiq.Message.decode(broker.queues["stock.DQ"].get_nowait())
    assert queued.options["eta"] >= before + 3000
    assert queued.options["retries"] == 2  # the last retry is still there for a real fault
    assert queued.options["busy_requeues"] == 1


def test_a_timeout_on_the_last_attempt_is_a_dead_letter_naming_timeout_error(policy_broker) -> None:
    broker, sink = policy_broker
    _processed_with(broker, TimeoutError(), retries=2)
    [letter] = sink.letters
    assert letter.error_class == "TimeoutError" and "TimeoutError" in letter.reason


def test_a_busy_lock_is_requeued_without_spending_a_retry(policy_broker) -> None:
    broker, sink = policy_broker
    proxy = _processed_with(broker, LockBusyError("order 7 is locked"), retries=2)

    queued = dramatiq.Message.decode(broker.queues["stock.DQ"].get_nowait())
    assert queued.options["retries"] == 2
    assert queued.options["busy_requeues"] == 1
    assert not proxy.failed and sink.letters == []


def test_a_permanent_error_is_a_dead_letter_with_its_input_and_is_not_retried(policy_broker) -> None:
    broker, sink = policy_broker
    proxy = _processed_with(broker, PermanentError("SKU 'A-1' unknown"))

    assert broker.queues["stock.DQ"].qsize() == 0 and broker.queues["stock"].qsize() == 0
    assert proxy.failed
    [letter] = sink.letters
    assert (letter.actor, letter.queue, letter.args, letter.kwargs) == ("queue_test_policy", "stock", [7],
                                                                        {"inbox_id": 99})
    assert (letter.reason, letter.error_class, letter.attempts, letter.inbox_id) == (
        "SKU 'A-1' unknown", "PermanentError", 1, 99)


def test_exhausted_retries_count_every_attempt(policy_broker) -> None:
    broker, sink = policy_broker
    proxy = _processed_with(broker, RetryableError("HTTP 502"), retries=2)

    assert proxy.failed
    assert sink.letters[0].attempts == 3
    assert sink.letters[0].error_class == "RetryableError"


def test_a_message_for_an_unknown_actor_becomes_a_dead_letter(policy_broker) -> None:
    broker, sink = policy_broker
    message = dramatiq.Message(queue_name="stock", actor_name="queue_test_gone", args=(1,), kwargs={}, options={})
    proxy = dramatiq.broker.MessageProxy(message)

    retries_of(broker).after_process_message(broker, proxy, exception=dramatiq.errors.ActorNotFound("queue_test_gone"))

    assert proxy.failed
    assert [(letter.actor, letter.error_class) for letter in sink.letters] == [("queue_test_gone", "ActorNotFound")]
