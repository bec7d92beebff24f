"""Meta-tests: every hook is documented for plugin authors and exercised by some test.

Like datasette's: adding a hookspec without a docstring that says what to return, or without a
test that calls or implements it, fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from contracts import hookspecs

TESTS = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name for name, fn in vars(hookspecs).items()
    if inspect.isfunction(fn) and hasattr(fn, "connector_hub_spec")
)


def test_there_are_hooks() -> None:
    assert {"register_channels", "route_order", "allocate_stock", "order_changed"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc) > 80, f"hook {name} needs a docstring for plugin authors"
    assert re.search(r":return:|Return|Notification", doc), f"hook {name}: say what to return"
    assert "Called" in doc, f"hook {name}: say when it is called and how results combine"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_exercised_by_a_test(name: str) -> None:
    pattern = re.compile(rf"(hook\.{name}\(|def {name}\()")
    users = [
        p for p in TESTS.rglob("test_*.py")
        if p.name != Path(__file__).name and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert users, f"no test calls or implements the hook {name!r}"
