"""The plan: for each slice size, schedulability and goodput with OCS and on a static torus.

`plan(pod, host_availability, ...)` returns a PlanResult whose `to_dict()` is the
`tpusim plan --json` contract (docs/contract.md): {"pod", "cube_availability", "rows": [{"slice_chips",
"slice_cubes", "shape", "p_schedulable_ocs", "p_schedulable_static", "goodput_ocs",
"goodput_static", ...}]}, plus "target" and "assignment" when asked for.

Default slice sizes (in cubes): the powers of two, three quarters of the pod and the whole pod,
each kept when the generation has a legal slice of that many chips (its most compact shape,
tpusim.topology.shape.compact_shape). For TPU v4 that is 64, 128, ..., 2048, 3072, 4096 chips.

goodput = E[max number of disjoint formable slices] x slice chips / pod chips.

Invariants (tested): rows are sorted by size; on a pod of one OCS group (every catalog pod)
static <= OCS for p_schedulable and goodput (up to the Monte Carlo interval) and the whole-pod
row is p_cube^cubes in both models (several groups: an OCS slice stays in one group, a static
box does not); slices that fill the pod have static P = P(all cubes healthy) if the box tiles
the cube torus, else 0; a one-cube slice has goodput = p_cube with OCS.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from tpusim import defaults, limits
from tpusim.errors import TpusimError
from tpusim.inputs import check_integer, check_probability
from tpusim.planner import availability as av
from tpusim.planner.assign import assignment
from tpusim.planner.packing import count_max_boxes
from tpusim.planner.static import static_estimates
from tpusim.topology.shape import check_slice_shape, compact_shape, fmt_shape, legal_shapes


@dataclass(frozen=True)
class PlanRow:
    """One slice size: both models side by side (static with its 95% interval)."""

    slice_chips: int
    slice_cubes: int
    shape: str  # in chips, AxBxC
    cube_shape: tuple[int, ...]  # the same slice in cubes
    n_slices: int
    p_schedulable_ocs: float
    p_schedulable_static: float
    goodput_ocs: float
    goodput_static: float
    p_schedulable_static_lo: float
    p_schedulable_static_hi: float
    goodput_static_lo: float
    goodput_static_hi: float
    spare_cubes_for_target: int | None = None  # OCS spares to reach --target (None: unreachable)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["cube_shape"] = list(self.cube_shape)
        return out


@dataclass(frozen=True)
class PlanResult:
    pod: dict
    host_availability: float
    cube_availability: float
    rows: tuple[PlanRow, ...]
    static_method: str
    static_patterns: int
    seed: int | None
    model: dict = field(default_factory=dict)
    target: dict | None = None
    assignment: dict | None = None

    def to_dict(self) -> dict:
        out = {
            "pod": self.pod,
            "host_availability": self.host_availability,
            "cube_availability": self.cube_availability,
            "rows": [r.to_dict() for r in self.rows],
            "static_method": self.static_method,
            "static_patterns": self.static_patterns,
            "seed": self.seed,
            "model": self.model,
        }
        if self.target is not None:
            out["target"] = self.target
        if self.assignment is not None:
            out["assignment"] = self.assignment
        return out

    def to_frame(self):
        """One row per slice size, with the host and cube availability as columns (pandas
        imported here, lazily)."""
        import pandas as pd

        head = {"pod": self.pod["name"], "host_availability": self.host_availability,
                "cube_availability": self.cube_availability}
        return pd.DataFrame([{**head, **r.to_dict(), "cube_shape": "x".join(map(str, r.cube_shape))}
                             for r in self.rows])


def require_cube_pod(pod) -> tuple[int, ...]:
    """The pod's cube grid; a TpusimError for pods that are not built of cubes."""
    if pod.cube_grid is None or pod.chip.hosts_per_cube is None:
        raise TpusimError(
            f"pod {pod.name} ({pod.chip.name}) is not built of cubes; plan needs a cube pod: "
            f"4096 chips (v4), 8960 (v5p) or 9216 (v7)"
        )
    return pod.cube_grid


