"""The worked example of ``docs/plugin-authors.md`` is real code that passes the conformance suite.

The doc quotes ``examples/myshop_plugin.py``; this module loads that file, runs the hub's channel
conformance suite against its connector and sandbox, registers it with the plugin manager as an
entry point would, and checks that every Python block the doc shows from it is really in it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from hub.plugins import build_plugin_manager
from hub.testing.conformance import ChannelConformance

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "myshop_plugin.py"
DOC = ROOT / "docs" / "plugin-authors.md"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("myshop_plugin", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["myshop_plugin"] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


example = _load_example()


class TestMyShopConformance(ChannelConformance):
    connector_class = example.MyShopChannel
    sandbox_class = example.MyShopSandbox


def test_the_plugin_manager_registers_the_example_as_a_channel_and_a_sandbox() -> None:
    plugins = build_plugin_manager(extra=[example], load_entry_points=False)
    assert plugins.channel_class("myshop") is example.MyShopChannel
    assert plugins.sandboxes()["myshop"] is example.MyShopSandbox


def test_every_block_the_doc_quotes_from_the_example_is_in_the_example() -> None:
    doc = DOC.read_text(encoding="utf-8")
    section = doc.split("<!-- example: examples/myshop_plugin.py -->", 1)[1].split("<!-- end example -->", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the worked example section shows no code"
    source = EXAMPLE.read_text(encoding="utf-8")
    for block in blocks:
        assert block in source, f"docs/plugin-authors.md shows code that is not in the example:\n{block[:300]}"
