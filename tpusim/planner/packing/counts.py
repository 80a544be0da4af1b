"""Exact maximum number of disjoint all-healthy boxes for many failure patterns at once.

Cheapest first: one-cube boxes are counted; the vectorised upper bounds (bounds.bounds_matrix,
capped by `cap` and the caller's `upper`) settle the patterns with at most one box; for boxes
2 cubes long on every axis the slab bounds (slabs) tighten the upper bound and give a lower
bound that settles most of the rest; the remaining patterns go to the exact batch solver
(solve.batch_counts).

Invariants (tested): equal to brute force on small tori and to HiGHS's integer program on the
v4 and Ironwood tori; `cap` clips and `upper` (any valid upper bound) changes no count.
"""

from __future__ import annotations

import numpy as np

from tpusim.planner.packing import slabs
from tpusim.planner.packing.bounds import bounds_matrix
from tpusim.planner.packing.boxes import box_placements, covered_cubes, healthy_boxes
from tpusim.planner.packing.solve import batch_counts


def count_max_boxes(grid: tuple[int, ...], shape: tuple[int, ...], healthy: np.ndarray, *,
                    cap: int | None = None, upper: np.ndarray | None = None) -> np.ndarray:
    """Exact maximum number of disjoint all-healthy boxes for each pattern (rows of `healthy`),
    capped at `cap` if given. Vectorised where the answer is forced, exact search elsewhere.
    `upper`: a known upper bound per pattern (e.g. from tiling_bound), used to prune."""
    pl = box_placements(tuple(grid), tuple(shape))
    healthy = np.asarray(healthy, dtype=bool)
    s, n = healthy.shape
    k = pl.cubes_per_slice
    top = n // k if cap is None else min(n // k, cap)
    if k == 1:
        return np.minimum(healthy.sum(axis=1), top)
    ok = healthy_boxes(pl, healthy)  # patterns x placements
    any_ok = ok.any(axis=1)
    out = any_ok.astype(np.int64)
    if top <= 1:
        return out
    coverable = covered_cubes(pl, ok)
    bound = np.minimum(bounds_matrix(pl.grid, pl.shape, coverable), top)
    if upper is not None:
        bound = np.minimum(bound, np.asarray(upper, dtype=np.int64))
    hard = np.flatnonzero(any_ok & (bound >= 2))
    lower = None
    if hard.size and slabs.applies(pl.grid, pl.shape):
        up, lower = slabs.slab_bounds_matrix(pl.grid, coverable[hard])
        bound[hard] = np.minimum(bound[hard], up)
        done = lower >= bound[hard]  # a packing meets the bound: no search at all
        out[hard[done]] = bound[hard[done]]
        hard, lower = hard[~done], lower[~done]
    if hard.size:
        out[hard] = batch_counts(pl, ok[hard], coverable[hard], bound[hard], lower=lower)
    return out
