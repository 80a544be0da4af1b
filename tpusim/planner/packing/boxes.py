"""Where a box of cubes can sit on the pod's cube torus (static model).

A placement is one position and orientation of a slice's box of cubes (`slice_cube_shape`, in
cubes) on the pod's cube grid, which wraps around on every axis like the pod's own torus. Slice
axis j lies along pod axis `axes[j]`; on a pod axis the box fills, every start gives the same
cubes, so only start 0 is kept. Cube ids are np.ravel_multi_index over the cube grid (the same
numbering as tpusim.topology.groups.cube_ids).

Invariants (tested): every placement has prod(slice_cube_shape) distinct cubes; no two
placements cover the same set of cubes; the count matches a brute-force enumeration over all
orientations and starts on small grids; `grids[i]` has shape slice_cube_shape and holds exactly
the cubes of `masks[i]`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product

import numpy as np

from tpusim.errors import TpusimError
from tpusim.planner.packing.bits import mask_of


@dataclass(frozen=True)
class Placements:
    """Every distinct placement of a box on a cube torus.

    masks: one Python int bit mask of cubes per placement (bit i = cube id i);
    matrix: bool array (placements x cubes); grids: cube ids in slice axis order;
    """

    grid: tuple[int, ...]
    shape: tuple[int, ...]
    masks: tuple[int, ...]
    matrix: np.ndarray
    grids: tuple[np.ndarray, ...]
    cells: tuple[tuple[int, ...], ...]  # cube ids of each placement (for pure-Python loops)

    @property
    def cubes_per_slice(self) -> int:
        return math.prod(self.shape)

    @property
    def n_cubes(self) -> int:
        return math.prod(self.grid)

    def __len__(self) -> int:
        return len(self.masks)




def check_cube_shape(grid: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The slice's box in cubes, checked against the pod's cube grid (any orientation)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != len(grid) or any(s < 1 for s in shape):
        raise TpusimError(
            f"slice of {shape} cubes must have {len(grid)} positive sides like the pod's cube grid {grid}"
        )
    if any(s > g for s, g in zip(sorted(shape), sorted(grid), strict=True)):
        raise TpusimError(
            f"a box of {shape} cubes does not fit in the pod's cube grid {grid} in any orientation"
        )
    return shape


@lru_cache(maxsize=256)
def box_placements(grid: tuple[int, ...], shape: tuple[int, ...]) -> Placements:
    """All distinct placements of a `shape` box of cubes on a `grid` torus of cubes (cached in
    memory; pure function of its arguments)."""
    grid = tuple(int(g) for g in grid)
    shape = check_cube_shape(grid, shape)
    dims = len(grid)
    n = math.prod(grid)
    seen: dict[int, int] = {}
    grids: list[np.ndarray] = []
    masks: list[int] = []
    for axes in sorted(set(permutations(range(dims)))):
        extent = [0] * dims
        for j, a in enumerate(axes):
            extent[a] = shape[j]
        if any(e > g for e, g in zip(extent, grid, strict=True)):
            continue
        starts = [range(g) if e < g else range(1) for e, g in zip(extent, grid, strict=True)]
        # offsets along each pod axis for slice index i_j on axis axes[j]
        local = np.indices(shape).reshape(dims, -1)
        for start in product(*starts):
            coords = [None] * dims
            for j, a in enumerate(axes):
                coords[a] = (start[a] + local[j]) % grid[a]
            ids = np.ravel_multi_index(tuple(coords), grid).reshape(shape)
            mask = mask_of(ids.ravel().tolist())
            if mask in seen:
                continue
            seen[mask] = len(masks)
            masks.append(mask)
            grids.append(ids)
    matrix = np.zeros((len(masks), n), dtype=bool)
    for i, g in enumerate(grids):
        matrix[i, g.ravel()] = True
    for g in grids:
        g.setflags(write=False)
    matrix.setflags(write=False)
    cells = tuple(tuple(int(c) for c in g.ravel()) for g in grids)
    return Placements(grid=grid, shape=shape, masks=tuple(masks), matrix=matrix,
                      grids=tuple(grids), cells=cells)


def healthy_boxes(pl: Placements, healthy: np.ndarray) -> np.ndarray:
    """(patterns x placements) bool: the placements whose cubes are all healthy in each row of
    `healthy` (patterns x cubes bool); one matrix product for all rows."""
    failed = (~np.asarray(healthy, dtype=bool)).astype(np.float32)
    return (failed @ pl.matrix.T.astype(np.float32)) < 0.5


def covered_cubes(pl: Placements, ok: np.ndarray) -> np.ndarray:
    """(patterns x cubes) bool: the cubes some placement marked in `ok` (patterns x
    placements, e.g. healthy_boxes) covers."""
    return (np.asarray(ok).astype(np.float32) @ pl.matrix.astype(np.float32)) > 0.5
