"""Exact maximum packing of disjoint boxes of healthy cubes on a cube torus (the static model).

The planner's one door to the packing engine:
- `count_max_boxes(grid, shape, healthy)`: per failure pattern (rows of `healthy`), the exact
  maximum number of disjoint all-healthy boxes (tpusim.planner.static averages these);
- `max_packing(grid, shape, healthy, need=)`: one concrete maximum packing (at most `need`
  boxes) as cube-id arrays in slice axis order (tpusim.planner.assign places slices with it);
- `check_cube_shape(grid, shape)`: the box checked against the grid (any orientation).
"""

from __future__ import annotations

import numpy as np

from tpusim.planner.packing.bits import mask_of_bools
from tpusim.planner.packing.boxes import box_placements, check_cube_shape
from tpusim.planner.packing.counts import count_max_boxes
from tpusim.planner.packing.solve import best_packing

__all__ = ["check_cube_shape", "count_max_boxes", "max_packing"]


def max_packing(grid: tuple[int, ...], shape: tuple[int, ...], healthy: np.ndarray, *,
                need: int | None = None) -> list[np.ndarray]:
    """A maximum set of disjoint all-healthy boxes (at most `need` if given: the search stops
    as soon as `need` are found), each as its cube ids in slice axis order (shape `shape`).
    `healthy`: bool per cube (any array shape, C order = cube ids)."""
    pl = box_placements(tuple(grid), tuple(shape))
    return [pl.grids[i].copy() for i in best_packing(pl, mask_of_bools(healthy), need=need)]
