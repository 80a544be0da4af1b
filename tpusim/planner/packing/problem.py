"""One packing problem (a box shape on a cube torus) as the bit sets the searches read.

Both searches, the compiled one (tpusim.planner.packing.native, which turns these sets into
uint64 words) and its pure-Python twin (tpusim.planner.packing.twin), read the same `Problem`:
the boxes in search order (by lowest cube, then placement index, so the boxes through one cube
sit in few words), each box's cubes, the boxes through each cube, the boxes sharing a cube with
each box, the classes of every nontrivial coloring with the fewest cubes of the class in any
box, the waste families' sub-tori (class A and class B cubes), the greedy orders (one per
tiling class, that class first) and the local-search windows. The searches return packings as
search indices; `from_search` maps them back to placement indices.

Also the kernels' shared types: their node `Budgets`, and `BatchResult` with its lazily
converted `Packings`.

Invariants (tested): `to_search` and `from_search` are inverse permutations, boxes sorted by
lowest cube; `masks`, `cube_boxes`, `conflict` and the classes' `need` describe the same boxes
as the placements; each greedy order lists every box once, its tiling class first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tpusim.planner.packing.bits import mask_of_bools
from tpusim.planner.packing.bounds import colorings, waste_families
from tpusim.planner.packing.boxes import box_placements
from tpusim.planner.packing.greedy import tiling_orders

WINDOW_WIDTHS = (2, 3, 4)  # local-search windows: slabs of this many cube layers


@dataclass(frozen=True)
class Problem:
    """See the module docstring. Bit sets are Python ints; box bits are search indices."""

    grid: tuple[int, ...]
    shape: tuple[int, ...]
    k: int                            # cubes per box
    n_cubes: int
    masks: tuple[int, ...]            # per box: its cubes
    cube_boxes: tuple[int, ...]       # per cube: the boxes through it
    conflict: tuple[int, ...]         # per box: the boxes sharing a cube with it (itself too)
    classes: tuple[int, ...]          # coloring classes (cubes), every nontrivial coloring
    need: tuple[int, ...]             # per class: the fewest cubes of the class in any box
    families: tuple[tuple[int, int, int], ...]  # waste families: first sub-torus, count, modulus
    subtori: tuple[tuple[int, int], ...]        # per sub-torus: class A cubes, class B cubes
    orders: np.ndarray                # greedy orders x boxes (search indices)
    windows: tuple[int, ...]          # local-search windows (cubes)
    to_search: np.ndarray             # placement index -> search index
    from_search: np.ndarray           # search index -> placement index


@lru_cache(maxsize=256)
def problem(grid: tuple[int, ...], shape: tuple[int, ...]) -> Problem:
    """The problem of packing `shape` boxes on the `grid` cube torus (cached)."""
    pl = box_placements(grid, shape)
    order = sorted(range(len(pl.masks)), key=lambda i: (min(pl.cells[i]), i))
    to_search = np.empty(len(order), dtype=np.int64)
    to_search[order] = np.arange(len(order))
    cube_boxes, conflict = _box_sets([pl.cells[i] for i in order], pl.n_cubes)
    pairs = list(dict.fromkeys((m, n) for col in colorings(grid, shape)[1:]
                               for m, n in zip(col.classes, col.need, strict=True)))
    families: list[tuple[int, int, int]] = []
    subtori: list[tuple[int, int]] = []
    for onehot, g, sign in waste_families(grid, shape):
        first = len(subtori)
        for col in range(onehot.shape[1]):
            cells = onehot[:, col] > 0.5
            if sign is None:
                subtori.append((mask_of_bools(cells), 0))
            else:
                subtori.append((mask_of_bools(cells & (sign > 0)), mask_of_bools(cells & (sign < 0))))
        families.append((first, len(subtori) - first, g))
    orders = np.stack([to_search[o] for o in tiling_orders(grid, shape)]).astype(np.int32)
    return Problem(grid=grid, shape=shape, k=pl.cubes_per_slice, n_cubes=pl.n_cubes,
                   masks=tuple(pl.masks[i] for i in order), cube_boxes=cube_boxes,
                   conflict=conflict, classes=tuple(m for m, _ in pairs),
                   need=tuple(n for _, n in pairs),
                   families=tuple(families), subtori=tuple(subtori),
                   orders=np.ascontiguousarray(orders), windows=slab_windows(grid),
                   to_search=to_search, from_search=np.array(order, dtype=np.int64))


def _box_sets(cells, n_cubes: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For boxes given by their cubes: per cube the bit set of boxes containing it, and per box
    the bit set of boxes that share a cube with it (itself included)."""
    cube_boxes = [0] * n_cubes
    for j, cs in enumerate(cells):
        for c in cs:
            cube_boxes[c] |= 1 << j
    conflict = []
    for cs in cells:
        x = 0
        for c in cs:
            x |= cube_boxes[c]
        conflict.append(x)
    return tuple(cube_boxes), tuple(conflict)


@lru_cache(maxsize=64)
def slab_windows(grid: tuple[int, ...], widths: tuple[int, ...] = WINDOW_WIDTHS) -> tuple[int, ...]:
    """Bit sets of the slabs of `widths` consecutive layers along every axis, at every start
    (wrapping; a width that is not smaller than the axis is skipped), narrow slabs first."""
    coords = np.indices(grid).reshape(len(grid), -1)
    out: list[int] = []
    for w in widths:
        for a, n in enumerate(grid):
            if w < n:
                out.extend(mask_of_bools(((coords[a] - start) % n) < w) for start in range(n))
    return tuple(out)


@dataclass(frozen=True)
class Budgets:
    """Search nodes per step of the strategy (tpusim.planner.packing.solve); they trade time
    between the steps, the kernel and the LP / integer program, never the answers."""

    # the batch solver (_batch.c; the Python twin runs one search per target with `quick`)
    joint: int        # nodes per target of the joint parity bound, once per pattern
    first: int        # the short full search at each target
    local: int        # one local-search step inside one window
    local_waste: bool  # local-search steps (batch and one pattern) prune by waste families too
    mid: int          # the full search after local search
    quick: int        # the last full search at a target before the pattern is left open
    # one pattern (solve.best_packing)
    one_quick: int    # the first full search at each target
    one_local: int    # one local-search step inside one window
    one_node: int     # the last search at a target before the integer program
    # solve.finish_packing: the LP-guided search before the integer program
    finish: int


class Packings(Sequence):
    """Packings as lists of placement indices, converted from padded rows of search indices
    (-1: none) only when read (most callers read a few)."""

    def __init__(self, rows: np.ndarray, from_search: np.ndarray) -> None:
        self._rows = rows
        self._from_search = from_search

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row = self._rows[i]
        return self._from_search[row[row >= 0]].tolist()


@dataclass(frozen=True)
class BatchResult:
    """A batch solver's answer per pattern: count (the maximum, or -1 when left to the
    caller), upper (an upper bound: the target the searches stopped at), best (a packing
    found, placement indices)."""

    count: np.ndarray
    upper: np.ndarray
    best: Packings
