"""Exact maximum number of disjoint all-healthy boxes for many failure patterns at once.

Cheapest first: vectorised upper bounds (tpusim.planner.packing.bounds) settle the patterns
with at most one box; for boxes 2 cubes long on every axis the slab bounds (slabs) tighten
the bound and give a lower bound that settles many more; the rest go to the exact batch
solver (solve.batch_counts).
"""

from __future__ import annotations

import numpy as np

from tpusim.planner.packing import slabs
from tpusim.planner.packing.bounds import bounds_matrix
from tpusim.planner.packing.boxes import box_placements, covered_cubes, healthy_boxes
from tpusim.planner.packing.greedy import greedy_counts
from tpusim.planner.packing.native import native_boxes
from tpusim.planner.packing.solve import batch_counts, best_packing


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
    nb = native_boxes(pl.grid, pl.shape) if hard.size else None
    if nb is not None:
        lower = None
        if slabs.applies(pl.grid, pl.shape):
            up, lower = slabs.slab_bounds_matrix(pl.grid, coverable[hard])
            bound[hard] = np.minimum(bound[hard], up)
            done = lower >= bound[hard]  # a packing meets the bound: no search at all
            out[hard[done]] = bound[hard[done]]
            hard, lower = hard[~done], lower[~done]
        if hard.size:
            out[hard] = batch_counts(pl, nb, ok[hard], coverable[hard], bound[hard], lower=lower)
        return out
    if hard.size:
        greedy = np.minimum(greedy_counts(pl, ok[hard]), bound[hard])
        if slabs.applies(pl.grid, pl.shape):
            bound[hard] = np.minimum(bound[hard], slabs.slab_bound_matrix(pl.grid, coverable[hard]))
        done = greedy >= bound[hard]
        out[hard[done]] = greedy[done]
        hard = hard[~done]
    packed = np.packbits(healthy, axis=1, bitorder="little")
    memo: dict[int, int] = {}
    for row in hard.tolist():
        key = int.from_bytes(packed[row].tobytes(), "little")
        got = memo.get(key)
        if got is None:
            cands = np.flatnonzero(ok[row]).tolist()
            got = len(best_packing(pl, key, need=int(bound[row]), candidates=cands))
            memo[key] = got
        out[row] = got
    return out
