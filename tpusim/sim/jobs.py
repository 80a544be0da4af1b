"""Resolve each job once per scenario: progress rate (from `tpusim estimate` or the scenario's
what-if overrides), work to do, the failure rate the job sees, and its checkpoint interval.

Work is measured in running seconds on the full set of slices: a job that needs S steps of
step_time_s needs S * step_time_s seconds of uninterrupted-equivalent running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from tpusim.errors import TpusimError
from tpusim.sim.analytic import daly_interval
from tpusim.sim.placement import always_fits, group_size
from tpusim.sim.scenario import JobSpec, Scenario
from tpusim.topology.ocs import optical_links_per_cube


@dataclass(frozen=True)
class JobPlan:
    """A job ready to simulate. `work_s` is inf for a job that trains until the horizon."""

    spec: JobSpec
    mfu: float
    step_time_s: float
    tokens_per_step: float | None
    work_s: float
    failure_rate_per_s: float  # expected interruptions per second while it runs
    interval_s: float  # compute seconds between checkpoints
    rate_source: str  # "estimate" or "override"

    @property
    def tokens_per_s(self) -> float | None:
        return None if self.tokens_per_step is None else self.tokens_per_step / self.step_time_s

    @property
    def chips(self) -> int:
        return math.prod(self.spec.slice_shape) * self.spec.slices


def job_failure_rate(scenario: Scenario, spec: JobSpec) -> float:
    """Interruptions per second a running job sees: every host, chip and cube of its slices, the
    optical links of its cubes, the OCSes of the pods it spans, job-level (software) failures,
    and maintenance without notice. Non-exponential lifetimes enter through their mean."""
    rate = 0.0
    cubes = spec.cubes
    hosts_per_cube = scenario.pod.chip.hosts_per_cube
    host = scenario.failure("host")
    if host is not None:
        rate += cubes * hosts_per_cube / host.ttf.mean_s
    chip = scenario.failure("chip")
    if chip is not None:
        rate += cubes * scenario.pod.chip.chips_per_cube / chip.ttf.mean_s
    cube = scenario.failure("cube")
    if cube is not None:
        rate += cubes / cube.ttf.mean_s
    link = scenario.failure("link")
    if link is not None:
        rate += cubes * optical_links_per_cube(scenario.pod.chip.cube_shape) / link.ttf.mean_s
    ocs = scenario.failure("ocs")
    if ocs is not None and spec.cubes_per_slice > 1:
        pod = scenario.pod
        n_ocs = pod.ocs_count
        rate += min(spec.slices, scenario.pod_count) * n_ocs / ocs.ttf.mean_s
    job = scenario.failure("job")
    if job is not None:
        rate += 1.0 / job.ttf.mean_s
    m = scenario.maintenance
    if m is not None and not m.notice:
        rate += cubes / (scenario.usable_cubes * scenario.pod_count) * scenario.pod_count / m.cube_interval_s
    return rate


def auto_interval(scenario: Scenario, failure_rate_per_s: float, step_time_s: float) -> float:
    """Daly's interval from the job's failure rate and the blocking save time; with async
    saves the blocking part is the snapshot, and one write must finish before the next. Never
    shorter than one step (a checkpoint is taken between steps; Daly's interval is 0 when a
    checkpoint costs nothing)."""
    rec = scenario.recovery
    if failure_rate_per_s <= 0:
        return math.inf
    mtbf = 1.0 / failure_rate_per_s
    if rec.checkpoint_async:
        block = rec.checkpoint_async_block_s
        tau = daly_interval(block, mtbf) if block > 0 else 0.0
        return max(tau, rec.checkpoint_save_s, step_time_s)
    return max(daly_interval(rec.checkpoint_save_s, mtbf), step_time_s)


def plan_jobs(scenario: Scenario) -> tuple[JobPlan, ...]:
    """JobPlans for every job: the estimate is called here, once, not per replication.
    Raises TpusimError for a job that could not be placed even with every cube healthy."""
    for spec in scenario.jobs:
        check_placeable(scenario, spec)
    return tuple(_plan(scenario, spec) for spec in scenario.jobs)


def check_placeable(scenario: Scenario, spec: JobSpec) -> None:
    """Place the job's slices on an all-healthy, empty set of pods (as the engine does); a job
    that does not fit even then would wait forever, so it is an input error."""
    per_group = group_size(scenario.pod, scenario.usable_cubes, ocs=scenario.ocs)
    if not always_fits(scenario.pod, scenario.usable_cubes, scenario.pod_count, spec.slices,
                       spec.slice_cubes, ocs=scenario.ocs, per_group=per_group):
        how = ("any cubes of one OCS group" if scenario.ocs
               else "contiguous boxes (static torus)")
        raise TpusimError(
            f"job {spec.name!r} can never be placed: {spec.slices} slice(s) of "
            f"{'x'.join(map(str, spec.slice_shape))} ({spec.cubes_per_slice} cubes each, as "
            f"{how}) do not fit in {scenario.pod_count} pod(s) of {scenario.usable_cubes} usable "
            f"cubes even with every cube healthy; use more spare_cubes, more pods or smaller slices"
        )


def _plan(scenario: Scenario, spec: JobSpec) -> JobPlan:
    mfu, step, tokens_per_step, source = spec.mfu, spec.step_time_s, spec.tokens_per_step, "override"
    if mfu is None or step is None or (tokens_per_step is None and spec.workload is not None):
        est = _estimate(scenario, spec)
        mfu = est.mfu if mfu is None else mfu
        step = est.step_time_s if step is None else step
        tokens_per_step = est.tokens_per_step if tokens_per_step is None else tokens_per_step
        source = "estimate"
    if spec.steps is not None:
        work = spec.steps * step
    elif spec.train_tokens is not None:
        if not tokens_per_step:
            raise TpusimError(f"job {spec.name!r}: train_tokens needs tokens_per_step")
        work = spec.train_tokens / tokens_per_step * step
    else:
        work = math.inf
    rate = job_failure_rate(scenario, spec)
    interval = scenario.recovery.checkpoint_interval_s
    if interval is None:
        interval = auto_interval(scenario, rate, step)
    return JobPlan(spec=spec, mfu=mfu, step_time_s=step, tokens_per_step=tokens_per_step,
                   work_s=work, failure_rate_per_s=rate, interval_s=interval, rate_source=source)


def _estimate(scenario: Scenario, spec: JobSpec):
    return _estimate_cached(spec.workload, scenario.pod.chip.name, math.prod(spec.slice_shape),
                            spec.slices, spec.name)


@lru_cache(maxsize=256)
def _estimate_cached(workload: str, chip: str, chips_per_slice: int, slices: int, job: str):
    """One estimate per (workload, chip, slice size, slices); jobs that share them share it."""
    try:
        from tpusim.workloads import estimate, load_workload
    except ImportError:
        raise TpusimError(
            f"job {job!r}: the estimate model (tpusim.workloads) is not installed; "
            "give mfu and step_time_s in the [[jobs]] table"
        ) from None
    est = estimate(load_workload(workload), chip=chip, chips_per_slice=chips_per_slice, slices=slices)
    if not getattr(est, "fits_in_hbm", True):
        raise TpusimError(
            f"job {job!r}: workload {workload!r} does not fit in HBM on {chips_per_slice}-chip "
            f"slices; run `tpusim estimate` for the breakdown"
        )
    return est