def default_slice_shapes(pod) -> list[tuple[int, ...]]:
    """The default rows' shapes in chips (see the module docstring), smallest first."""
    grid = require_cube_pod(pod)
    n = math.prod(grid)
    per_cube = pod.chip.chips_per_cube
    legal = {math.prod(s) for s in legal_shapes(pod.chip, pod.shape)}
    sizes = {2 ** i for i in range(n.bit_length()) if 2 ** i <= n}
    if n % 4 == 0:
        sizes.add(3 * n // 4)
    sizes.add(n)
    out = []
    for cubes in sorted(sizes):
        chips = cubes * per_cube
        if chips in legal:
            out.append(compact_shape(pod.chip, pod.shape, chips))
    return out


def pod_info(pod) -> dict:
    return {
        "name": pod.name, "chip": pod.chip.name, "shape": fmt_shape(pod.shape), "chips": pod.chips,
        "hosts": pod.hosts, "cubes": pod.cubes, "cube_grid": list(pod.cube_grid),
        "hosts_per_cube": pod.chip.hosts_per_cube, "ocs": pod.ocs,
    }


def plan(pod, host_availability: float, *, slice_shape: str | tuple[int, ...] | None = None,
         n_slices: int = 1, target: float | None = None, samples: int = defaults.PLAN_SAMPLES,
         seed: int = defaults.SEED,
         p_chip: float = 1.0, p_ocs: float = 1.0, domain_cubes: int = 1,
         p_domain: float = 1.0, faulty_cubes: list[int] | None = None,
         then_fail: int | None = None,
         on_shape: Callable[[int, int], None] | None = None, check_limits: bool = True) -> PlanResult:
    """Schedulability and goodput per slice size, with OCS (closed form) and on a static torus
    (exact packing per failure pattern, averaged exactly or by `samples` seeded Monte Carlo
    patterns). `slice_shape` (chips) restricts the rows to one slice and `n_slices` asks for
    that many disjoint slices at once; `target` adds the largest slice schedulable with at
    least that probability and the spare cubes each row needs to reach it with OCS;
    `faulty_cubes` adds a concrete assignment (the requested slice, else the largest row of
    which `n_slices` fit in the healthy cubes, with one spare left when `then_fail` is given)
    and `then_fail` re-forms the first slice after that cube fails.
    `on_shape(done, total)` reports the static model's progress over slice sizes. More than
    `tpusim.limits.PLAN_SAMPLES` samples are refused unless `check_limits` is False."""
    grid = require_cube_pod(pod)
    samples = check_integer(samples, "samples", "plan", at_least=1, param=True)
    if check_limits and samples > limits.PLAN_SAMPLES:
        raise limits.over_limit("plan: samples (static-torus failure patterns per slice size)",
                                samples, limits.PLAN_SAMPLES,
                                "10,000 give report-quality intervals in seconds", params=("samples",))
    n = math.prod(grid)
    if check_limits and n > limits.PLAN_STATIC_CUBES:
        raise limits.over_limit(f"plan: static-torus packing of pod {pod.name}'s cubes",
                                n, limits.PLAN_STATIC_CUBES,
                                "the exact packer's compiled kernel holds that many cubes")
    # named as tpusim.plan names them (the CLI shows its flags: --availability, --target, ...)
    p_host = check_probability(host_availability, "availability", "plan", param=True)
    n_slices = check_integer(n_slices, "slices", "plan", at_least=1, param=True)  # tpusim.plan's name
    if target is not None:
        target = check_probability(target, "target", "plan", param=True)
    p_ocs = check_probability(p_ocs, "ocs_availability", "plan", param=True)
    p_chip = check_probability(p_chip, "chip_availability", "plan", param=True)
    p_domain = check_probability(p_domain, "domain_availability", "plan", param=True)
    domain_cubes = check_integer(domain_cubes, "domain_cubes", "plan", at_least=1, param=True)
    chip = pod.chip
    p_cube = av.cube_availability(p_host, chip.hosts_per_cube, p_chip=p_chip,
                                  chips_per_cube=chip.chips_per_cube if p_chip < 1 else 0)
    if slice_shape is None:
        shapes = default_slice_shapes(pod)
    else:
        shapes = [check_slice_shape(chip, pod.shape, slice_shape)]
    cube_shapes = [pod.cube_shape_of(s) for s in shapes]
    if slice_shape is None:  # every default size of which n_slices fit in the pod
        keep = [i for i, c in enumerate(cube_shapes) if n_slices * math.prod(c) <= n]
        shapes, cube_shapes = [shapes[i] for i in keep], [cube_shapes[i] for i in keep]
    if not shapes or n_slices * math.prod(cube_shapes[0]) > n:
        what = fmt_shape(shapes[0]) if shapes else "any size"
        raise TpusimError(f"{n_slices} slices of {what} need more than the pod's {n} cubes "
                          f"({pod.chips} chips); ask for fewer `slices` or a smaller `slice`",
                          params=("slices", "slice"))
    def healthy_pmf(cubes: int) -> tuple[float, ...]:
        if domain_cubes == 1 and p_domain == 1.0:
            return av.healthy_pmf(cubes, p_cube)
        return av.healthy_pmf_correlated(cubes, p_cube, domain_cubes, p_domain)

    pmf = healthy_pmf(n)
    groups = pod.ocs_group_cubes  # an OCS slice is formed within one group
    group_pmfs = [pmf] if len(groups) == 1 else [healthy_pmf(m) for m in groups]
    ocs_up = p_ocs ** (pod.ocs_count // len(groups))  # the OCSes of the slice's group
    static = static_estimates(grid, cube_shapes, p_cube, n_slices=n_slices, samples=samples,
                              seed=seed, domain_cubes=domain_cubes, p_domain=p_domain,
                              on_shape=on_shape)
    rows = []
    for shape, cshape, est in zip(shapes, cube_shapes, static, strict=True):
        k = math.prod(cshape)
        slices_pmf = av.ocs_slice_pmf(group_pmfs, k)
        p_ocs_row = ocs_up * math.fsum(slices_pmf[n_slices:])
        good_ocs = ocs_up * float(slices_pmf @ np.arange(len(slices_pmf))) * k / n
        spares = None
        if target is not None and domain_cubes == 1 and p_domain == 1.0 and target <= ocs_up \
                and k * n_slices <= max(groups):  # spares drawn from the slices' group
            spares = av.spares_for_target(k * n_slices, p_cube, target / ocs_up, max(groups))
        if k == 1 or k == n:
            # one-cube boxes or the whole pod: the static torus has exactly the OCS choices
            p_static = min(1.0, math.fsum(pmf[k * n_slices:]))
            g_static = av.expected_ocs_slices(pmf, k) * k / n
            est = replace(est, p_schedulable=p_static, p_schedulable_lo=p_static,
                          p_schedulable_hi=p_static, goodput=g_static, goodput_lo=g_static,
                          goodput_hi=g_static, method="exact")
        elif k * n_slices == n:
            # the slices fill the pod: every cube healthy and the box tiling the torus (the
            # goodput counts boxes on every pattern, so it stays the Monte Carlo estimate)
            tiles = count_max_boxes(grid, cshape, np.ones((1, n), dtype=bool),
                                    cap=n_slices)[0] >= n_slices
            p_static = pmf[n] if tiles else 0.0
            est = replace(est, p_schedulable=p_static, p_schedulable_lo=p_static,
                          p_schedulable_hi=p_static)
        rows.append(PlanRow(
            slice_chips=math.prod(shape), slice_cubes=k, shape=fmt_shape(shape), cube_shape=cshape,
            n_slices=n_slices, p_schedulable_ocs=min(1.0, p_ocs_row),
            p_schedulable_static=est.p_schedulable, goodput_ocs=good_ocs,
            goodput_static=est.goodput, p_schedulable_static_lo=est.p_schedulable_lo,
            p_schedulable_static_hi=est.p_schedulable_hi, goodput_static_lo=est.goodput_lo,
            goodput_static_hi=est.goodput_hi, spare_cubes_for_target=spares,
        ))
    target_info = None
    if target is not None:
        ok_ocs = [r.slice_chips for r in rows if r.p_schedulable_ocs >= target]
        # static rows from Monte Carlo count only when their 95% lower bound reaches the target
        ok_static = [r.slice_chips for r in rows if r.p_schedulable_static_lo >= target]
        target_info = {"target": target, "static_judged_on": "95% lower bound",
                       "largest_slice_chips_ocs": max(ok_ocs) if ok_ocs else None,
                       "largest_slice_chips_static": max(ok_static) if ok_static else None}
    model = {
        "p_cube": "p_host ^ hosts_per_cube" + (" x p_chip ^ chips_per_cube" if p_chip < 1 else ""),
        "ocs": "P(at least n_slices x slice cubes healthy) x p_ocs ^ OCS count"
               + ("" if len(groups) == 1 else
                  "; each OCS group forms slices from its own healthy cubes"),
        "ocs_group_cubes": list(groups),
        "static": "exact max packing of contiguous boxes of cubes on the pod's cube torus",
        "ocs_count": pod.ocs_count, "p_ocs": p_ocs, "p_chip": p_chip,
        "domain_cubes": domain_cubes, "p_domain": p_domain,
    }
    plan_of_cubes = None
    if faulty_cubes is not None or then_fail is not None:
        faulty = list(faulty_cubes or [])
        healthy_count = n - len(set(faulty))
        if slice_shape is None:
            spare = 0 if then_fail is None else 1  # re-forming takes a healthy cube outside
            fits = [c for c in cube_shapes if math.prod(c) * n_slices + spare <= healthy_count]
            if not fits:
                raise TpusimError(
                    f"no slice size fits {n_slices} time(s) in the {healthy_count} healthy cubes"
                    + (" with a spare cube for `then_fail`" if spare else "")
                    + "; ask for fewer `slices` or fewer `faulty_cubes`",
                    params=("slices", "faulty_cubes", "then_fail"))
            chosen = fits[-1]
        else:
            chosen = cube_shapes[0]
        plan_of_cubes = assignment(pod, faulty, chosen, n_slices, then_fail=then_fail)
    return PlanResult(pod=pod_info(pod), host_availability=p_host, cube_availability=p_cube,
                      rows=tuple(rows), static_method=static[0].method if static else "none",
                      static_patterns=static[0].patterns if static else 0,
                      seed=static[0].seed if static else None, model=model, target=target_info,
                      assignment=plan_of_cubes)
