"""The arithmetic of applying a stock file's rows in order: rows for one warehouse and SKU
compose (a count, then deltas on top), and a row that would leave on hand below what orders have
reserved is named by its row number and changes nothing."""

from __future__ import annotations

from hub.services.stock.adjustments import Adjustment
from hub.services.stock.batches import Level, plan_rows


def test_rows_for_one_key_compose_in_file_order() -> None:
    levels = {("main", "TEE"): Level(1, on_hand=10, reserved=2)}
    rows = [Adjustment("main", "TEE", on_hand=20), Adjustment("main", "TEE", delta=-5),
            Adjustment("east", "TEE", delta=3)]
    plan = plan_rows(levels, rows, [2, 3, 4])
    assert plan.problems == []
    assert plan.deltas == [10, -5, 3]
    assert plan.final == {("main", "TEE"): 15, ("east", "TEE"): 3}


def test_a_row_going_below_reserved_is_named_and_changes_nothing() -> None:
    levels = {("main", "TEE"): Level(1, on_hand=10, reserved=4)}
    rows = [Adjustment("main", "TEE", delta=-3), Adjustment("main", "TEE", delta=-5),
            Adjustment("main", "TEE", on_hand=3), Adjustment("main", "TEE", on_hand=4)]
    plan = plan_rows(levels, rows, [2, 3, 4, 5])
    assert [(p.row, p.field) for p in plan.problems] == [(3, "delta"), (4, "on_hand")]
    assert "below the 4 reserved" in plan.problems[0].message
    assert plan.deltas == [-3, 0, 0, -3]
    assert plan.final == {("main", "TEE"): 4}


def test_a_count_equal_to_what_is_there_moves_nothing() -> None:
    plan = plan_rows({("main", "MUG"): Level(7, 12, 0)}, [Adjustment("main", "MUG", on_hand=12)], [2])
    assert plan.deltas == [0] and plan.final == {("main", "MUG"): 12}
