"""Perfect tilings of the torus, the starts of every greedy packing.

A tiling class is one orientation of the box with starts congruent modulo its extent on every
axis: disjoint translates, a perfect tiling when the extents divide the grid. Each greedy order
lists one class first, then every other placement; greedy packing in that order keeps the
class's healthy boxes and fills gaps with other boxes (the batch solvers: _batch.c, and
twin.greedy_counts vectorised over patterns). `tiling_greedy` is the start of one pattern's
local search (solve.best_packing).

Invariants (tested through the solvers): the greedy boxes are disjoint and healthy, so a greedy
count never exceeds the exact maximum.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tpusim.planner.packing.boxes import Placements, box_placements


@lru_cache(maxsize=256)
def tiling_classes(grid: tuple[int, ...], shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Placement indices grouped by (extent per pod axis, start modulo extent): each group is
    a set of disjoint translates (a perfect tiling when the extents divide the grid)."""
    pl = box_placements(grid, shape)
    classes: dict[tuple, list[int]] = {}
    for i, g in enumerate(pl.grids):
        coords = np.array(np.unravel_index(g.ravel(), grid))
        extent = tuple(len(set(c.tolist())) for c in coords)
        corner = np.unravel_index(int(g.ravel()[0]), grid)
        residue = tuple(int(c) % e if e < n else 0 for c, e, n in zip(corner, extent, grid, strict=True))
        classes.setdefault((extent, residue), []).append(i)
    return tuple(tuple(v) for v in classes.values())


@lru_cache(maxsize=256)
def tiling_orders(grid: tuple[int, ...], shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Placement orders, one per tiling class: the class first, then the rest (cached)."""
    pl = box_placements(grid, shape)
    everyone = np.arange(len(pl.masks))
    orders = []
    for members in tiling_classes(grid, shape):
        first = np.array(members)
        rest = np.setdiff1d(everyone, first, assume_unique=True)
        orders.append(np.concatenate([first, rest]))
    return tuple(orders)


def tiling_greedy(pl: Placements, candidates: list[int]) -> list[int]:
    """A packing of one pattern (placement indices; `candidates` the healthy placements): the
    disjoint healthy boxes of the tiling class that keeps most of them (the first such class),
    then every other healthy box that fits, in index order."""
    healthy = set(candidates)
    masks = pl.masks
    best: list[int] = []
    used = 0
    for members in tiling_classes(pl.grid, pl.shape):
        kept: list[int] = []
        taken = 0
        for i in members:  # a class is disjoint only when the extents divide the pod axes
            if i in healthy and not masks[i] & taken:
                kept.append(i)
                taken |= masks[i]
        if len(kept) > len(best):
            best, used = kept, taken
    for i in candidates:
        if not masks[i] & used:
            best.append(i)
            used |= masks[i]
    return best
