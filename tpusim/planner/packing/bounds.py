"""Upper bounds on how many disjoint boxes fit, from colorings of the cube torus.

A coloring gives every cube a class. If every placement of the box holds at least m_c cubes of
class c, then any packing has at most floor(free cubes of class c / m_c) boxes. Colorings used:
the trivial one (one class, m = box cubes) and linear forms (sum_i a_i x_i) mod m with m dividing
every pod axis the form uses (so the coloring is well defined on the torus), alone or in pairs.
Parity on an even torus, for example, bounds dominoes by min(#even, #odd) free cubes.

Waste bounds (`waste_families`): cut the torus into parallel sub-tori (lines or planes along a
set of axes S: the cubes sharing their other coordinates). If every box meets every sub-torus in
a multiple of g cubes, the cubes left unused in a sub-torus are at least (its free cubes mod g);
if every box meets every sub-torus in as many cubes of one parity class as of the other, at least
|difference of its free cubes of the two classes| are left unused. Summed over the sub-tori (they
partition the pod) this is a lower bound W on unused cubes, so a packing has at most
floor((free - W) / box cubes) boxes. For 1x2x2 boxes every plane meets a box in 2 or 4 cubes,
half of each parity: three failures in three different planes already cost a box.

Invariants (tested): every bound is >= the exact maximum packing on random patterns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, product

import numpy as np

from tpusim.planner.packing.bits import mask_of
from tpusim.planner.packing.boxes import Placements, box_placements


@dataclass(frozen=True)
class Coloring:
    """classes: bit mask of the cubes of each class; need: min cubes of that class per box."""

    classes: tuple[int, ...]
    need: tuple[int, ...]
    onehot: np.ndarray  # cubes x classes (float32), for vectorised counts


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


@lru_cache(maxsize=256)
def waste_families(grid: tuple[int, ...], shape: tuple[int, ...],
                   prune: bool = True) -> tuple[tuple[np.ndarray, int, np.ndarray | None], ...]:
    """Sub-torus families that force unused cubes (see module doc), cached: each is
    (cubes x sub-tori float32 one-hot, modulus g or 0, +-1 parity signs per cube or None).
    prune: drop the families another one dominates (`_dominates`; the largest forced waste,
    hence every bound, is unchanged, and each search node checks far fewer sub-tori)."""
    pl: Placements = box_placements(grid, shape)
    dims = len(grid)
    coords = np.indices(grid).reshape(dims, -1)
    boxes = pl.matrix.astype(np.float32)
    parities = [np.where(f == 0, 1.0, -1.0).astype(np.float32)
                for f in _linear_forms(grid) if f.max() == 1]
    found = []  # (axes, onehot, g, parity index or None, signs or None)
    for r in range(1, dims + 1):
        for axes in combinations(range(dims), r):
            other = [a for a in range(dims) if a not in axes]
            if other:
                label = np.ravel_multi_index(tuple(coords[a] for a in other),
                                             tuple(grid[a] for a in other))
            else:
                label = np.zeros(coords.shape[1], dtype=np.int64)
            onehot = (label[:, None] == np.arange(label.max() + 1)[None, :]).astype(np.float32)
            meets = np.rint(boxes @ onehot).astype(np.int64)
            g = 0
            for v in np.unique(meets).tolist():
                g = math.gcd(g, int(v))
            if g > 1 and r < dims:
                found.append((set(axes), onehot, g, None, None))
            for q, sign in enumerate(parities):
                if not np.any(np.rint(boxes @ (onehot * sign[:, None])).astype(np.int64)):
                    found.append((set(axes), onehot, 0, q, sign))
    keep = [not prune or not any(_dominates(f1, f2) and (i1 < i2 or not _dominates(f2, f1))
                    for i1, f1 in enumerate(found) if i1 != i2)
            for i2, f2 in enumerate(found)]
    return tuple((onehot, g, None if q is None else parities[q])
                 for (_, onehot, g, q, _), k in zip(found, keep, strict=True) if k)


def _dominates(f1: tuple, f2: tuple) -> bool:
    """True when family f1 = (axes, onehot, g, parity) forces at least as many unused cubes as
    f2 on every set of free cubes, so f2 can be dropped without changing any bound. Needs f1's
    sub-tori to split f2's (axes1 a subset of axes2); then, summing over f1's sub-tori inside one
    of f2's: both balanced with the same parity up to a sign per f1 sub-torus (|a + b| <= |a| + |b|);
    f1 balanced and f2 counting residues mod 2 (|a - b| >= (a + b) mod 2); both counting residues
    with g2 dividing g1 ((a + b) mod g2 <= a mod g1 + b mod g1)."""
    axes1, oh1, g1, q1, _ = f1
    axes2, _, g2, q2, _ = f2
    if not axes1 <= axes2:
        return False
    if q1 is not None and q2 is not None:
        s1, s2 = f1[4], f2[4]
        prod = (s1 * s2)[:, None] * oh1  # cubes x f1 sub-tori: +-1 inside, 0 outside
        size = oh1.sum(axis=0)
        return bool(np.all(np.abs(prod.sum(axis=0)) == size))
    if q1 is not None:
        return g2 == 2
    if q2 is not None:
        return False
    return g1 % g2 == 0


@lru_cache(maxsize=256)
def _stacked(grid: tuple[int, ...], shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """All colorings and waste families as single matrices (one matrix product per call):
    class one-hots, their needs; signed sub-torus one-hots, their moduli (0: balanced) and the
    family each sub-torus belongs to (sorted, for np.maximum.reduceat-free segment sums)."""
    cols = colorings(grid, shape)
    onehot = np.concatenate([c.onehot for c in cols], axis=1).astype(np.float32)
    need = np.concatenate([np.array(c.need, dtype=np.float32) for c in cols])
    fams = waste_families(grid, shape)
    if fams:
        sub = np.concatenate([oh if sign is None else oh * sign[:, None] for oh, _, sign in fams],
                             axis=1).astype(np.float32)
        mod = np.concatenate([np.full(oh.shape[1], g, dtype=np.int64) for oh, g, _ in fams])
        starts = np.cumsum([0] + [oh.shape[1] for oh, _, _ in fams[:-1]])
    else:
        sub = np.zeros((onehot.shape[0], 0), dtype=np.float32)
        mod = np.zeros(0, dtype=np.int64)
        starts = np.zeros(0, dtype=np.int64)
    return onehot, need, sub, mod, starts


def waste_bound_matrix(grid: tuple[int, ...], shape: tuple[int, ...], coverable: np.ndarray) -> np.ndarray:
    """Vectorised waste bound floor((free - W) / box cubes) for many patterns (rows of the
    patterns x cubes bool `coverable`), W the largest forced-unused count over the families."""
    cov = coverable.astype(np.float32)
    k = box_placements(grid, shape).cubes_per_slice
    free = np.rint(cov.sum(axis=1)).astype(np.int64)
    _, _, sub, mod, starts = _stacked(grid, shape)
    if not len(starts):
        return free // k
    vals = np.rint(cov @ sub).astype(np.int64)
    per_sub = np.where(mod > 0, vals % np.maximum(mod, 1), np.abs(vals))
    waste = np.add.reduceat(per_sub, starts, axis=1).max(axis=1)
    return (free - waste) // k


def bounds_matrix(grid: tuple[int, ...], shape: tuple[int, ...], coverable: np.ndarray) -> np.ndarray:
    """Vectorised upper bound for many patterns: `coverable` is (patterns x cubes) bool; returns
    the minimum over colorings of floor(class count / need) and the waste bound, one int per
    pattern."""
    cov = coverable.astype(np.float32)
    onehot, need, _, _, _ = _stacked(grid, shape)
    best = np.floor((cov @ onehot) / need[None, :] + 1e-4).min(axis=1).astype(np.int64)
    return np.minimum(best, waste_bound_matrix(grid, shape, coverable))
