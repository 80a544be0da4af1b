"""Each field of the simulator's shared state has one writer (tpusim/sim/world.py's table):
no module assigns (or augments, or item-assigns) an attribute another module owns. Read from
the source with `ast`, so a new write in the wrong place fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import tpusim.sim

OWNERS = {
    "lifecycle": {"state", "phase_start", "recovery", "recovery_s", "restart", "drain",
                  "reconfigure", "shrink", "from_memory", "select_s", "rollback_bound",
                  "started", "degraded", "running_slices", "interrupt_pending", "causes",
                  "cause", "corruptions", "grant", "finished", "window_start", "end_s",
                  "cycle_token", "interrupts", "phase_cache"},
    "progress": {"acc", "by_cause", "progress", "ckpt", "pending_ckpt", "until_ckpt", "history",
                 "block", "run", "rate", "speed"},
    "scheduling": {"frag_since", "frag_wait", "cubes", "holes", "pod", "group", "pending",
                   "broken", "standbys", "wired", "rewired"},
    "components": {"down", "healthy", "hist", "last_t", "n_events", "slow"},
    "engine": {"world", "on_interrupts"},
    "units": {"units", "fleet"},
}
# PodState's owner/free fields are written only by its own methods (take, release, ...).
WORLD_ONLY = {"owner", "owner_slice", "position", "free", "spare", "in_spare", "reserved"}


def _written_attributes(tree: ast.AST) -> set[str]:
    out: set[str] = set()

    def target(node: ast.AST) -> None:
        if isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name)
                                                    and node.value.id == "self"):
            out.add(node.attr)
        elif isinstance(node, ast.Subscript):
            target(node.value)
        elif isinstance(node, ast.Tuple | ast.List):
            for elt in node.elts:
                target(elt)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                target(t)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            target(node.target)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("append", "remove", "add", "discard", "sort", "pop"):
            target(node.func.value)  # in-place mutation of a container field
    return out


def test_every_shared_field_has_one_writer():
    owned = {f: m for m, fields in OWNERS.items() for f in fields}
    folder = Path(tpusim.sim.__file__).parent
    for path in sorted(folder.glob("*.py")):
        module = path.stem
        if module == "world":
            continue
        written = _written_attributes(ast.parse(path.read_text()))
        for field in written:
            assert field not in WORLD_ONLY, f"{module} writes PodState.{field}; use its methods"
            owner = owned.get(field)
            assert owner is None or owner == module, f"{module} writes {field}, owned by {owner}"


def test_the_check_sees_writes():
    tree = ast.parse("job.state = 1\njob.acc[2] += 3\npod.free.add(4)\nself.x = 5\n")
    assert _written_attributes(tree) == {"state", "acc", "free"}
