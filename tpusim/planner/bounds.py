"""Upper bounds on how many disjoint boxes fit, from colorings of the cube torus.

A coloring gives every cube a class. If every placement of the box holds at least m_c cubes of
class c, then any packing has at most floor(free cubes of class c / m_c) boxes. Colorings used:
the trivial one (one class, m = box cubes) and linear forms (sum_i a_i x_i) mod m with m dividing
every pod axis the form uses (so the coloring is well defined on the torus), alone or in pairs.
Parity on an even torus, for example, bounds dominoes by min(#even, #odd) free cubes.

Invariants (tested): every bound is >= the exact maximum packing on random patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np

from tpusim.planner.boxes import Placements, box_placements, mask_of


@dataclass(frozen=True)
class Coloring:
    """classes: bit mask of the cubes of each class; need: min cubes of that class per box."""

    classes: tuple[int, ...]
    need: tuple[int, ...]
    onehot: np.ndarray  # cubes x classes (float32), for vectorised counts

    def bound(self, free: int) -> int:
        return min((free & m).bit_count() // n for m, n in zip(self.classes, self.need, strict=True))


def _linear_forms(grid: tuple[int, ...]) -> list[np.ndarray]:
    coords = np.indices(grid).reshape(len(grid), -1)
    forms: list[tuple[np.ndarray, int]] = []
    for m in (2, 3, 4):
        for a in product(range(m), repeat=len(grid)):
            if not any(a) or any(ai and g % m for ai, g in zip(a, grid, strict=True)):
                continue
            forms.append((np.tensordot(np.array(a), coords, axes=1) % m, m))
    out = [f for f, _ in forms]
    parity = [f for f, m in forms if m == 2]
    for i, f1 in enumerate(parity):
        for f2 in parity[i + 1:]:
            out.append(f1 * 2 + f2)
    return out


@lru_cache(maxsize=256)
def colorings(grid: tuple[int, ...], shape: tuple[int, ...]) -> tuple[Coloring, ...]:
    """Colorings that bound packings of a box on a torus (cached in memory), trivial first.
    A coloring is kept when at least one class has m_c > 0; duplicates are dropped."""
    pl: Placements = box_placements(grid, shape)
    n = pl.n_cubes
    k = pl.cubes_per_slice
    everything = (1 << n) - 1
    trivial = Coloring((everything,), (k,), np.ones((n, 1), dtype=np.float32))
    out = [trivial]
    seen = set()
    for cls in _linear_forms(grid):
        labels = np.unique(cls)
        onehot = (cls[:, None] == labels[None, :])
        per_box = pl.matrix.astype(np.int32) @ onehot.astype(np.int32)
        need = per_box.min(axis=0)
        keep = need > 0
        if not keep.any():
            continue
        masks = tuple(mask_of(np.flatnonzero(onehot[:, j])) for j in np.flatnonzero(keep))
        need_t = tuple(int(x) for x in need[keep])
        key = (masks, need_t)
        if key in seen:
            continue
        seen.add(key)
        out.append(Coloring(masks, need_t, onehot[:, keep].astype(np.float32)))
    return tuple(out)


def bounds_matrix(grid: tuple[int, ...], shape: tuple[int, ...], coverable: np.ndarray) -> np.ndarray:
    """Vectorised upper bound for many patterns: `coverable` is (patterns x cubes) bool; returns
    the minimum over colorings of floor(class count / need), one int per pattern."""
    cov = coverable.astype(np.float32)
    best = None
    for col in colorings(grid, shape):
        counts = cov @ col.onehot
        b = np.floor(counts / np.array(col.need, dtype=np.float32) + 1e-4).min(axis=1)
        best = b if best is None else np.minimum(best, b)
    return best.astype(np.int64)
