"""Derived figures of a pod or a slice, computed from the structure (never typed in).

`topology_summary(pod, slice_shape, twisted)` returns a TopologySummary whose fields are the
`tpusim topology --json` keys. `all_to_all_bytes_per_s` is the aggregate throughput of a large
uniform all-to-all (every chip's buffer bytes over the time its busiest link needs, shortest
paths of the real links, twisted ones included; raw link rate, no efficiency factor).
The pod is a `tpusim.hardware.Pod` (read through its fields; topology sits below hardware
and does not import it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tpusim.errors import TpusimError
from tpusim.topology import groups, ocs
from tpusim.topology.alltoall import all_to_all_loads
from tpusim.topology.shape import SliceSpec, fmt_shape, slice_spec
from tpusim.topology.torus import bisection_links, degrees, diameter, torus_links


@dataclass(frozen=True)
class TopologySummary:
    pod: str
    chip: str
    shape: str
    chips: int
    hosts: int
    cubes: int
    ocs_count: int  # OCSes the slice (or pod) uses
    ocs_ports_used: int  # ports in use on the busiest of those OCSes
    optical_links: int  # cube-face links to OCSes
    ici_links: int  # chip-to-chip links (each bidirectional)
    bisection_links: int
    bisection_bytes_per_s: float  # links cut x one-way bandwidth (Cloud docs convention)
    allreduce_bytes_per_s: float  # sum over chips of links x one-way bandwidth
    all_to_all_bytes_per_s: float  # N x V / t of a large uniform all-to-all (busiest link, ECMP)
    diameter_hops: int
    wraparound: list[bool]
    twisted: bool
    min_degree: int
    max_degree: int

    def to_dict(self) -> dict:
        return asdict(self)


def topology_summary(pod, shape: str | tuple[int, ...] | None = None,
                     *, twisted: bool = False) -> TopologySummary:
    """Figures for the whole pod (shape None) or one slice of it."""
    chip = pod.chip
    spec: SliceSpec = slice_spec(chip, pod.shape, shape, twisted=twisted)
    links = torus_links(spec.shape, spec.wrap, twisted=spec.twisted)
    deg = degrees(spec.shape, links)
    hosts = groups.count_blocks(groups.host_ids(spec.shape, chip.host_shape))
    cubes = ocs_count = ports_used = optical = 0
    if pod.ocs and chip.cube_shape is not None:
        cube_ids = groups.cube_ids(spec.shape, chip.cube_shape)
        cubes = groups.count_blocks(cube_ids)
        whole = all(s % c == 0 for s, c in zip(spec.shape, chip.cube_shape, strict=True))
        group = max(pod.ocs_group_cubes)
        if whole and cubes > group:
            raise TpusimError(
                f"slice {fmt_shape(spec.shape)} has {cubes} cubes, more than one OCS group of pod "
                f"{pod.name} ({group} cubes: (ocs_ports - ocs_spare_ports) / 2); an OCS slice "
                f"stays in one group: choose a `slice` of at most {group} cubes", params=("slice",))
        if whole:
            grid = np.arange(cubes).reshape(pod.cube_shape_of(spec.shape))
            connects = ocs.slice_cross_connects(grid, chip.cube_shape, pod.ocs_ports,
                                                pod.ocs_spare_ports, twisted=spec.twisted)
            used = ocs.ports_used_per_ocs(connects)
            ocs_count = len(used)
            ports_used = max(used.values())
            optical = cubes * ocs.optical_links_per_cube(chip.cube_shape)
    bisect = bisection_links(spec.shape, links)
    bw = chip.ici_link_one_way_bytes_per_s
    a2a = all_to_all_loads(spec.shape, spec.wrap, spec.twisted)
    return TopologySummary(
        pod=pod.name,
        chip=chip.name,
        shape=fmt_shape(spec.shape),
        chips=spec.chips,
        hosts=hosts,
        cubes=cubes,
        ocs_count=ocs_count,
        ocs_ports_used=ports_used,
        optical_links=optical,
        ici_links=len(links),
        bisection_links=bisect,
        bisection_bytes_per_s=bisect * bw,
        allreduce_bytes_per_s=float(deg.sum()) * bw,
        all_to_all_bytes_per_s=a2a.aggregate_bytes_per_s(bw),
        diameter_hops=diameter(spec.shape, spec.wrap, twisted=spec.twisted),
        wraparound=list(spec.wrap),
        twisted=spec.twisted,
        min_degree=int(deg.min()),
        max_degree=int(deg.max()),
    )
