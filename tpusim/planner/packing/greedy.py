"""Vectorised greedy packings: a lower bound for many failure patterns at once.

Each order lists first the boxes of one perfect tiling of the torus (one orientation, starts
congruent modulo the box's extent on every axis), then every other placement. Greedy packing in
that order keeps the tiling's healthy boxes and fills gaps with other boxes. A pattern whose
greedy count meets the upper bound (tpusim.planner.packing.bounds) is solved without any search.

Invariants (tested through tpusim.planner.static): the greedy boxes are disjoint and healthy,
so the count never exceeds the exact maximum.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tpusim.planner.packing.bits import n_words, word_array
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


def greedy_counts(pl: Placements, ok: np.ndarray) -> np.ndarray:
    """Best greedy packing size over the tiling orders, for each pattern (rows of `ok`, the
    patterns x placements matrix of healthy placements).

    Vectorised over patterns: one contiguous uint64 array of used cubes per 64-cube word, and
    for each placement only the words its cubes touch are tested and updated."""
    words = word_array(pl.masks, n_words(pl.n_cubes))
    s = ok.shape[0]
    ok_t = np.ascontiguousarray(np.asarray(ok, dtype=bool).T)  # placements x patterns
    touched = [[(w, np.uint64(words[j, w])) for w in np.flatnonzero(words[j]).tolist()]
               for j in range(len(words))]
    best = np.zeros(s, dtype=np.int64)
    zero = np.uint64(0)
    fits = np.empty(s, dtype=bool)
    clear = np.empty(s, dtype=bool)
    scratch = np.empty(s, dtype=np.uint64)
    for order in tiling_orders(pl.grid, pl.shape):
        used = [np.zeros(s, dtype=np.uint64) for _ in range(words.shape[1])]
        count = np.zeros(s, dtype=np.int64)
        for j in order.tolist():
            np.copyto(fits, ok_t[j])
            for w, m in touched[j]:
                np.bitwise_and(used[w], m, out=scratch)
                np.equal(scratch, zero, out=clear)
                fits &= clear
            for w, m in touched[j]:
                np.bitwise_or(used[w], m, out=used[w], where=fits)
            count += fits
        np.maximum(best, count, out=best)
    return best
