"""Optical circuit switch (OCS) wiring and the cross-connects that realise a slice.

Wiring model (hardware reference section 1.3, derived from 48 OCSes x 128 used ports for 64
cubes): each cube face along dimension d carries F_d = prod(cube_shape) / cube_shape[d] optical
links, one per "face position" p (16 on a 4x4x4 cube). OCS (d, p) holds link p of the +d face
and link p of the -d face of every cube it serves: 2 ports per cube. When 2 x cubes exceeds the
ports an OCS has (spares excluded), the cubes are split into groups, one OCS per (d, p, group).

To join cubes in a ring along d, OCS (d, p) connects port (cube_i, +d, p) to port
(cube_next(i), -d, p), for every p; the last cube's +d face goes to the first cube's -d face
(wraparound). A ring of one cube loops its own +d face back to its -d face. So any healthy
cubes can be arranged in any order along each axis.

Invariants (tested): the v4 pod has 48 OCSes x 128 used ports, 96 optical links per cube and
6144 in all; realising the full pod uses every used port of every OCS exactly once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tpusim.errors import TpusimError


@dataclass(frozen=True)
class CrossConnect:
    """One optical circuit: OCS (dim, position, group) joins port_a to port_b."""

    dim: int
    position: int
    group: int
    port_a: int  # the +dim face of cube_from
    port_b: int  # the -dim face of cube_to
    cube_from: int
    cube_to: int

    @property
    def ocs(self) -> tuple[int, int, int]:
        return (self.dim, self.position, self.group)


def face_positions(cube_shape: tuple[int, ...], dim: int) -> int:
    """Optical links on one face of a cube across dimension `dim` (16 on a 4x4x4 cube)."""
    return math.prod(cube_shape) // cube_shape[dim]


def optical_links_per_cube(cube_shape: tuple[int, ...]) -> int:
    """Both faces of every dimension: 2 x sum_d F_d (96 on a 4x4x4 cube)."""
    return 2 * sum(face_positions(cube_shape, d) for d in range(len(cube_shape)))


def cubes_per_ocs(ocs_ports: int, ocs_spare_ports: int) -> int:
    """Cubes one OCS can serve: two ports per cube among the non-spare ports."""
    usable = ocs_ports - ocs_spare_ports
    if usable < 2:
        raise TpusimError(f"an OCS needs at least 2 usable ports, got {usable}")
    return usable // 2


def ocs_groups(cubes: int, ocs_ports: int, ocs_spare_ports: int) -> int:
    """OCSes per (dimension, face position): ceil(cubes / cubes_per_ocs)."""
    return -(-cubes // cubes_per_ocs(ocs_ports, ocs_spare_ports))


def ocs_count(cube_shape: tuple[int, ...], cubes: int, ocs_ports: int, ocs_spare_ports: int) -> int:
    """OCSes in a pod: sum over dimensions of face positions x groups (48 for TPU v4)."""
    groups = ocs_groups(cubes, ocs_ports, ocs_spare_ports)
    return groups * sum(face_positions(cube_shape, d) for d in range(len(cube_shape)))


def port(cube: int, plus_face: bool, per_ocs: int) -> tuple[int, int]:
    """(group, port number) of a cube's +d (plus_face) or -d face link on its OCS."""
    group, slot = divmod(cube, per_ocs)
    return group, 2 * slot + (0 if plus_face else 1)


def slice_cross_connects(
    cube_grid: np.ndarray,
    cube_shape: tuple[int, ...],
    ocs_ports: int,
    ocs_spare_ports: int,
    *,
    twisted: bool = False,
) -> list[CrossConnect]:
    """Cross-connects that join the cubes in `cube_grid` (an array of cube ids, one per cube
    position of the slice, in slice axis order) into a torus with wraparound on every axis.

    Twisted slices shift the wrap of the short axes as in topology.torus.twist_offsets, in
    whole cubes (the twist k is a multiple of the cube side for cube-built slices).
    """
    from tpusim.topology.torus import twist_offsets

    grid = np.asarray(cube_grid)
    per_ocs = cubes_per_ocs(ocs_ports, ocs_spare_ports)
    slice_chips = tuple(g * c for g, c in zip(grid.shape, cube_shape, strict=True))
    twists = twist_offsets(slice_chips) if twisted else {}
    out: list[CrossConnect] = []
    for d, n in enumerate(grid.shape):
        positions = face_positions(cube_shape, d)
        for index in np.ndindex(grid.shape):
            nxt = list(index)
            nxt[d] = (index[d] + 1) % n
            if index[d] == n - 1 and d in twists:
                shift = [off // c for off, c in zip(twists[d], cube_shape, strict=True)]
                nxt = [(x + s) % g for x, s, g in zip(nxt, shift, grid.shape, strict=True)]
            cube_from = int(grid[index])
            cube_to = int(grid[tuple(nxt)])
            group_a, port_a = port(cube_from, True, per_ocs)
            group_b, port_b = port(cube_to, False, per_ocs)
            if group_a != group_b:
                raise TpusimError(
                    f"cubes {cube_from} and {cube_to} sit on different OCS groups and cannot be "
                    f"neighbours along axis {d}; choose cubes from one group"
                )
            for p in range(positions):
                out.append(CrossConnect(d, p, group_a, port_a, port_b, cube_from, cube_to))
    return out


def ports_used_per_ocs(connects: list[CrossConnect]) -> dict[tuple[int, int, int], int]:
    """Ports in use on each OCS (two per cross-connect)."""
    used: dict[tuple[int, int, int], int] = {}
    for cc in connects:
        used[cc.ocs] = used.get(cc.ocs, 0) + 2
    return used


def changed_connects(before: list[CrossConnect], after: list[CrossConnect]) -> tuple[
        list[CrossConnect], list[CrossConnect]]:
    """(removed, added) cross-connects going from `before` to `after`."""
    old = set(before)
    new = set(after)
    removed = sorted(old - new, key=_order)
    added = sorted(new - old, key=_order)
    return removed, added


def _order(cc: CrossConnect) -> tuple[int, ...]:
    return (cc.dim, cc.position, cc.group, cc.port_a, cc.port_b)
