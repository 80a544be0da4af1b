"""Concrete slices: which cubes form each slice, the OCS cross-connects, and re-forming a slice
around a failed cube.

Cube ids are np.ravel_multi_index over pod.cube_grid (tpusim.topology.groups.cube_ids order).
A slice is an int array of cube ids with shape slice_cube_shape, in slice axis order: the cube
at index (i, j, k) is the i-th along the slice's first axis, and so on.

Invariants (tested): slices returned are disjoint, of the requested shape, use only healthy
cubes, (OCS) each within one OCS group, and (static) are contiguous boxes on the pod's cube
torus; None exactly when brute force finds no way; reform_slice changes only the failed cube's
position, and the cross-connects it changes are exactly those that touch the failed cube or the spare.
"""

from __future__ import annotations

import math

import numpy as np

from tpusim.errors import TpusimError
from tpusim.inputs import check_integer
from tpusim.planner.packing import check_cube_shape, max_packing
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

    ocs=True: any healthy cubes of one OCS group in any order (lowest ids first, C order inside
    the slice).
    ocs=False: contiguous boxes on the pod's cube torus, any orientation and position, found by
    the exact packing search (so None means no packing exists).
    """
    grid = _grid_of(pod)
    shape = check_cube_shape(grid, tuple(slice_cube_shape))
    n_slices = check_integer(n_slices, "n_slices", "place_slices", at_least=0)
    h = _check_healthy(pod, healthy)
    k = math.prod(shape)
    if n_slices == 0:
        return []
    if ocs:  # each slice within one OCS group (pod.ocs_group_cubes), lowest groups first
        flat, per = h.ravel(), pod.ocs_group_cubes[0]
        out: list[np.ndarray] = []
        for start in range(0, flat.size, per):
            ids = start + np.flatnonzero(flat[start:start + per])
            out += [ids[i * k:(i + 1) * k].reshape(shape).copy()
                    for i in range(min(ids.size // k, n_slices - len(out)))]
        return out if len(out) == n_slices else None
    boxes = max_packing(grid, shape, h, need=int(n_slices))
    if len(boxes) < n_slices:
        return None
    return boxes[:n_slices]


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
    in_slice = {int(c) for c in grid.ravel()}
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


def cubes_of_hosts(pod, hosts: list[int]) -> list[int]:
    """The cubes that hold the given host ids (host ids as in tpusim.topology.groups.host_ids)."""
    from tpusim.topology.groups import cube_of_host

    _grid_of(pod)
    table = cube_of_host(pod.shape, pod.chip.host_shape, pod.chip.cube_shape)
    bad = [h for h in hosts if not 0 <= int(h) < table.size]
    if bad:
        raise TpusimError(f"host ids {bad} out of range; pod {pod.name} has hosts 0..{table.size - 1}")
    return sorted({int(table[int(h)]) for h in hosts})


def healthy_grid(pod, faulty_cubes: list[int]) -> np.ndarray:
    """Bool array over the cube grid: False at the faulty cubes (ids checked)."""
    grid = _grid_of(pod)
    n = math.prod(grid)
    bad = [c for c in faulty_cubes if not 0 <= int(c) < n]
    if bad:
        raise TpusimError(f"cube ids {bad} out of range; pod {pod.name} has cubes 0..{n - 1}")
    healthy = np.ones(n, dtype=bool)
    healthy[[int(c) for c in faulty_cubes]] = False
    return healthy.reshape(grid)


def _connect_dict(cc: CrossConnect) -> dict:
    return {"ocs": list(cc.ocs), "port_a": cc.port_a, "port_b": cc.port_b,
            "cube_from": cc.cube_from, "cube_to": cc.cube_to}


def _slice_dict(pod, cubes: np.ndarray, *, with_connects: bool) -> dict:
    grid = _grid_of(pod)
    out = {"cubes": cubes.tolist(),
           "cube_coords": [list(map(int, np.unravel_index(int(c), grid))) for c in cubes.ravel()]}
    if with_connects:
        connects = cross_connects(pod, cubes)
        out["cross_connect_count"] = len(connects)
        out["cross_connects"] = [_connect_dict(c) for c in connects]
    return out


def _id_ranges(grid: np.ndarray) -> str:
    """Cube ids as ranges: '0-2, 4-48'."""
    ids = sorted(int(c) for c in np.asarray(grid).ravel())
    runs, start = [], ids[0]
    for a, b in zip(ids, ids[1:] + [None], strict=True):
        if b != a + 1:
            runs.append(str(a) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(runs)


def assignment(pod, faulty_cubes: list[int], slice_cube_shape: tuple[int, ...], n_slices: int,
               *, then_fail: int | None = None) -> dict:
    """A concrete plan for `n_slices` slices given the faulty cubes: the cubes of each slice
    (nested lists in slice axis order, and their coordinates on the cube grid), with OCS the
    cross-connects to set, on a static torus the boxes if any exist; with `then_fail`, the
    re-formed first OCS slice after that cube fails (only its position moves, to a spare)."""
    healthy = healthy_grid(pod, faulty_cubes)
    out: dict = {"faulty_cubes": sorted(int(c) for c in faulty_cubes),
                 "slice_cube_shape": list(slice_cube_shape), "n_slices": n_slices}
    ocs_slices = place_slices(pod, healthy, slice_cube_shape, n_slices, ocs=True) if pod.ocs else None
    static_slices = place_slices(pod, healthy, slice_cube_shape, n_slices, ocs=False)
    out["ocs"] = None if ocs_slices is None else [
        _slice_dict(pod, s, with_connects=True) for s in ocs_slices]
    out["static"] = None if static_slices is None else [
        _slice_dict(pod, s, with_connects=False) for s in static_slices]
    if then_fail is not None:
        if ocs_slices is None:
            raise TpusimError("then_fail needs an OCS assignment, and none was possible",
                              params=("then_fail",))
        first = ocs_slices[0]
        if int(then_fail) not in {int(c) for c in first.ravel()}:
            why = ("is faulty already" if int(then_fail) in out["faulty_cubes"]
                   else "is not in the first slice")
            raise TpusimError(f"cube {then_fail} {why}; `then_fail` names a cube of the first "
                              f"slice (its cubes: {_id_ranges(first)})", params=("then_fail",))
        used = {int(c) for s in ocs_slices for c in s.ravel()}
        per = pod.ocs_group_cubes[0]  # the spare comes from the slice's OCS group
        group = int(first.ravel()[0]) // per
        spares = [int(c) for c in np.flatnonzero(healthy.ravel())
                  if int(c) not in used and int(c) // per == group]
        new, removed, added = reform_slice(pod, first, int(then_fail), spares)
        out["reform"] = {"failed_cube": int(then_fail), "spare_cube": int(new[new != first][0]),
                         "cubes": new.tolist(), "removed": [_connect_dict(c) for c in removed],
                         "added": [_connect_dict(c) for c in added]}
    return out
