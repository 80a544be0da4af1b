"""Concrete slices: which cubes form each slice, the OCS cross-connects, and re-forming a slice
around a failed cube.

Cube ids are np.ravel_multi_index over pod.cube_grid (tpusim.topology.groups.cube_ids order).
A slice is an int array of cube ids with shape slice_cube_shape, in slice axis order: the cube
at index (i, j, k) is the i-th along the slice's first axis, and so on.

Invariants (tested): slices returned are disjoint, of the requested shape, use only healthy
cubes, and (static) are contiguous boxes on the pod's cube torus; None exactly when brute force
finds no way; reform_slice changes only the failed cube's position, and the cross-connects it
changes are exactly those that touch the failed cube or the spare.
"""

from __future__ import annotations

import math

import numpy as np

from tpusim.errors import TpusimError
from tpusim.planner.boxes import box_placements, check_cube_shape, healthy_mask
from tpusim.planner.packing import max_packing
from tpusim.topology.ocs import CrossConnect, changed_connects, slice_cross_connects


def _grid_of(pod) -> tuple[int, ...]:
    grid = pod.cube_grid
    if grid is None:
        raise TpusimError(
            f"pod {pod.name} is not built of cubes; the planner needs a cube pod "
            f"(tpu-v4-4096, tpu-v5p-8960, tpu-v7-9216)"
        )
    return grid


def _check_healthy(pod, healthy: np.ndarray) -> np.ndarray:
    grid = _grid_of(pod)
    arr = np.asarray(healthy, dtype=bool)
    if arr.shape != grid and arr.shape != (math.prod(grid),):
        raise TpusimError(
            f"healthy must be a bool array of shape {grid} (the pod's cube grid), got {arr.shape}"
        )
    return arr.reshape(grid)


def place_slices(pod, healthy: np.ndarray, slice_cube_shape: tuple[int, ...], n_slices: int,
                 *, ocs: bool) -> list[np.ndarray] | None:
    """`n_slices` disjoint slices of `slice_cube_shape` cubes on healthy cubes, or None.

    ocs=True: any healthy cubes in any order (lowest ids first, C order inside the slice).
    ocs=False: contiguous boxes on the pod's cube torus, any orientation and position, found by
    the exact packing search (so None means no packing exists).
    """
    grid = _grid_of(pod)
    shape = check_cube_shape(grid, tuple(slice_cube_shape))
    if isinstance(n_slices, bool) or not isinstance(n_slices, int | np.integer) or n_slices < 0:
        raise TpusimError(f"n_slices must be a whole number >= 0, got {n_slices!r}")
    h = _check_healthy(pod, healthy)
    k = math.prod(shape)
    if n_slices == 0:
        return []
    if ocs:
        ids = np.flatnonzero(h.ravel())
        if ids.size < k * n_slices:
            return None
        return [ids[i * k:(i + 1) * k].reshape(shape).copy() for i in range(n_slices)]
    pl = box_placements(grid, shape)
    chosen = max_packing(pl, healthy_mask(h), need=int(n_slices))
    if len(chosen) < n_slices:
        return None
    return [pl.grids[i].copy() for i in chosen[:n_slices]]


def cross_connects(pod, cube_grid: np.ndarray, *, twisted: bool = False) -> list[CrossConnect]:
    """The OCS cross-connects that join the cubes of one slice into a torus."""
    if not pod.ocs:
        raise TpusimError(f"pod {pod.name} has no optical circuit switches")
    return slice_cross_connects(np.asarray(cube_grid), pod.chip.cube_shape, pod.ocs_ports,
                                pod.ocs_spare_ports, twisted=twisted)


def reform_slice(pod, cube_grid: np.ndarray, failed_cube: int, healthy_spares: list[int],
                 *, twisted: bool = False) -> tuple[np.ndarray, list[CrossConnect], list[CrossConnect]]:
    """Re-form a running slice after `failed_cube` fails: only its position moves, to a spare.

    Every spare changes the same number of cross-connects (those touching the failed position),
    so the first spare in `healthy_spares` (the caller's preference) is used. Returns
    (new_grid, removed_cross_connects, added_cross_connects). Raises TpusimError when the failed
    cube is not in the slice or no spare outside the slice is given.
    """
    grid = np.asarray(cube_grid)
    where = np.argwhere(grid == int(failed_cube))
    if where.size == 0:
        raise TpusimError(f"cube {failed_cube} is not part of this slice; nothing to re-form")
    in_slice = set(int(c) for c in grid.ravel())
    spares = [int(s) for s in healthy_spares if int(s) not in in_slice and int(s) != int(failed_cube)]
    if not spares:
        raise TpusimError(
            f"no healthy spare cube outside the slice to replace cube {failed_cube}; "
            f"free a cube or repair one first"
        )
    new = grid.copy()
    new[tuple(where[0])] = spares[0]
    before = cross_connects(pod, grid, twisted=twisted)
    after = cross_connects(pod, new, twisted=twisted)
    removed, added = changed_connects(before, after)
    return new, removed, added
