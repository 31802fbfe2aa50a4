"""The import graph between chatsim's subpackages has no cycle.

Each subpackage (``chatsim.report``, ``chatsim.loadtest``, ...) and each top-level private
module (``chatsim._exceptions``, ``chatsim._logging``, ``chatsim._util``) is one node. Every
``import`` in every module counts, wherever it sits: at module top, inside a function (a lazy
import is still a dependency) or under ``TYPE_CHECKING``. The composition roots
(``chatsim/__init__.py``, ``chatsim/_api.py``, ``chatsim/__main__.py`` and ``chatsim.cli``) may
import everything, so their imports are not edges; in exchange nothing else may import them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import chatsim

SRC = Path(chatsim.__file__).parent
ROOTS = frozenset({"chatsim", "chatsim._api", "chatsim.__main__", "chatsim.cli"})

#: Edges (importer, imported) that close a cycle we know about and have not untangled yet.
#: Each needs a comment saying why it is there; the goal is an empty set.
KNOWN_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset()

Edges = dict[str, dict[str, list[str]]]  # importer -> imported -> ["file:line", ...]


def _node_of_file(path: Path) -> str:
    """The node a source file belongs to: its subpackage, or its own top-level module."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return "chatsim" if parts == ("__init__",) else f"chatsim.{parts[0]}"


def _node_of_import(module: str) -> str | None:
    """The node an absolute import of ``module`` lands in; None outside chatsim."""
    parts = module.split(".")
    if parts[0] != "chatsim":
        return None
    return "chatsim" if len(parts) == 1 else f"chatsim.{parts[1]}"


def _is_node(name: str) -> bool:
    return (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


def _imported_nodes(tree: ast.AST) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):  # every depth: functions, TYPE_CHECKING blocks, try/except
        if isinstance(node, ast.Import):
            found += [(n, node.lineno) for a in node.names if (n := _node_of_import(a.name))]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            target = _node_of_import(node.module)
            if target == "chatsim":  # `from chatsim import report` is an import of chatsim.report
                subs = [f"chatsim.{a.name}" for a in node.names if _is_node(a.name)]
                plain = len(subs) < len(node.names)
                found += [(s, node.lineno) for s in subs] + [("chatsim", node.lineno)] * plain
            elif target is not None:
                found.append((target, node.lineno))
        # Relative imports (level > 0) stay inside their own package: not an edge between nodes.
    return found


def import_graph() -> Edges:
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for path in sorted(SRC.rglob("*.py")):
        source = _node_of_file(path)
        if source in ROOTS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line in _imported_nodes(tree):
            if target != source:
                edges[source][target].append(f"{path.relative_to(SRC.parent)}:{line}")
    return edges


def find_cycle(edges: Edges, skip: frozenset[tuple[str, str]] = frozenset()) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None: a depth-first search with a path stack."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(edges.get(node, {})):
            if (node, target) not in skip and (cycle := visit(target)):
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        if cycle := visit(start):
            return cycle
    return None


def _describe(edges: Edges, cycle: list[str]) -> str:
    hops = [f"  {a} -> {b}  ({', '.join(edges[a][b][:3])})" for a, b in pairwise(cycle)]
    return "import cycle between subpackages:\n" + "\n".join(hops)


def test_find_cycle_reports_the_cycle() -> None:
    edges: Edges = {"a": {"b": ["a.py:1"]}, "b": {"c": ["b.py:2"]}, "c": {"a": ["c.py:3"]}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle(edges, skip=frozenset({("c", "a")})) is None


def test_scanner_sees_lazy_and_type_checking_imports() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from chatsim.metrics import RunSummary\n"
        "def f():\n    import chatsim.report._html\n    from chatsim import protocol, __version__\n"
    )
    assert sorted(n for n, _ in _imported_nodes(tree)) == [
        "chatsim", "chatsim.metrics", "chatsim.protocol", "chatsim.report",
    ]  # fmt: skip


def test_the_subpackage_graph_has_no_cycle() -> None:
    edges = import_graph()
    assert "chatsim.report" in edges and "chatsim.loadtest" in edges  # the scan found modules
    cycle = find_cycle(edges, skip=KNOWN_CYCLE_EDGES)
    assert cycle is None, _describe(edges, cycle)


def test_known_exceptions_are_still_needed() -> None:
    edges = import_graph()
    stale = {(a, b) for a, b in KNOWN_CYCLE_EDGES if b not in edges.get(a, {})}
    assert not stale, f"these edges are gone: drop them from KNOWN_CYCLE_EDGES: {stale}"


def test_nothing_imports_the_composition_roots() -> None:
    edges = import_graph()
    bad = {f"{a} -> {b}": where for a, to in edges.items() for b, where in to.items() if b in ROOTS}
    assert not bad, bad


def test_the_report_does_not_import_the_load_test() -> None:
    # The load test plugs its sections into the report (entry point chatsim.report_sections).
    where = import_graph()["chatsim.report"].get("chatsim.loadtest")
    assert not where, f"chatsim.report imports chatsim.loadtest at {where}"
