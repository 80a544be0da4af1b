"""Resolve each job once per scenario: progress rate (from `tpusim estimate` or the scenario's
what-if overrides), work to do, the failure rate the job sees, and its checkpoint interval.

Work is measured in running seconds on the full set of slices: a job that needs S steps of
step_time_s needs S * step_time_s seconds of uninterrupted-equivalent running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tpusim.errors import TpusimError
from tpusim.filecache import file_cached
from tpusim.inputs import fmt_shape, parse_shape
from tpusim.sim.analytic import daly_interval
from tpusim.sim.faults import LossSpike, ici_links_per_cube
from tpusim.sim.placement import always_fits, group_size
from tpusim.sim.scenario import JobSpec, Scenario
from tpusim.topology.ocs import optical_links_per_cube


@dataclass(frozen=True)
class Performance:
    """What a job's workload does per step on its slices: the one place the simulator learns a
    job's speed (`performance`). `units_per_step` counts the work units a step trains (tokens
    for a language model, samples for a DLRM: `unit`); `program_goodput` is the MFU (for a DLRM
    the stall-free fraction of its step, docs/embeddings.md)."""

    program_goodput: float
    step_time_s: float
    units_per_step: float | None
    source: str  # "estimate" or "override"
    unit: str = "tokens"


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
    loss_spike: LossSpike | None = None
    samples_per_step: float | None = None  # DLRM jobs

    @property
    def tokens_per_s(self) -> float | None:
        return None if self.tokens_per_step is None else self.tokens_per_step / self.step_time_s

    @property
    def samples_per_s(self) -> float | None:
        return None if self.samples_per_step is None else self.samples_per_step / self.step_time_s

    @property
    def chips(self) -> int:
        return math.prod(self.spec.slice_shape) * self.spec.slices


def job_failure_rate(scenario: Scenario, spec: JobSpec, step_time_s: float) -> float:
    """Interruptions per second a running job sees: every repaired unit of its cubes (hosts,
    with bad hosts at their multiplier; chips; HBM; intra-cube ICI links; cubes), the optical
    links of its cubes, the OCSes of the pods it spans, the DCN ports of a multi-slice job,
    job-level (software) failures, silent data corruption, loss spikes, maintenance without
    notice, and the drains of stragglers (each one found is an interruption). Non-exponential
    lifetimes enter through their mean."""
    chip = scenario.pod.chip
    cubes = spec.cubes
    chips = cubes * chip.chips_per_cube
    hosts = cubes * chip.hosts_per_cube
    counts = {"host": hosts, "chip": chips, "hbm": chips, "cube": cubes,
              "ici_link": cubes * ici_links_per_cube(chip.cube_shape),
              "link": cubes * optical_links_per_cube(chip.cube_shape), "sdc": chips,
              "dcn": hosts if spec.slices > 1 else 0,
              "job": 1}
    pod = scenario.pod
    if spec.cubes_per_slice > 1 and pod.ocs_ports is not None:
        counts["ocs"] = min(spec.slices, scenario.pod_count) * pod.ocs_count
    rate = 0.0
    for f in scenario.failures:
        n = counts.get(f.component, 0)
        if f.component == "job" and f.per == "chip":
            n = chips
        if f.component == "host" and scenario.faults.bad_hosts is not None:
            bad = scenario.faults.bad_hosts
            n *= 1.0 - bad.fraction + bad.fraction * bad.multiplier
        rate += n / f.ttf.mean_s
    spike = scenario.faults.loss_spike
    if spike is not None:
        rate += spike.rate_per_compute_s(step_time_s)
    m = scenario.maintenance
    if m is not None and not m.notice:
        rate += cubes / (scenario.usable_cubes * scenario.pod_count) * scenario.pod_count / m.cube_interval_s
    straggler = scenario.faults.straggler
    if straggler is not None:
        rate += hosts / straggler.mtbf_s
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
    if scenario.ocs and spec.cubes_per_slice > per_group < scenario.usable_cubes:
        raise TpusimError(
            f"job {spec.name!r} can never be placed: a slice of "
            f"{'x'.join(map(str, spec.slice_shape))} needs {spec.cubes_per_slice} cubes, but an OCS "
            f"of pod {scenario.pod.name} joins only the {per_group} cubes of one OCS group (its "
            f"ocs_ports); use slices of at most {per_group} cubes, or a pod whose OCSes have more ports"
        )
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


def performance(scenario: Scenario, spec: JobSpec) -> Performance:
    """The job's step time, work units per step and MFU: the scenario's what-if overrides, else
    `tpusim estimate` of its workload on its slices (at its global batch, if given)."""
    mfu, step, units = spec.mfu, spec.step_time_s, spec.tokens_per_step
    if mfu is not None and step is not None and (units is not None or spec.workload is None):
        return Performance(mfu, step, units, "override")
    chip = scenario.pod.chip.path or scenario.pod.chip.name  # a chip file outside the catalog too
    est = _estimate_cached(spec.workload, chip, fmt_shape(spec.slice_shape),
                           spec.slices, spec.global_batch_seqs, spec.name, spec.twisted)
    return Performance(est.program_goodput if mfu is None else mfu,
                       est.step_time_s if step is None else step,
                       est.units_per_step if units is None else units, "estimate", est.unit)


def _plan(scenario: Scenario, spec: JobSpec) -> JobPlan:
    perf = performance(scenario, spec)
    step = perf.step_time_s
    if spec.steps is not None:
        work = spec.steps * step
    elif spec.train_tokens is not None:
        if not perf.units_per_step:
            raise TpusimError(f"job {spec.name!r}: train_tokens needs tokens_per_step")
        work = spec.train_tokens / perf.units_per_step * step
    elif spec.train_samples is not None:
        work = spec.train_samples / perf.units_per_step * step
    else:
        work = math.inf
    rate = job_failure_rate(scenario, spec, step)
    interval = scenario.recovery.checkpoint_interval_s
    if interval is None:
        interval = auto_interval(scenario, rate, step)
    samples = perf.unit == "samples"
    return JobPlan(spec=spec, mfu=perf.program_goodput, step_time_s=step,
                   tokens_per_step=None if samples else perf.units_per_step,
                   samples_per_step=perf.units_per_step if samples else None,
                   work_s=work, failure_rate_per_s=rate,
                   interval_s=interval, rate_source=perf.source,
                   loss_spike=scenario.faults.loss_spike)


@file_cached(maxsize=256)
def _estimate_cached(workload: str, chip: str, slice_shape: str, slices: int,
                     global_batch_seqs: int | None, job: str, twisted: bool = False):
    """One estimate per (workload, chip, slice shape, twist, slices, batch); jobs that share them
    share it while the files it read (workload, chip) are unchanged. The estimate runs on the
    job's own slice shape, twisted or not (its torus axes and twist set the collectives and, for a
    DLRM, the all-to-all's busiest link), not the most compact one of its size. The workload's
    kind picks the model (tpusim.workloads.kinds.step_performance)."""
    try:
        from tpusim.workloads.kinds import step_performance
    except ImportError:
        raise TpusimError(
            f"job {job!r}: the estimate model (tpusim.workloads) is not installed; "
            "give mfu and step_time_s in the [[jobs]] table"
        ) from None
    chips_per_slice = math.prod(parse_shape(slice_shape))
    try:
        est = step_performance(workload, chip=chip, chips_per_slice=chips_per_slice, slices=slices,
                               slice_shape=slice_shape, global_batch=global_batch_seqs, twisted=twisted)
    except TpusimError as exc:  # name the job whose workload and slice do not go together
        shape = slice_shape + (" twisted" if twisted else "")
        raise TpusimError(f"job {job!r} ({Path(workload).stem} on {slices} x {shape}): {exc}",
                          params=exc.params) from None
    if not (est.fits_in_hbm and est.fits_in_host_dram):
        where = "HBM" if not est.fits_in_hbm else "the hosts' DRAM (what it keeps there)"
        raise TpusimError(
            f"job {job!r}: workload {workload!r} does not fit in {where} on {slice_shape}"
            f"{' twisted' if twisted else ''} slices; run `tpusim estimate` for the breakdown"
        )
    return est
