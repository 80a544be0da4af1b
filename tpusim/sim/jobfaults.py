"""Failures that strike a job rather than a unit of hardware, one small process per source and
job: job-level (software) failures, the data-center network ports of a multi-slice job, silent
data corruption and loss spikes.

- job: per job (or per chip of the job: `per = "chip"`), restart in place;
- dcn: per host of a job that spans several slices (its gradients cross the DCN), restart in
  place;
- sdc: per chip of a computing job; found `detect` later, when the job goes back to the last
  checkpoint taken before it (the culprit's cube is repaired for a `ttr` draw, if given);
- loss spike: per step of compute; the job goes back `rollback_steps` steps;
- straggler: per host of a computing job; a random cube of its slices turns slow (the job's
  steps run `slowdown` times as long from now, or from the end of a blocking save under way)
  until it is found a `detect` draw later and drained (`components.straggler_drained`),
  whoever holds the cube then; it comes back after a `ttr` draw.

With the compute clock (and always for corruption, loss spikes and stragglers, which only
computing jobs suffer) a failure drawn while the job does not compute is skipped: exact thinning of a
Poisson process, so only exponential lifetimes are allowed there (the scenario reader checks).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from tpusim.sim import lifecycle
from tpusim.sim.components import (
    component_down,
    component_up,
    interrupt_in_place,
    straggler_drained,
    straggler_on,
)
from tpusim.sim.failures import Sampler
from tpusim.sim.training import slowed
from tpusim.sim.world import DONE, JobState, World


def start_job_faults(w: World, job: JobState) -> None:
    """Start the job-level failure processes the scenario has for `job`."""
    sc = w.sc
    spec = job.plan.spec
    chip = sc.pod.chip
    chips = job.plan.chips
    compute = sc.faults.clock == "compute"
    f = sc.failure("job")
    if f is not None:
        per = chips if f.per == "chip" else 1
        w.env.process(_source(w, job, w.samplers["job"][0], 1.0 / per, compute,
                              lambda: interrupt_in_place(w, job, "job")))
    f = sc.failure("dcn")
    if f is not None and spec.slices > 1:
        hosts = spec.cubes * chip.hosts_per_cube
        w.env.process(_source(w, job, w.samplers["dcn"][0], 1.0 / hosts, compute,
                              lambda: interrupt_in_place(w, job, "dcn")))
    counter = [0]

    def corrupt(delay: float | None = None) -> None:
        counter[0] += 1
        mark = counter[0]
        if lifecycle.corrupted(w, job, mark):
            wait = w.samplers["sdc_detect"][0].draw() if delay is None else delay
            w.env.timeout(wait).callbacks.append(lambda _ev: _found(w, job, mark))

    if sc.failure("sdc") is not None:
        w.env.process(_source(w, job, w.samplers["sdc"][0], 1.0 / chips, True, corrupt))
    for inj in sc.injections:  # scripted corruption, found duration_s later
        if inj.cause == "sdc" and inj.job == spec.name:
            w.env.timeout(inj.at_s).callbacks.append(
                lambda _ev, d=inj.duration_s: corrupt(d))
    spike = sc.faults.loss_spike
    if spike is not None:
        mean = 1.0 / spike.rate_per_compute_s(job.plan.step_time_s)
        w.env.process(_source(w, job, w.samplers["loss_spike"][0], mean, True,
                              lambda: lifecycle.hit(w, job, "loss_spike")))
    straggler = sc.faults.straggler
    if straggler is not None:
        hosts = spec.cubes * chip.hosts_per_cube
        w.env.process(_source(w, job, w.samplers["straggler"][0], straggler.mtbf_s / hosts, True,
                              lambda: _straggle(w, job)))
        for inj in sc.injections:  # scripted stragglers, found duration_s later
            if inj.cause == "straggler" and inj.job == spec.name:
                w.env.timeout(inj.at_s).callbacks.append(
                    lambda _ev, d=inj.duration_s: _straggle(w, job, d))


def _source(w: World, job: JobState, sampler: Sampler, scale: float, compute_only: bool,
            strike: Callable[[], None]) -> Generator[simpy.Event, object, None]:
    """Failures at `sampler` draws x `scale` until the job is done; with `compute_only`, those
    that fall while the job is not computing are skipped."""
    while job.state != DONE:
        yield w.env.timeout(sampler.draw() * scale)
        if compute_only and not lifecycle.in_run(w, job):
            continue
        strike()


def _straggle(w: World, job: JobState, found_after: float | None = None) -> None:
    """A host of one of the computing job's cubes (drawn at random) turns into a straggler: the
    job slows down; the straggler is found (a `detect` draw, or `found_after`) and drained."""
    if not lifecycle.in_run(w, job):
        return  # strikes only a computing job (an injection at another time does nothing)
    cubes = [(sl.pod, c) for sl in job.slices if sl.cubes is not None for c in sl.cubes if c >= 0]
    pod, cube = cubes[int(w.rng_straggler.integers(len(cubes)))]
    straggler_on(w, w.pods[pod], cube, job.idx)
    slowed(w, job)
    detect, ttr = w.samplers["straggler_found"]
    delay = detect.draw() if found_after is None else found_after
    w.env.call_at(delay, _drain, (w, pod, cube, ttr.draw()))


def _drain(timer) -> None:
    """A straggler is found: its host is drained and comes back `repair_s` later."""
    w, pod, cube, repair_s = timer.value
    straggler_drained(w, w.pods[pod], cube)
    w.env.call_at(repair_s, _repaired, (w, pod, cube))


def _repaired(timer) -> None:
    w, pod, cube = timer.value
    component_up(w, w.pods[pod], cube)


def _found(w: World, job: JobState, mark: int) -> None:
    """Corruption `mark` is detected: roll back; the culprit's cube goes to repair."""
    if mark not in job.corruptions:
        return  # a roll-back discarded the corrupted computation before it was found
    lifecycle.corruption_found(w, job, mark)
    ttr = w.samplers["sdc"][1] if "sdc" in w.samplers else None
    cubes = [(sl.pod, c) for sl in job.slices if sl.cubes is not None for c in sl.cubes if c >= 0]
    if ttr is None or not cubes:
        return
    pod, cube = cubes[int(w.rng_repair.integers(len(cubes)))]
    component_down(w, w.pods[pod], cube, "sdc")
    w.env.timeout(ttr.draw()).callbacks.append(
        lambda _ev: component_up(w, w.pods[pod], cube))
