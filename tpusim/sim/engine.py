"""The discrete-event engine: one replication of a scenario with SimPy.

The replication's shared state is a `World` (`world`); the behaviour is split by idea:
- `components`: pod and cube health; the failure/repair processes of hosts, chips, whole
  cubes, OCS switches and optical links, planned maintenance, injected failures and
  job-level interruptions (plain generator functions).
- `scheduling`: jobs ask for cubes; spare swaps into OCS slices, slice placement with the
  planner's rules, release, fragmentation.
- `lifecycle`: the training job's state machine (the only writer of its phase and flags);
  `training`: the SimPy events that drive it.
- `progress`: closed-form progress, checkpoints and badput between events (no event per
  step, a straggler's slower pace included), and the roll-back after an interruption.
- `crews`: the repair-crew resource.

Per-event work is O(1): healthy-cube counts are kept incrementally; the planner is called only
when a slice must be placed or re-formed. Time accounting per job sums exactly to its window.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from tpusim.sim import lifecycle
from tpusim.sim.components import set_healthy, start_components
from tpusim.sim.faults import CAUSES
from tpusim.sim.jobfaults import start_job_faults
from tpusim.sim.jobs import JobPlan
from tpusim.sim.scenario import Scenario
from tpusim.sim.scheduling import close_fragmentation
from tpusim.sim.training import handle_interrupts, start_job
from tpusim.sim.units import start_units
from tpusim.sim.world import CATEGORIES, PENDING, JobState, World


@dataclass
class ReplicationResult:
    """Raw outcome of one replication (turned into rows by `accounting`)."""

    horizon_s: float
    jobs: list[dict]
    pods: list[dict]
    events: list[tuple] = field(default_factory=list)
    n_events: int = 0  # component events (failures, repairs, maintenance, injections)
    fleet: dict = field(default_factory=dict)  # repair and retirement counters (units)
    simpy_events: int = 0  # every event SimPy scheduled (timeouts, interrupts, process steps)
    # the time categories and interruption causes of the job rows (`straggler` in both only
    # when the scenario has stragglers)
    categories: tuple[str, ...] = CATEGORIES
    causes: tuple[str, ...] = CAUSES


def run_replication(scenario: Scenario, plans: tuple[JobPlan, ...], seed: np.random.SeedSequence,
                    *, log: bool = True) -> ReplicationResult:
    """Simulate one replication of `scenario` with the resolved job `plans`."""
    with collector_paused():
        return _run(scenario, plans, seed, log=log)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (and restore its state after). A replication
    allocates a timer, a few tuples and lists per event, all freed by reference counting, and
    keeps tens of thousands of live units and timers: the collector would traverse them all
    again and again (and the whole process's objects in its full collections) to find no
    garbage. What a replication leaves in cycles (its World) is collected after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(scenario: Scenario, plans: tuple[JobPlan, ...], seed: np.random.SeedSequence,
         *, log: bool) -> ReplicationResult:
    w = World(scenario, plans, seed, log=log)
    env = w.env
    horizon = scenario.horizon_s
    start_units(w)
    start_components(w)
    env.on_interrupts = lambda: handle_interrupts(w)
    for job in w.jobs:
        job.world = w
        start_job(w, job)
        start_job_faults(w, job)
    env.run(until=horizon)
    for pod in w.pods:
        set_healthy(w, pod, 0)
    return ReplicationResult(horizon, [_job_row(w, job, horizon) for job in w.jobs],
                             [{"pod": p.idx, "healthy_hist_s": list(p.hist)} for p in w.pods],
                             w.events, w.n_events, dict(w.fleet), _simpy_events(w),
                             w.categories, scenario.faults.causes)


def _job_row(w: World, job: JobState, horizon: float) -> dict:
    """Close the job's open phase at the horizon and return its accounting row."""
    lifecycle.close(w, job)
    close_fragmentation(w, job)
    submitted = job.state != PENDING  # a later phase whose predecessor never finished is not
    window = ((job.end_s if job.end_s is not None else horizon) - job.window_start) if submitted else 0.0
    return {
        "job": job.plan.spec.name, "window_s": max(window, 0.0),
        "end_s": job.end_s, "progress_s": job.progress, "started": job.started,
        "submitted_s": job.window_start if submitted else math.nan,
        "waiting_fragmented_s": job.frag_wait,
        **{c: job.acc[i] for i, c in enumerate(w.categories)},
        **{f"interruptions_{c}": n for c, n in job.causes.items()},
        **{f"badput_{c}": s for c, s in job.by_cause.items()},
    }


def _simpy_events(w: World) -> int:
    scheduled = getattr(w.env, "_eid", None)  # SimPy's event counter (private; for benchmarks)
    return next(scheduled) if scheduled is not None else 0
