"""The import rules that keep the layers apart (docs/architecture.md §1, docs/plugin-authors.md).

``contracts`` ← ``hub`` ← ``plugins``: the contracts import neither the hub nor a plugin; the hub
imports no plugin (it loads them by entry point, ``hub.plugins``); a plugin imports the
contracts, the public plugin API (``hub.plugin_api``), its own package and third-party code,
never the hub's internals nor another plugin. And no import cycle among the hub's modules: none
at module level, and none hidden behind an import inside a function either, except the few
listed below with the reason they are tolerated (so no new one creeps in).

Every ``.py`` under contracts/, hub/ and plugins/ is parsed with ``ast``, never imported: the
imports at module level and inside functions alike (an import under ``if TYPE_CHECKING:`` never
runs, so it is left out of the cycles), plus modules named by a literal string in
``importlib.import_module(...)`` or ``__import__(...)``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("contracts", "hub", "plugins", "tests", "bench")

#: Modules of another plugin a plugin may import: the TOP pieces of ``plugins.taobao`` (client,
#: signing, TMC, gateway emulator) serve every platform on Alibaba's TOP protocol. Moving them to a
#: shared package is a redesign of its own; until then each use is listed here, so a new one is
#: a decision, not an accident.
SHARED_PLUGIN_MODULES: dict[str, dict[str, str]] = {
    "aliexpress": {
        "plugins.taobao.client": "AliExpress's open platform speaks TOP: the same TopClient",
        "plugins.taobao.signing": "TOP request signing, for the client and the sandbox",
        "plugins.taobao.tmc": "orders arrive over TOP's TMC message channel",
        "plugins.taobao.top_gateway": "the sandbox's TOP-style gateway shapes answers as TOP does "
                                      "(empty lists left out, simplify)",
    },
    "warehouse": {
        "plugins.taobao.signing": "QIMEN requests are signed the TOP way",
    },
    "tmall": {
        "plugins.taobao.client": "Tmall is Taobao's sister platform on the same TOP API",
        "plugins.taobao.tmc": "the same TMC message channel",
        "plugins.taobao.mapping": "the same trade and stock payloads (Tmall adds its own fields)",
        "plugins.taobao.connector": "TmallChannel extends TaobaoChannel",
        "plugins.taobao.push": "the Taobao trade topics Tmall shops receive as well",
        "plugins.taobao.sandbox": "the Tmall sandbox extends the Taobao one",
        "plugins.taobao.top_gateway": "the TOP gateway emulator behind both sandboxes",
        "plugins.taobao.refund_writes": "Tmall refunds are TOP refunds (rp.*, refund.refuse) with Tmall's rules",
        "plugins.taobao.signing": "TopFile: a byte[] param sent as multipart, as for Taobao's refusals",
    },
}

#: Imports inside a function that close a cycle, tolerated with their reason. ``hub.cli`` builds
#: the Typer app and registers these command groups at import; their commands use ``hub.cli``'s
#: helpers (``_run_async``, ``_out``, ``CliFailure``…) only when they run. Untangling it means
#: moving those helpers into a module of their own.
KNOWN_LAZY_CYCLE_EDGES: dict[tuple[str, str], str] = {
    ("hub.stock_cli", "hub.cli"): "`hub stock` commands use hub.cli's helpers when they run",
    ("hub.shop_cli", "hub.cli"): "`hub shop` commands use hub.cli's helpers when they run",
    ("hub.catalogue_cli", "hub.cli"): "`hub catalogue`/`hub listings` commands likewise",
    ("hub.user_cli", "hub.cli"): "`hub user` commands likewise",
    ("hub.stock_defective_cli", "hub.cli"): "`hub stock defective`/`hub stock dispose` likewise",
    ("hub.service_orders_cli.technicians", "hub.cli"): "`hub technicians` commands likewise",
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or package), resolved to a file under ROOT when first-party
    line: int
    in_function: bool
    type_checking: bool

    def __str__(self) -> str:
        return f"{self.source} imports {self.target} (line {self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("contracts", "hub", "plugins"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_module(name: str) -> bool:
    return name in MODULES or (ROOT / Path(*name.split("."))).with_suffix(".py").is_file() or (
        ROOT / Path(*name.split(".")) / "__init__.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_import(call: ast.Call) -> str | None:
    """The module a call such as ``importlib.import_module("x")`` or ``__import__("x")`` names."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name in ("import_module", "__import__") and call.args and isinstance(call.args[0], ast.Constant) \
            and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module.
            return [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]
        if isinstance(node, ast.Call):
            literal = _literal_import(node)
            return [literal] if literal else []
        return []

    def walk(node: ast.AST, in_function: bool, type_checking: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            child_in_function = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            child_tc = type_checking or (isinstance(child, ast.If) and _is_type_checking(child.test))
            for target in targets(child):
                yield Import(module, target, getattr(child, "lineno", 0), child_in_function, child_tc)
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                yield from walk(ast.Module(body=child.body, type_ignores=[]), in_function, True)
                yield from walk(ast.Module(body=child.orelse, type_ignores=[]), in_function, type_checking)
                continue
            yield from walk(child, child_in_function, child_tc)

    yield from walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), False, False)


