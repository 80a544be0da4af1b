"""The training job, driven by SimPy events: it waits for its slices, then runs one CYCLE
timeout per (re)start (recovery phases + compute with checkpoints to the end of the work),
until done or the horizon. Every state change goes through `lifecycle`; cubes through
`scheduling`.

A job is a small state machine on callbacks rather than a generator process, so that an
interruption costs no SimPy event of its own: `lifecycle` queues it (`World.interrupts`) and the
engine's clock hands the queue to `handle_interrupts` right after the event during which it was
raised, the moment SimPy would run its urgent Interruption event. The CYCLE timeout of an
interrupted run still fires, but carries a stale token and is ignored.

    submit --(after: the job it follows is done)--> advance
    advance: runnable? no -> WAITING, request cubes, wait for the grant -> advance
                       yes -> begin_cycle, timeout(total) -> finish, release cubes
    interrupted -> lifecycle.interrupted (roll back) -> advance
    slowed (a straggler appeared): account the run so far, lay out the rest at the new speed
        (at once, or when the blocking save under way ends) -> a new timeout

The CYCLE timeout of a run cut short (interrupted, or laid out again) still fires, but
carries a stale token and is ignored.
"""

from __future__ import annotations

import math

import simpy
from simpy.events import URGENT

from tpusim.sim import lifecycle
from tpusim.sim.progress import save_left
from tpusim.sim.scheduling import ocs_configured, release, request
from tpusim.sim.world import EPS, WAITING, JobState, Timer, World


def start_job(w: World, job: JobState) -> None:
    """The job's first move, at time 0 as a process would make it (an urgent event), then at its
    submission."""
    spec = job.plan.spec
    kick = simpy.Event(w.env)
    kick._ok, kick._value = True, None
    if spec.submit_s > 0:
        kick.callbacks.append(lambda _ev: _after_delay(w, job))
        w.env.schedule(kick, URGENT, spec.submit_s)
    else:
        kick.callbacks.append(lambda _ev: _after_delay(w, job))
        w.env.schedule(kick, URGENT)


def _after_delay(w: World, job: JobState) -> None:
    after = job.plan.spec.after
    if after is not None:  # the next phase of a training schedule
        before = next(j for j in w.jobs if j.plan.spec.name == after)
        if before.finished.callbacks is not None:  # not yet processed
            before.finished.callbacks.append(lambda _ev: _submit(w, job))
            return
    _submit(w, job)


def _submit(w: World, job: JobState) -> None:
    lifecycle.submitted(w, job)
    advance(w, job)


def advance(w: World, job: JobState) -> None:
    """The job's next move: wait for its slices, or (re)start a CYCLE."""
    if not job.runnable():
        lifecycle.enter(w, job, WAITING)
        _wait(w, job)
        return
    if not job.complete():
        request(w, job)  # elastic, degraded: keep asking for the missing slices
    _cycle(w, job)


def _wait(w: World, job: JobState) -> None:
    request(w, job)
    if job.runnable():
        lifecycle.leave(w, job)
        _cycle(w, job)
    else:
        lifecycle.grant(w, job).callbacks.append(lambda _ev: _granted(w, job))


def _granted(w: World, job: JobState) -> None:
    if job.runnable():
        lifecycle.leave(w, job)
        _cycle(w, job)
    else:
        _wait(w, job)


def _cycle(w: World, job: JobState) -> None:
    total = lifecycle.begin_cycle(w, job)
    if job.recovery.reconfigures:
        ocs_configured(job)  # the cross-connects join the slices' present cubes
    if total != math.inf:  # a job that trains to the horizon never ends its CYCLE
        w.env.call_at(total, _cycle_end, (job, job.cycle_token, total))


def slowed(w: World, job: JobState) -> None:
    """A straggler appeared in the slices of the computing `job`: unless it already runs at a
    straggler's pace, the rest of its run is laid out again at the slower speed, now or, during
    a blocking save (which a straggler does not slow), just after the save ends."""
    if job.speed < 1.0 or job.interrupt_pending or not lifecycle.in_run(w, job):
        return
    wait = save_left(w, job)
    if wait > 0:  # half an EPS past the save's end, so that the split counts it as done
        w.env.call_at(wait + EPS / 2, _slow_after_save, (job, job.cycle_token))
    else:
        _lay_out_again(w, job)


def _slow_after_save(timer: Timer) -> None:
    job, token = timer.value
    if token == job.cycle_token:  # not interrupted (nor laid out again) meanwhile
        _lay_out_again(job.world, job)


def _lay_out_again(w: World, job: JobState) -> None:
    lifecycle.leave(w, job)
    total = lifecycle.resume(w, job)
    if total != math.inf:
        w.env.call_at(total, _cycle_end, (job, job.cycle_token, total))


def _cycle_end(timer: Timer) -> None:
    job, token, total = timer.value
    if token != job.cycle_token:
        return  # the run was interrupted
    w = job.world
    lifecycle.finish(w, job, total)
    release(w, job)


def handle_interrupts(w: World) -> None:
    """Hand the interruptions raised during the last event to their jobs, in order."""
    queue = w.interrupts
    while queue:
        job, cause = queue.popleft()
        lifecycle.interrupted(w, job, cause)
        advance(w, job)
