"""The training job's state machine, a SimPy process (`job_process`):
WAITING -> [RECONFIGURING] -> INITIALIZING -> STARTING -> [RESTORING] -> RUNNING <-> SAVING
-> DONE. The recovery phases and the compute run with its checkpoints are one timeout per
(re)start, split in closed form by `progress` when an interruption or the horizon cuts it.
Interruptions (`hit`) come from the component processes and from the scheduler (an elastic
job re-forming at full size).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from tpusim.sim.progress import leave, lose, plan_run, recovery_phases
from tpusim.sim.scheduling import release, request
from tpusim.sim.world import (
    ACTIVE,
    CYCLE,
    DONE,
    EPS,
    RECONF,
    SAVE,
    STATE_NAMES,
    WAITING,
    JobState,
    World,
)


def enter(w: World, job: JobState, state: int) -> None:
    """The job enters `state` now."""
    job.state = state
    job.phase_start = w.env.now
    if w.log_on:
        w.log("state", job.idx, -1, -1, STATE_NAMES[state])


def hit(w: World, job: JobState, cause: str) -> None:
    """Interrupt an active job (once per instant); count the cause."""
    if job.state not in ACTIVE or job.interrupt_pending:
        return
    job.causes[cause] += 1
    job.interrupt_pending = True
    if w.log_on:
        w.log("interrupt", job.idx, -1, -1, cause)
    job.proc.interrupt(cause)


def in_run(w: World, job: JobState) -> bool:
    """True once the current CYCLE's recovery phases are over (the job computes or saves)."""
    return job.state == CYCLE and w.env.now >= job.phase_start + job.recovery_s


def job_process(w: World, job: JobState) -> Generator[simpy.Event, object, None]:
    """The job from submission to the end of its work (or the horizon)."""
    env = w.env
    plan = job.plan
    if plan.spec.submit_s > 0:
        yield env.timeout(plan.spec.submit_s)
    job.window_start = env.now
    while True:
        if not job.runnable():
            enter(w, job, WAITING)
            while not job.runnable():
                request(w, job)
                if job.runnable():
                    break
                try:
                    yield job.grant
                except simpy.Interrupt:
                    job.interrupt_pending = False
            leave(w, job)
        elif not job.complete():
            request(w, job)  # elastic, degraded: keep asking for the missing slices
        try:
            # reconfigure, initialise, start, restore, then compute with its periodic
            # checkpoints to the end of the work: one timeout, split in closed form when an
            # interruption (or the horizon) cuts it
            job.phases = recovery_phases(w, job)
            job.recovery_s = sum(d for _, d in job.phases)
            for state, _duration in job.phases:  # consumed; restored if cut short
                if state == RECONF:
                    job.reconfigure = False
                elif state == SAVE:
                    job.notice_save = False
            job.running_slices = job.complete_slices()
            total = job.recovery_s
            if plan.work_s - job.progress > EPS:
                total += plan_run(w, job)
            else:
                job.run = None
            job.state = CYCLE
            job.phase_start = env.now
            yield env.timeout(total)
            leave(w, job, total)
            job.end_s = env.now
            enter(w, job, DONE)
            release(w, job)
            return
        except simpy.Interrupt as interrupt:
            job.interrupt_pending = False
            leave(w, job)
            lose(w, job, interrupt.cause)
            if plan.spec.elastic:
                if interrupt.cause == "grow":  # re-form at full size
                    job.grow, job.shrink = True, False
                else:  # go on with the surviving slices if there are enough
                    job.grow = False
                    job.shrink = not job.complete() and job.runnable()
