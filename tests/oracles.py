"""Scalar reference implementations (test oracles) for the packing engine: each written from
its definition, as plainly as possible, sharing no code with tpusim.planner.packing. Slow by
design: for small tori only.

- `brute_placements`, `brute_max`: every orientation and start of a box; the maximum packing by
  memoised exhaustive search.
- `cycle_max`: the slab bound's cycle DP, by enumeration of x.
- `slab_bound`: the slab upper bound of one pattern, its layer packings by brute_max.
- `joint_bound`: the joint parity bound, by enumeration of every unused-cube set.
"""

from __future__ import annotations

import math
from functools import cache
from itertools import permutations, product

import numpy as np

# Small (cube grid, box) cases: odd and even axes, full axes, flat grids.
CASES = [((2, 2, 2), (1, 1, 2)), ((2, 2, 2), (1, 2, 2)), ((2, 3, 3), (1, 1, 2)),
         ((2, 3, 3), (1, 2, 2)), ((2, 2, 4), (1, 2, 2)), ((2, 2, 4), (2, 2, 2)),
         ((3, 3, 2), (1, 3, 2)), ((4, 4, 1), (2, 2, 1)), ((3, 4, 1), (1, 2, 1))]


def bits_of(ids) -> int:
    """Bit set (bit i = cube i) of cube ids."""
    mask = 0
    for c in ids:
        mask |= 1 << int(c)
    return mask


def brute_placements(grid, shape) -> set[frozenset[int]]:
    """Every orientation and every start (no shortcut for full axes), as sets of cube ids."""
    out = set()
    for perm in set(permutations(shape)):
        if any(e > g for e, g in zip(perm, grid, strict=True)):
            continue
        for start in product(*(range(g) for g in grid)):
            cells = frozenset(
                int(np.ravel_multi_index(
                    tuple((s + o) % g for s, o, g in zip(start, off, grid, strict=True)), grid))
                for off in product(*(range(e) for e in perm)))
            out.add(cells)
    return out


def brute_max(grid, shape, healthy: int) -> int:
    """Maximum number of disjoint boxes inside the cubes of bit set `healthy`."""
    boxes = [bits_of(b) for b in brute_placements(grid, shape)]
    boxes = [b for b in boxes if b & healthy == b]

    @cache
    def best(free: int) -> int:
        if not free:
            return 0
        low = free & -free
        result = best(free ^ low)  # leave the lowest free cube unused
        for b in boxes:
            if b & low and b & free == b:
                result = max(result, 1 + best(free ^ b))
        return result

    return best(healthy)


def cycle_max(a, b) -> int:
    """max sum x_s with 0 <= x_s <= a[s] and x_{s-1} + x_s <= b[s] for every s (indices mod
    n), by enumeration; on a 2-long cycle the two starts are the same boxes (each counted
    once): min(a[0], b[0], b[1])."""
    n = len(a)
    if n == 2:
        return min(a[0], *b)
    return max(sum(x) for x in product(*(range(v + 1) for v in a))
               if all(x[s - 1] + x[s] <= b[s] for s in range(n)))


def slab_bound(grid, free: np.ndarray) -> int:
    """The slab upper bound on 2x...x2 boxes in the free cubes (bool per cube, C order): the
    minimum over axes of cycle_max(A, B), A_s / B_s the maximum packings of 2x...x2 boxes in
    layers s and s+1 together / in layer s alone."""
    cubes = np.asarray(free, dtype=bool).reshape(grid)
    best = None
    for axis in range(len(grid)):
        layers = np.moveaxis(cubes, axis, 0)
        n = layers.shape[0]
        dims = tuple(layers.shape[1:])
        square = (2,) * len(dims)
        b = [brute_max(dims, square, bits_of(np.flatnonzero(layers[s].ravel()))) for s in range(n)]
        a = [brute_max(dims, square, bits_of(np.flatnonzero((layers[s] & layers[(s + 1) % n]).ravel())))
             for s in range(n)]
        got = cycle_max(a, b)
        best = got if best is None else min(best, got)
    return int(best)


def joint_bound(grid, shape, families, cov: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The joint parity bound by its definition, by enumeration (tori of <= 16 cubes): the
    largest t <= upper such that some set U of exactly free - k t free cubes has, in every
    sub-torus of every balanced waste family (`families`: (one-hot, modulus, signs) as
    bounds.waste_families gives them), the same (class A - class B) count as the free cubes."""
    n = math.prod(grid)
    k = math.prod(shape)
    signed = [oh * sign[:, None] for oh, g, sign in families if g == 0]
    if not signed:
        return np.asarray(upper, dtype=np.int64).copy()
    s = np.concatenate(signed, axis=1).astype(np.int64)  # cubes x sub-tori
    subsets = np.arange(1 << n, dtype=np.int64)
    bits = ((subsets[:, None] >> np.arange(n)) & 1).astype(np.int64)  # subsets x cubes
    resid = bits @ s
    size = bits.sum(axis=1)
    out = np.zeros(len(cov), dtype=np.int64)
    for r, row in enumerate(cov):
        free_mask = bits_of(np.flatnonzero(row))
        inside = (subsets & ~free_mask) == 0
        match = inside & np.all(resid == row.astype(np.int64) @ s, axis=1)
        nfree = int(row.sum())
        for t in range(int(upper[r]), 0, -1):
            u = nfree - k * t
            if u >= 0 and np.any(match & (size == u)):
                out[r] = t
                break
    return out
