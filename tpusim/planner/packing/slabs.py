"""Slab bounds for boxes that are 2 cubes long along every axis (2x2x2 cube boxes, 2x2 squares).

Upper bound. Such a box lies in exactly two consecutive layers along any axis a: call x_s the
number of boxes of a packing that start at layer s (they lie in layers s and s+1, wrapping).
Then
- x_s <= A_s, the maximum packing of 2x2 squares (the boxes' cross-section) in the cubes free
  in both layers s and s+1;
- x_{s-1} + x_s <= B_s, the maximum packing of 2x2 squares in layer s alone (the boxes
  starting at s-1 and at s all cross layer s, disjointly, each as a 2x2 square).
So any packing has at most max { sum_s x_s : those constraints, x integer >= 0 }, a small
integer problem on a cycle (dynamic programming: _cycle.c, or twin.cycle_max); the bound is
the minimum over the axes. On a 2-long axis the two starts give the same box; counting it at
one start keeps the bound valid.

Lower bound. Disjoint slabs of two layers along one axis (starts p, p+2, ...) each hold A_s
boxes, so their sum is a packing that exists; the best over axes and p.

The layer packings are exact (solve.batch_counts on the layers, each distinct layer once; a
ring's layers are dominoes on its free runs). On the Ironwood 4x6x6 cube torus the upper bound
closes most of the gap (about 2-3 boxes at 99.5%) that the coloring and waste bounds leave for
2x2x2 boxes, and the lower bound meets it on about 72% of patterns, so those need no search.

Invariants (tested): upper >= the maximum packing >= lower (brute force and integer program on
small tori, v4 and Ironwood); the upper bound equals its scalar definition.
"""

from __future__ import annotations

import numpy as np

from tpusim.planner.packing import native, twin
from tpusim.planner.packing.bits import mask_of_bools, unique_rows
from tpusim.planner.packing.bounds import bounds_matrix
from tpusim.planner.packing.boxes import box_placements, covered_cubes, healthy_boxes
from tpusim.planner.packing.solve import batch_counts


def applies(grid: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """True when every extent of the box is 2 and every pod axis is at least 2 long."""
    return len(grid) >= 2 and all(e == 2 for e in shape) and all(n >= 2 for n in grid)


def slab_bounds_matrix(grid: tuple[int, ...], free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) bound per row of `free` (patterns x cubes bool): see the module doc."""
    free = np.asarray(free, dtype=bool)
    rows = len(free)
    cubes = free.reshape((rows,) + tuple(grid))
    best = None
    lower = np.zeros(rows, dtype=np.int64)
    for axis in range(len(grid)):
        layers = np.moveaxis(cubes, axis + 1, 1)
        n = layers.shape[1]
        dims = tuple(layers.shape[2:])
        both = layers & np.roll(layers, -1, axis=1)
        b = layer_packings(dims, layers.reshape(rows * n, -1)).reshape(rows, n)
        a = layer_packings(dims, both.reshape(rows * n, -1)).reshape(rows, n)
        got = native.cycle_max(a, b)
        if got is None:
            got = twin.cycle_max(a, b)
        best = got if best is None else np.minimum(best, got)
        for p in range(n):
            lower = np.maximum(lower, a[:, [(p + 2 * i) % n for i in range(n // 2)]].sum(axis=1))
    return best.astype(np.int64), lower


def layer_packings(dims: tuple[int, ...], rows: np.ndarray) -> np.ndarray:
    """Exact maximum packing of 2x...x2 boxes for each row of `rows` (bool, layers x cubes of
    the torus `dims`), each distinct row once."""
    rows = np.asarray(rows, dtype=bool)
    if len(dims) == 1:
        return np.array([ring_dominoes(dims[0], mask_of_bools(r)) for r in rows], dtype=np.int64)
    shape = (2,) * len(dims)
    pl = box_placements(dims, shape)
    first, inverse = unique_rows(rows)
    ok = healthy_boxes(pl, rows[first])
    cov = covered_cubes(pl, ok)
    counts = np.zeros(len(first), dtype=np.int64)
    todo = np.flatnonzero(ok.any(axis=1))
    if todo.size:
        upper = bounds_matrix(dims, shape, cov[todo])
        counts[todo] = batch_counts(pl, ok[todo], cov[todo], upper)
    return counts[inverse]


def ring_dominoes(n: int, mask: int) -> int:
    """Maximum number of disjoint dominoes on the free cubes `mask` of a ring of n cubes."""
    full = (1 << n) - 1
    if mask == full:
        return n // 2
    # start the scan just after a failed cube: then no run of free cubes wraps around
    gap = next(i for i in range(n) if not mask >> i & 1)
    total = run = 0
    for j in range(1, n + 1):
        if mask >> ((gap + j) % n) & 1:
            run += 1
        else:
            total += run // 2
            run = 0
    return total
