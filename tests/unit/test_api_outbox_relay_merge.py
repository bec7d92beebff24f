"""The relays send the ``process_*_batch`` rows of many group commits as few messages (the API's
relay and the workers'), and a notification with its outbox row's id."""

from __future__ import annotations

import inspect
import json

from hub.api.outbox_relay import _merged
from hub.db.outbox import ACKED_ACTORS, INGEST_MERGED_IDS, MERGEABLE_ACTORS, MERGED_IDS, OUTBOX_ID, merge_cap
from hub.queue.actors import registered_actors
from hub.runner import import_actor_modules
from hub.services.backlog import MAX_BATCH_IDS, PROCESS_ACTOR, PUSH_PROCESS_ACTOR
from hub.services.intake import BATCH_IDS


def _row(row_id: int, actor: str, args: list[object], kwargs: dict[str, object] | None = None) -> tuple[object, ...]:
    return (row_id, actor, json.dumps(args), json.dumps(kwargs or {}))


def test_consecutive_batches_of_one_actor_become_one_message_up_to_the_batch_size() -> None:
    rows = [_row(n, PUSH_PROCESS_ACTOR, [[2 * n, 2 * n + 1]]) for n in range(BATCH_IDS // 2 + 1)]
    messages = _merged(rows)
    assert [actor for actor, _, _ in messages] == [PUSH_PROCESS_ACTOR, PUSH_PROCESS_ACTOR]
    sent = [i for _, args, _ in messages for i in args[0]]
    assert sent == list(range(BATCH_IDS + 2)), "every id exactly once, in order"
    assert len(messages[0][1][0]) == BATCH_IDS


def _consumes(actor: str, count: int, size: int = MAX_BATCH_IDS) -> list[tuple[object, ...]]:
    """``count`` outbox rows of ``actor`` of ``size`` inbox ids each, as TMC consumes (or webhook
    groups) write them: row n carries ids n*size … n*size + size - 1."""
    return [_row(n + 1, actor, [list(range(n * size, (n + 1) * size))]) for n in range(count)]


def test_five_tmc_consumes_of_200_ids_go_out_as_one_ingest_batch_of_1000() -> None:
    """Message channels and polls: a batch of 1,000 ids reads each ``trades.sold.increment.get``
    page for five consumes' orders, not one's."""
    messages = _merged(_consumes(PROCESS_ACTOR, 5))
    assert messages == [(PROCESS_ACTOR, [list(range(1000))], {})]
    assert INGEST_MERGED_IDS == 1000 == merge_cap(PROCESS_ACTOR)


def test_a_sixth_consume_starts_the_next_ingest_batch() -> None:
    messages = _merged(_consumes(PROCESS_ACTOR, 6))
    assert [(actor, len(args[0])) for actor, args, _ in messages] == [(PROCESS_ACTOR, 1000), (PROCESS_ACTOR, 200)]
    assert [i for _, args, _ in messages for i in args[0]] == list(range(1200)), "every id exactly once, in order"


def test_webhook_push_batches_still_split_at_200_ids() -> None:
    messages = _merged(_consumes(PUSH_PROCESS_ACTOR, 5))
    assert [(actor, len(args[0])) for actor, args, _ in messages] == [(PUSH_PROCESS_ACTOR, 200)] * 5
    assert merge_cap(PUSH_PROCESS_ACTOR) == MERGED_IDS == 200
    halves = _merged(_consumes(PUSH_PROCESS_ACTOR, 4, size=100))
    assert [len(args[0]) for _, args, _ in halves] == [200, 200]


def test_other_actors_keyword_arguments_and_actor_changes_are_not_merged() -> None:
    rows = [
        _row(1, PUSH_PROCESS_ACTOR, [[1]]),
        _row(2, PROCESS_ACTOR, [[2]]),
        _row(3, PROCESS_ACTOR, [[3]], {"force": True}),
        _row(4, "confirm_shipment", [7]),
        _row(5, "confirm_shipment", [8]),
        _row(6, PUSH_PROCESS_ACTOR, [[4]]),
    ]
    assert _merged(rows) == [
        (PUSH_PROCESS_ACTOR, [[1]], {}), (PROCESS_ACTOR, [[2]], {}), (PROCESS_ACTOR, [[3]], {"force": True}),
        ("confirm_shipment", [7], {}), ("confirm_shipment", [8], {}), (PUSH_PROCESS_ACTOR, [[4]], {}),
    ]


def test_notifications_carry_their_outbox_row_id() -> None:
    rows = [_row(7, "orders_changed", [[[1, "paid", "shipped", "test"]]]),
            _row(8, "aftersale_changed", [3, 1, "requested", "t"]), _row(9, "confirm_shipment", [4])]
    assert _merged(rows) == [
        ("orders_changed", [[[1, "paid", "shipped", "test"]]], {"outbox_id": 7}),
        ("aftersale_changed", [3, 1, "requested", "t"], {"outbox_id": 8}),
        ("confirm_shipment", [4], {}),
    ]


def test_every_acknowledging_actor_exists_and_takes_its_outbox_id() -> None:
    import_actor_modules()
    actors = registered_actors()
    for name in ACKED_ACTORS:
        assert OUTBOX_ID in inspect.signature(actors[name].fn).parameters, name


def test_the_merged_actors_and_size_are_the_batch_processing_ones() -> None:
    assert set(MERGEABLE_ACTORS) == {PROCESS_ACTOR, PUSH_PROCESS_ACTOR}
    assert MERGED_IDS == BATCH_IDS == MAX_BATCH_IDS