@functools.cache
def all_imports() -> tuple[Import, ...]:
    """Every import of every first-party module: parsed on first use, not when the module is
    collected (every pytest-xdist worker collects it; only one runs these tests)."""
    return tuple(imp for module, path in MODULES.items() for imp in imports_of(module, path))


def _top(name: str) -> str:
    return name.partition(".")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _plugin_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "plugins" and len(parts) > 1 else None


def test_the_parser_sees_every_layer_and_both_kinds_of_import() -> None:
    """Guards the guards: a parser that found nothing would pass every rule below."""
    assert {"contracts", "hub.plugin_api", "hub.services.stock.push", "plugins.taobao.plugin"} <= set(MODULES)
    assert any(i.source == "hub.services.stock.push" and i.target == "hub.services.stock.scheduling"
               for i in all_imports())
    assert any(i.in_function for i in all_imports()) and any(i.type_checking for i in all_imports())
    assert any(i.source == "hub.cli" and i.target == "hub.catalogue_cli" for i in all_imports())  # __import__("…")


def test_contracts_import_neither_the_hub_nor_plugins() -> None:
    offenders = [str(i) for i in all_imports()
                 if _top(i.source) == "contracts" and _top(i.target) in FIRST_PARTY and _top(i.target) != "contracts"]
    assert not offenders, "contracts are pure models and protocols:\n" + "\n".join(offenders)


def test_the_hub_imports_no_plugin() -> None:
    """The hub loads plugins by entry point (``hub.plugins.build_plugin_manager``), never by name."""
    offenders = [str(i) for i in all_imports() if _top(i.source) == "hub" and _top(i.target) in ("plugins", "tests",
                                                                                                 "bench")]
    assert not offenders, "the hub must not name a plugin (load it by entry point):\n" + "\n".join(offenders)


def test_plugins_import_only_contracts_the_plugin_api_and_their_own_package() -> None:
    offenders = []
    for imp in all_imports():
        plugin = _plugin_of(imp.source)
        if plugin is None or _top(imp.target) not in FIRST_PARTY:
            continue  # the plugins package itself, or the standard library and third-party code
        if _within(imp.target, "contracts") or imp.target == "hub.plugin_api":
            continue
        if _within(imp.target, f"plugins.{plugin}") or imp.target in SHARED_PLUGIN_MODULES.get(plugin, {}):
            continue
        offenders.append(str(imp))
    assert not offenders, (
        "a plugin imports contracts, hub.plugin_api (extend it if a plugin needs more) and its own package; "
        "another plugin's module only when listed in SHARED_PLUGIN_MODULES with a reason:\n" + "\n".join(offenders))


def test_every_listed_shared_module_is_still_used() -> None:
    """An exception nobody needs any more is removed, so the list stays the truth."""
    used = {(_plugin_of(i.source), i.target) for i in all_imports()}
    stale = [f"{plugin}: {target}" for plugin, targets in SHARED_PLUGIN_MODULES.items() for target in targets
             if (plugin, target) not in used]
    assert not stale, "no longer imported; drop from SHARED_PLUGIN_MODULES:\n" + "\n".join(stale)


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _hub_edges(*, with_functions: bool) -> set[tuple[str, str]]:
    return {(i.source, i.target) for i in all_imports()
            if _top(i.source) == "hub" and _top(i.target) == "hub" and i.source != i.target
            and not i.type_checking and (with_functions or not i.in_function)}


def test_no_import_cycle_among_hub_modules_at_module_level() -> None:
    cycles = _cycles(_hub_edges(with_functions=False))
    assert not cycles, "import cycles among hub modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycle_hidden_by_an_import_inside_a_function() -> None:
    edges = _hub_edges(with_functions=True) - set(KNOWN_LAZY_CYCLE_EDGES)
    cycles = _cycles(edges)
    assert not cycles, (
        "an import inside a function closes a cycle; let the lower module not need the higher one "
        "(or list the edge in KNOWN_LAZY_CYCLE_EDGES with a reason):\n" + "\n".join(" <-> ".join(c) for c in cycles))


def test_every_known_lazy_cycle_edge_still_closes_a_cycle() -> None:
    """A tolerated edge that no longer closes a cycle is removed from the list."""
    edges = _hub_edges(with_functions=True)
    stale = [f"{a} -> {b}" for a, b in KNOWN_LAZY_CYCLE_EDGES
             if (a, b) not in edges or not any({a, b} <= set(c) for c in _cycles(edges))]
    assert not stale, "drop from KNOWN_LAZY_CYCLE_EDGES:\n" + "\n".join(stale)


def test_the_stock_package_re_exports_nothing() -> None:
    """``hub.services.stock``: callers import the submodule they need, so the package's own
    ``__init__`` imports nothing and the order between its modules stays visible."""
    package = [i for i in all_imports() if i.source == "hub.services.stock"]
    assert not package, "\n".join(str(i) for i in package)
