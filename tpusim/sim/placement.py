"""Where slices go: OCS slices take the lowest free cubes of one OCS group (an OCS joins only
the cubes of its group), and a failed cube's spare comes from the same group; static slices are
contiguous boxes found by the planner (the simulator's only door to it). Called only when a
slice must be (re)formed.

Cube ids are C-order indices over `pod.cube_grid`, as in `tpusim.topology.groups.cube_ids`.
"""

from __future__ import annotations

import numpy as np

from tpusim.hardware import Pod
from tpusim.sim.freecubes import FreeCubes


def group_size(pod: Pod, n_usable: int, *, ocs: bool) -> int:
    """Cubes per OCS group (cube c is in group c // size, `Pod.ocs_group_cubes`); one group
    without OCS or when every usable cube fits on one OCS."""
    if not ocs:
        return max(n_usable, 1)
    return max(1, min(n_usable, pod.ocs_group_cubes[0]))


def free_mask(pod: Pod, free: set[int]) -> np.ndarray:
    """Boolean array of shape pod.cube_grid: True where a cube is healthy and unassigned."""
    mask = np.zeros(pod.cubes, dtype=bool)
    if free:
        mask[np.fromiter(free, dtype=np.int64, count=len(free))] = True
    return mask.reshape(pod.cube_grid)


def ocs_group(counts: list[int], k: int, used: dict[int, int], prefer: int) -> int | None:
    """The OCS group a slice of `k` cubes goes to, given the free cubes per group (`counts`):
    `prefer` (the group it was in) if it still has k free cubes beyond those `used` by slices
    placed with it, else the lowest group that has; None if none has. The slice then takes the
    group's k lowest free ids."""
    if 0 <= prefer < len(counts) and counts[prefer] - used.get(prefer, 0) >= k:
        return prefer
    for g, n in enumerate(counts):
        if n - used.get(g, 0) >= k:
            return g
    return None


def always_fits(pod: Pod, n_usable: int, pod_count: int, slices: int,
                slice_cubes: tuple[int, ...], *, ocs: bool, per_group: int) -> bool:
    """True if `slices` slices of `slice_cubes` can be placed on `pod_count` empty, all-healthy
    pods of `n_usable` cubes, as the engine places them."""
    k = int(np.prod(slice_cubes))
    frees = [FreeCubes(n_usable, per_group) for _ in range(pod_count)]
    used: list[dict[int, int]] = [{} for _ in range(pod_count)]
    for _ in range(slices):
        for p, free in enumerate(frees):
            if ocs:
                g = ocs_group(free.count, k, used[p], -1)
                if g is not None:
                    used[p][g] = used[p].get(g, 0) + k
                    break
            else:
                cubes = place_static(pod, free.ids, slice_cubes)
                if cubes is not None:
                    for c in cubes:
                        free.discard(c)
                    break
        else:
            return False
    return True


def place_static(pod: Pod, free: set[int], slice_cubes: tuple[int, ...]) -> list[int] | None:
    """Cube ids of a contiguous box of `slice_cubes` among `free` (any orientation, wrapping on
    the pod torus: the planner's exact search), or None. Units of unequal sides (the hosts of a
    pod without cubes, a chip TOML's cube) cannot turn: their box keeps its written
    orientation (`box_as_written`)."""
    k = int(np.prod(slice_cubes))
    if len(free) < k:
        return None
    if len(set(pod.chip.cube_shape)) > 1:
        return box_as_written(pod.cube_grid, free, tuple(slice_cubes))
    from tpusim.planner import place_slices

    found = place_slices(pod, free_mask(pod, free), slice_cubes, 1, ocs=False)
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


def box_as_written(grid: tuple[int, ...], free: set[int], box: tuple[int, ...]) -> list[int] | None:
    """The cube ids (C order inside the box) of the first placement, in C order of its corner,
    of a `box` of units in its written orientation on the `grid` torus whose units are all in
    `free`; None if none.

    Invariant (tested): every id returned is in `free`, and the ids form a box of that shape."""
    if any(b > g for b, g in zip(box, grid, strict=True)):
        return None
    mask = np.zeros(int(np.prod(grid)), dtype=bool)
    mask[np.fromiter(free, dtype=np.int64, count=len(free))] = True
    mask = mask.reshape(grid)
    count = np.zeros(grid, dtype=np.int64)
    for offset in np.ndindex(box):  # count[s] = free units in the box whose corner is s
        count += np.roll(mask, tuple(-o for o in offset), axis=tuple(range(len(grid))))
    starts = np.flatnonzero(count.ravel() == int(np.prod(box)))
    if starts.size == 0:
        return None
    corner = np.unravel_index(int(starts[0]), grid)
    local = np.indices(box).reshape(len(box), -1)
    coords = tuple((c + local[d]) % grid[d] for d, c in enumerate(corner))
    return [int(i) for i in np.ravel_multi_index(coords, grid)]


def spare_for(free: FreeCubes, group: int, k: int) -> int | None:
    """The spare cube that replaces a failed cube of an OCS slice of `k` cubes in `group`: the
    lowest free id of the group (a 1-cube slice: of the pod). Only the failed cube's position
    moves (the planner's re-forming rule)."""
    return free.lowest(group) if k > 1 else free.lowest_any()
