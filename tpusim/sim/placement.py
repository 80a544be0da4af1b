"""The simulator's only door to the planner: place whole slices on free healthy cubes, and swap
a failed cube of an OCS slice for a spare. Called only when a slice must be (re)formed.

Cube ids are C-order indices over `pod.cube_grid`, as in `tpusim.topology.groups.cube_ids`.
"""

from __future__ import annotations

import numpy as np

from tpusim.hardware import Pod


def free_mask(pod: Pod, free: set[int]) -> np.ndarray:
    """Boolean array of shape pod.cube_grid: True where a cube is healthy and unassigned."""
    mask = np.zeros(pod.cubes, dtype=bool)
    if free:
        mask[np.fromiter(free, dtype=np.int64, count=len(free))] = True
    return mask.reshape(pod.cube_grid)


def place_slice(pod: Pod, free: set[int], slice_cubes: tuple[int, ...], *, ocs: bool) -> list[int] | None:
    """Cube ids for one slice of `slice_cubes` (shape in cubes) among `free`, or None.

    With OCS any k free cubes form the slice; the planner chooses which (and their order).
    Without OCS the planner finds a contiguous box (any orientation, wrapping on the pod torus).
    """
    k = int(np.prod(slice_cubes))
    if len(free) < k:
        return None
    from tpusim.planner import place_slices

    found = place_slices(pod, free_mask(pod, free), slice_cubes, 1, ocs=ocs)
    if not found:
        return None
    return [int(c) for c in np.asarray(found[0]).ravel()]


_SWAP_CONNECTS: dict[tuple, int] = {}


def swap_cross_connects(pod: Pod, slice_cubes: tuple[int, ...], cubes: list[int], failed: int,
                        spare: int) -> int | None:
    """Cross-connects changed when `spare` takes `failed`'s position in a slice (removed +
    added), from the planner's `reform_slice`. The planner guarantees every spare changes the
    same number, so it is computed once per (pod, slice shape) and cached: ~8 ms per call would
    otherwise dominate a replication. None when it cannot be computed yet (the spare is one of
    the slice's other failed cubes, repaired)."""
    if spare == failed:  # the repaired cube returns to its own position: nothing changes
        return 0
    key = (pod.name, tuple(slice_cubes))
    if key not in _SWAP_CONNECTS:
        if spare in cubes or cubes.count(failed) != 1:
            return None
        from tpusim.planner import reform_slice

        grid = np.asarray(cubes, dtype=np.int64).reshape(slice_cubes)
        _new, removed, added = reform_slice(pod, grid, failed, [spare])
        _SWAP_CONNECTS[key] = len(removed) + len(added)
    return _SWAP_CONNECTS[key]


def spare_for(free: set[int]) -> int | None:
    """The spare cube that replaces a failed cube of an OCS slice: the lowest free id
    (deterministic). Only the failed cube's position moves (the planner's re-forming rule)."""
    return min(free) if free else None
