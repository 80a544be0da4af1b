"""The training job as a SimPy process: waits for its slices, then runs one CYCLE timeout per
(re)start (recovery phases + compute with checkpoints to the end of the work), until done or
the horizon. Every state change goes through `lifecycle`; cubes through `scheduling`.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from tpusim.sim import lifecycle
from tpusim.sim.scheduling import release, request
from tpusim.sim.world import WAITING, JobState, World


def job_process(w: World, job: JobState) -> Generator[simpy.Event, object, None]:
    """The job from submission to the end of its work (or the horizon)."""
    env = w.env
    spec = job.plan.spec
    if spec.submit_s > 0:
        yield env.timeout(spec.submit_s)
    if spec.after is not None:  # the next phase of a training schedule
        before = next(j for j in w.jobs if j.plan.spec.name == spec.after)
        yield before.finished
    lifecycle.submitted(w, job)
    while True:
        if not job.runnable():
            lifecycle.enter(w, job, WAITING)
            while not job.runnable():
                request(w, job)
                if job.runnable():
                    break
                try:
                    yield lifecycle.grant(w, job)
                except simpy.Interrupt:
                    lifecycle.interrupt_handled(job)
            lifecycle.leave(w, job)
        elif not job.complete():
            request(w, job)  # elastic, degraded: keep asking for the missing slices
        try:
            total = lifecycle.begin_cycle(w, job)
            yield env.timeout(total)
            lifecycle.finish(w, job, total)
            release(w, job)
            return
        except simpy.Interrupt as interrupt:
            lifecycle.interrupted(w, job, interrupt.cause)
