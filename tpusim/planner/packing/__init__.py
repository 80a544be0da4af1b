"""Exact maximum packing of disjoint boxes of healthy cubes on a cube torus (the static model).

The planner's one door to the packing engine:
- `count_max_boxes(grid, shape, healthy)`: per failure pattern (rows of `healthy`), the exact
  maximum number of disjoint all-healthy boxes (tpusim.planner.static averages these);
- `max_packing(grid, shape, healthy, need=)`: one concrete maximum packing (at most `need`
  boxes) as cube-id arrays in slice axis order (tpusim.planner.assign places slices with it);
- `check_cube_shape(grid, shape)`: the box checked against the grid (any orientation);
- `compiled()` and `clear_caches()` for benchmarks and tools.

Inside, each module uses only those listed after it:
- counts.py: bounds, then slab bounds, then the exact batch solver, per pattern;
- slabs.py: the slab upper and lower bounds for 2x...x2 boxes (layer packings, cycle DP);
- solve.py: the strategy, written once over either kernel: batch counts, the finisher (LP,
  LP-guided search, integer program), one pattern's packing; node budgets per kernel;
- native.py: the compiled kernel (C sources `_*.c`, types in `_packing.h`; each entry point
  takes one struct, checked field by field against its ctypes twin when the library loads);
- twin.py: the pure-Python twin of the compiled kernel;
- problem.py: one box shape on one torus as the bit sets both kernels read;
- greedy.py (tiling classes), bounds.py (coloring and waste bounds), boxes.py (placements),
  bits.py (bit sets and uint64 words).

The Python twin stays, by decision: it is the tested reference of the C code (its searches
return exactly the compiled packings, tests/test_planner_twin.py) and the kernel wherever the
compiled one cannot run: no C compiler, TPUSIM_NO_NATIVE=1, or a problem beyond the compiled
fixed-size bit sets (more than 256 cubes or 1024 placements). Same answers, only slower; the
test suite runs the engine on both.

Invariants (tested): counts equal brute force on small tori and HiGHS's integer program on
the v4 and Ironwood tori; max_packing returns disjoint healthy boxes, as many as the count (or
`need`), the same boxes on either kernel; nothing depends on threads, chunking or budgets.
"""

from __future__ import annotations

import numpy as np

from tpusim.planner.packing import bounds, greedy, native, problem, solve, twin
from tpusim.planner.packing.bits import mask_of_bools
from tpusim.planner.packing.boxes import box_placements, check_cube_shape
from tpusim.planner.packing.counts import count_max_boxes

__all__ = ["check_cube_shape", "clear_caches", "compiled", "count_max_boxes", "max_packing"]


def max_packing(grid: tuple[int, ...], shape: tuple[int, ...], healthy: np.ndarray, *,
                need: int | None = None) -> list[np.ndarray]:
    """A maximum set of disjoint all-healthy boxes (at most `need` if given: the search stops
    as soon as `need` are found), each as its cube ids in slice axis order (shape `shape`).
    `healthy`: bool per cube (any array shape, C order = cube ids)."""
    pl = box_placements(tuple(grid), tuple(shape))
    return [pl.grids[i].copy() for i in solve.best_packing(pl, mask_of_bools(healthy), need=need)]


def compiled() -> bool:
    """True when the compiled kernel can be built and loaded here (else the twin runs)."""
    return native.available()


def clear_caches() -> None:
    """Empty the engine's in-memory caches (placements, bounds, problems, kernels: what a new
    process starts without); the compiled library stays loaded. For benchmarks."""
    for cached in (box_placements, bounds.colorings, bounds.waste_families, bounds._stacked,
                   greedy.tiling_classes, greedy.tiling_orders, problem.problem,
                   problem.slab_windows, native.native_boxes, twin.twin_boxes, solve.kernel):
        cached.cache_clear()
