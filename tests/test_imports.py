"""The library's import graph: no cycles, and no module imports from a layer above its own.

Every `import` and `from ... import` in `tpusim/` counts, including the ones inside functions
(a lazy import is still a dependency). A node is a module (`tpusim.sim.engine`); a package's
`__init__` is the node `tpusim.sim`. Layers, top to bottom (a module may import its own layer
and the layers below):

    cli                       7
    reports, sweeps, api, validation 6
    sim                       5
    workloads, planner, charts 4
    hardware, collectives     3
    topology                  2
    units, errors, data, inputs, limits, rows, pool, defaults, stats (ground floor) 1
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "tpusim"

LAYERS = {
    "tpusim.cli": 7,
    "tpusim.__main__": 7,
    "tpusim.report": 6,
    "tpusim.reports": 6,
    "tpusim.sweep": 6,
    "tpusim.sweeps": 6,
    "tpusim.api": 6,
    "tpusim.validation": 6,
    "tpusim.sim": 5,
    "tpusim.workloads": 4,
    "tpusim.planner": 4,
    "tpusim.charts": 4,
    "tpusim.hardware": 3,
    "tpusim.collectives": 3,
    "tpusim.topology": 2,
    "tpusim.units": 1,
    "tpusim.errors": 1,
    "tpusim.data": 1,
    "tpusim.inputs": 1,
    "tpusim.filecache": 1,
    "tpusim.limits": 1,
    "tpusim.rows": 1,
    "tpusim.pool": 1,
    "tpusim.defaults": 1,
    "tpusim.stats": 1,
}

# Known problems being removed (issue: straighten the house). An entry here must still be a
# problem (the test fails when it is fixed, so the list only shrinks).
KNOWN_CYCLES: set[frozenset[str]] = set()
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph() -> nx.DiGraph:
    """module -> imported tpusim module, for every import statement anywhere in a module."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node)
                # `from pkg import sub` imports the submodule when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in targets:
                while target and target not in files:  # `import tpusim.x.y` of a name: its module
                    target = target.rpartition(".")[0]
                if target.startswith("tpusim") and target != module:
                    graph.add_edge(module, target)
    return graph


def layer(module: str) -> int | None:
    """The layer of `module`: that of its longest listed prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        rank = LAYERS.get(".".join(parts[:n]))
        if rank is not None:
            return rank
    return None


def test_graph_sees_known_edges():
    graph = import_graph()
    assert graph.has_edge("tpusim.cli", "tpusim.errors")
    assert graph.has_edge("tpusim.sim.scenario", "tpusim.hardware")
    assert len(graph) > 50


def test_no_import_cycles():
    cycles = {frozenset(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1}
    assert cycles - KNOWN_CYCLES == set(), "import loops; move the shared part to a module below both"
    assert KNOWN_CYCLES - cycles == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"


def test_every_module_has_a_layer():
    assert [m for m in import_graph() if m != "tpusim" and layer(m) is None] == []


def test_no_module_imports_from_a_layer_above():
    upward = {
        (a, b)
        for a, b in import_graph().edges
        if a != "tpusim" and layer(a) is not None and layer(b) is not None and layer(b) > layer(a)
    }
    assert upward - KNOWN_UPWARD == set(), "imports running up the layers"
    assert KNOWN_UPWARD - upward == set(), "a known upward import is gone: remove it from KNOWN_UPWARD"
