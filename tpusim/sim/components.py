"""Pod and cube health: the component failure and repair processes (plain SimPy generator
functions) and the incremental healthy-cube bookkeeping they drive.

- `unit_process` (hosts, chips, whole cubes): fails (ttf), waits for a repair crew (`Crews`, a
  first-come-first-served counting resource per pod with the semantics of simpy.Resource, if
  crews are limited), is repaired (ttr). A cube is usable only while all its units are up;
  whole-cube units are correlated failures (rack, power domain).
- `ocs_process`, `link_process`: optical failures; the OCS routes around them after a
  reconfiguration, so the job restarts but keeps its cubes.
- `maintenance_process`: rolling planned maintenance, one cube of each pod at a time.
- `injection_process`: failures at known times given by the scenario.
- `job_failure_process`: job-level (software) interruptions.

A cube going down interrupts the job that owns it and asks the scheduler for a replacement;
a cube coming back lets the scheduler serve waiting jobs.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from tpusim.sim.lifecycle import hit
from tpusim.sim.scenario import Injection
from tpusim.sim.scheduling import cube_lost, request, try_schedule
from tpusim.sim.world import ACTIVE, DONE, NONE, JobState, PodState, World


def set_healthy(w: World, pod: PodState, delta: int) -> None:
    """Account the time at the old healthy-cube count, then change it by `delta`."""
    now = w.env.now
    pod.hist[pod.healthy] += now - pod.last_t
    pod.last_t = now
    pod.healthy += delta


def component_down(w: World, pod: PodState, cube: int, cause: str) -> None:
    """A host/cube/maintenance took `cube` down one more level."""
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
    hit(w, job, cause, reconfigure=w.ocs, drain=cause == "maintenance" and notice)
    request(w, job)


def component_up(w: World, pod: PodState, cube: int) -> None:
    """A unit of `cube` is back; the cube is healthy again when none is down."""
    w.n_events += 1
    pod.down[cube] -= 1
    if pod.down[cube] != 0:
        return
    set_healthy(w, pod, +1)
    if w.log_on:
        w.log("cube_up", NONE, pod.idx, cube, "")
    pod.usable(cube)
    if w.pending:
        try_schedule(w)


def unit_process(w: World, pod: PodState, cube: int, up_for: float,
                 comp: str) -> Generator[simpy.Event, object, None]:
    """One repairable unit of `cube` (a host, a chip, or the cube as a whole): up for a
    time-to-failure draw, then down until a crew is free and the repair is over."""
    env = w.env
    ttf, ttr = w.samplers[comp]
    wait = up_for
    while True:
        if wait > 0:
            yield env.timeout(wait)
            component_down(w, pod, cube, comp)
        if pod.crews is None:
            yield env.timeout(ttr.draw())
        else:
            wait_crew = pod.crews.acquire()
            if wait_crew is not None:
                yield wait_crew
            yield env.timeout(ttr.draw())
            pod.crews.release()
        component_up(w, pod, cube)
        wait = ttf.draw()


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
    if inj.cause == "job":
        for job in w.jobs:
            if job.plan.spec.name == inj.job:
                hit(w, job, "job")
        return
    pod = w.pods[inj.pod]
    component_down(w, pod, inj.cube, inj.cause)
    yield w.env.timeout(inj.duration_s)
    component_up(w, pod, inj.cube)


def job_failure_process(w: World, job: JobState) -> Generator[simpy.Event, object, None]:
    """Job-level (software) interruptions of `job` until it is done."""
    ttf = w.samplers["job"][0]
    while job.state != DONE:
        yield w.env.timeout(ttf.draw())
        w.n_events += 1
        hit(w, job, "job")


def start_components(w: World) -> None:
    """Start every component process (with warm start, units begin down with their steady-state
    probability, without a failure event) and log the cubes down at time 0."""
    sc = w.sc
    env = w.env
    units_per_cube = {"host": sc.pod.chip.hosts_per_cube, "chip": sc.pod.chip.chips_per_cube,
                      "cube": 1}
    n = sc.usable_cubes
    for comp in ("host", "chip", "cube"):
        f = sc.failure(comp)
        if f is None:
            continue
        per_cube = units_per_cube[comp]
        a_down = f.ttr.mean_s / (f.ttf.mean_s + f.ttr.mean_s) if sc.warm_start else 0.0
        total = sc.pod_count * n * per_cube
        down0 = w.rng_init.random(total) < a_down
        first_up = f.ttf.sample(w.rng_init, total)
        for i in range(total):
            p, rest = divmod(i, n * per_cube)
            pod, cube = w.pods[p], rest // per_cube
            if down0[i]:
                # starts down (steady state): counted as down without a failure event
                pod.down[cube] += 1
                if pod.down[cube] == 1:
                    pod.healthy -= 1
                    pod.unusable(cube)
                env.process(unit_process(w, pod, cube, 0.0, comp))
            else:
                env.process(unit_process(w, pod, cube, float(first_up[i]), comp))
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
        env.process(injection_process(w, inj))
