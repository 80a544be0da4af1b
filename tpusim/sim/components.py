"""Pod and cube health: the component failure and repair processes (plain SimPy generator
functions) and the incremental healthy-cube bookkeeping they drive.

- `component_down` / `component_up`: a repaired unit (`units`: hosts, chips, HBM, intra-cube
  ICI links, whole cubes) or maintenance takes a cube out of service and gives it back. A cube
  is usable only while all its units are up.
- `ocs_process`, `link_process`: optical failures; the OCS routes around them after a
  reconfiguration, so the job restarts but keeps its cubes.
- `maintenance_process`: rolling planned maintenance, one cube of each pod at a time.
- `injection_process`: failures at known times given by the scenario.
- `interrupt_in_place`: a failure that restarts a job on the hardware it has.
- `straggler_on` / `straggler_drained`: a host of a cube turns slow (the jobs that hold the
  cube run at its pace) and, once found, is drained: its cube goes down until it is repaired.

A cube going down interrupts the job that owns it and asks the scheduler for a replacement;
a cube coming back lets the scheduler serve waiting jobs.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from tpusim.sim.lifecycle import hit
from tpusim.sim.scenario import Injection
from tpusim.sim.scheduling import cube_back, cube_lost, request
from tpusim.sim.world import ACTIVE, NONE, JobState, PodState, World


def set_healthy(w: World, pod: PodState, delta: int) -> None:
    """Account the time at the old healthy-cube count, then change it by `delta`."""
    now = w.env.now
    pod.hist[pod.healthy] += now - pod.last_t
    pod.last_t = now
    pod.healthy += delta


def component_down(w: World, pod: PodState, cube: int, cause: str) -> None:
    """A repaired unit (or maintenance, or an injection) took `cube` down one more level."""
    w.n_events += 1
    pod.down[cube] += 1
    if pod.down[cube] != 1:
        return
    set_healthy(w, pod, -1)
    if w.log_on:
        w.log("cube_down", NONE, pod.idx, cube, cause)
    job = cube_lost(w, pod, cube)
    if job is None:
        return
    notice = w.sc.maintenance is None or w.sc.maintenance.notice
    # no reconfiguration flag here: the OCS rewires only if a spare takes the cube's position
    # (`scheduling.fill`); a job that gets this very cube back after its repair keeps its wiring
    hit(w, job, cause, drain=cause == "maintenance" and notice)
    request(w, job)


def interrupt_in_place(w: World, job: JobState, cause: str) -> None:
    """A failure that restarts `job` on the hardware it has (software, network, a failure no
    unit was blamed for)."""
    w.n_events += 1
    hit(w, job, cause)


def straggler_on(w: World, pod: PodState, cube: int, job: int) -> None:
    """A host of `cube` (in `job`'s slices) turned into a straggler."""
    w.n_events += 1
    pod.slow[cube] += 1
    if w.log_on:
        w.log("straggler", job, pod.idx, cube, f"slowdown {w.sc.faults.straggler.slowdown:g}")


def straggler_drained(w: World, pod: PodState, cube: int) -> None:
    """The straggler on `cube` was found: its host is drained and goes to repair (its cube
    down, interrupting the job that holds it with cause `straggler`), no longer slow."""
    pod.slow[cube] -= 1
    component_down(w, pod, cube, "straggler")


def initially_down(pod: PodState, cube: int) -> None:
    """A unit of `cube` starts the run down (warm start): no event, no job to interrupt."""
    pod.down[cube] += 1
    if pod.down[cube] == 1:
        pod.healthy -= 1
        pod.unusable(cube)


def component_up(w: World, pod: PodState, cube: int) -> None:
    """A unit of `cube` is back; the cube is healthy again when none is down."""
    w.n_events += 1
    pod.down[cube] -= 1
    if pod.down[cube] != 0:
        return
    set_healthy(w, pod, +1)
    if w.log_on:
        w.log("cube_up", NONE, pod.idx, cube, "")
    cube_back(w, pod, cube)


def ocs_process(w: World, pod: PodState) -> Generator[simpy.Event, object, None]:
    """One OCS switch of `pod`: each failure makes every multi-cube slice on the pod
    reconfigure (the OCS routes around it) and restart, keeping its cubes."""
    ttf = w.samplers["ocs"][0]
    while True:
        yield w.env.timeout(ttf.draw())
        w.n_events += 1
        if w.log_on:
            w.log("ocs_fail", NONE, pod.idx, NONE, "")
        for job in w.jobs:
            if any(sl.pod == pod.idx and sl.cubes is not None and len(sl.cubes) > 1
                   for sl in job.slices) and job.state in ACTIVE:
                hit(w, job, "ocs", reconfigure=True)


def link_process(w: World, pod: PodState, cube: int) -> Generator[simpy.Event, object, None]:
    """The optical links of `cube`: a failure makes the job using the cube reconfigure."""
    ttf = w.samplers["link"][0]
    while True:
        yield w.env.timeout(ttf.draw())
        w.n_events += 1
        j = pod.owner[cube]
        if j != NONE and w.jobs[j].state in ACTIVE:
            if w.log_on:
                w.log("link_fail", j, pod.idx, cube, "")
            hit(w, w.jobs[j], "link", reconfigure=True)


def maintenance_process(w: World, pod: PodState) -> Generator[simpy.Event, object, None]:
    """Rolling planned maintenance: one cube of `pod` at a time, from a random cube and phase."""
    m = w.sc.maintenance
    n = w.sc.usable_cubes
    cube = int(w.rng_init.integers(n))
    phase = float(w.rng_init.uniform(0, m.cube_interval_s))
    yield w.env.timeout(phase)
    while True:
        component_down(w, pod, cube, "maintenance")
        w.env.timeout(m.duration_s).callbacks.append(
            lambda _ev, c=cube: component_up(w, pod, c))
        cube = (cube + 1) % n
        yield w.env.timeout(m.cube_interval_s)


def injection_process(w: World, inj: Injection) -> Generator[simpy.Event, object, None]:
    """A failure the scenario injects at a known time (exact traces in tests)."""
    yield w.env.timeout(inj.at_s)
    if inj.cause in ("job", "loss_spike"):
        for job in w.jobs:
            if job.plan.spec.name == inj.job:
                hit(w, job, inj.cause)
        return
    pod = w.pods[inj.pod]
    component_down(w, pod, inj.cube, inj.cause)
    yield w.env.timeout(inj.duration_s)
    component_up(w, pod, inj.cube)


def start_components(w: World) -> None:
    """Log the cubes down at time 0 (the repaired units have started: `units.start_units`) and
    start the other component processes."""
    sc = w.sc
    env = w.env
    n = sc.usable_cubes
    if w.log_on:
        for pod in w.pods:
            for cube in range(n):
                if pod.down[cube]:
                    w.log("cube_down", NONE, pod.idx, cube, "initial")
    if sc.failure("ocs") is not None:
        for pod in w.pods:
            for _ in range(sc.pod.ocs_count):
                env.process(ocs_process(w, pod))
    if sc.failure("link") is not None:
        for pod in w.pods:
            for cube in range(n):
                env.process(link_process(w, pod, cube))
    if sc.maintenance is not None:
        for pod in w.pods:
            env.process(maintenance_process(w, pod))
    for inj in sc.injections:
        if inj.cause not in ("sdc", "straggler"):  # these two are the job's faults (jobfaults)
            env.process(injection_process(w, inj))
