"""The training job's state machine: the only writer of a job's phase, its restart record
(`Restart`: drain, reconfigure, shrink, from_memory), its interrupt flag, window and grant.

    PENDING -> WAITING -> CYCLE -> DONE
                  ^         |
                  +---------+  interrupted (`hit`, `request_grow`) -> roll back -> restart

A CYCLE is the recovery phases a (re)start needs (`recovery_phases`: [save,] [reconfigure,]
initialise, start, [restore]) followed by the compute with its periodic checkpoints, laid out
as one timeout by `training` and split in closed form by `progress` when the job leaves it
(`leave`). Everything here is synchronous (no SimPy waits); the events that drive it are
`training`'s.

Interruptions come from the component processes (`hit`, with the cause counted) and from the
scheduler (`granted`: an elastic job re-forms at full size when its slices are back).
"""

from __future__ import annotations

import simpy

from tpusim.sim.progress import (
    KEEP_ALL,
    KEEP_CHECKPOINT,
    KEEP_STEP,
    account_phases,
    account_wait,
    plan_run,
    progress_now,
    roll_back,
    roll_back_to,
    split_recovery,
    split_run,
)
from tpusim.sim.world import (
    ACTIVE,
    BETWEEN,
    CYCLE,
    DONE,
    EPS,
    INIT,
    NO_RECOVERY,
    NONE,
    RECONF,
    RESTORE,
    SAVE,
    SELECT,
    STARTUP,
    STATE_NAMES,
    WAITING,
    JobState,
    Recovery,
    World,
)


def enter(w: World, job: JobState, state: int) -> None:
    """The job enters `state` now."""
    job.state = state
    job.phase_start = w.env.now
    if w.log_on:
        w.log("state", job.idx, NONE, NONE, STATE_NAMES[state])


def submitted(w: World, job: JobState) -> None:
    """The job's window opens now."""
    job.window_start = w.env.now


def in_run(w: World, job: JobState) -> bool:
    """True once the current CYCLE's recovery phases are over (the job computes or saves)."""
    return job.state == CYCLE and w.env.now >= job.phase_start + job.recovery_s


def hit(w: World, job: JobState, cause: str, *, reconfigure: bool = False,
        drain: bool = False) -> None:
    """A failure of `cause` strikes the job: its next start must `reconfigure` the OCS (a
    cube of a slice was lost, or a reroute) and, with `drain` (maintenance with notice), save a
    checkpoint first if the job is computing. An active job is interrupted (once per instant)
    and the cause counted."""
    if reconfigure:
        job.restart.reconfigure = True
    if drain and in_run(w, job):
        job.restart.drain = True
    if job.state not in ACTIVE or job.interrupt_pending:
        return
    job.causes[cause] += 1
    _interrupt(w, job, cause)


def request_grow(w: World, job: JobState) -> None:
    """Interrupt a degraded elastic job so that it re-forms at full size (not a failure)."""
    if job.state in ACTIVE and not job.interrupt_pending:
        _interrupt(w, job, "grow")


def _interrupt(w: World, job: JobState, cause: str) -> None:
    """Queue the interruption; `training.handle_interrupts` takes it after this event."""
    job.interrupt_pending = True
    job.cycle_token += 1  # the running CYCLE's timeout is void
    if w.log_on:
        w.log("interrupt", job.idx, NONE, NONE, cause)
    w.interrupts.append((job, cause))


def slices_rewired(job: JobState) -> None:
    """The scheduler placed a slice on the OCS: the next start reconfigures."""
    job.restart.reconfigure = True


def needs_selection(job: JobState, seconds: float) -> None:
    """A replacement came from the working or spare pool: the next start selects hosts."""
    job.restart.select_s = max(job.restart.select_s, seconds)


def corrupted(w: World, job: JobState, mark: int) -> bool:
    """Silent data corruption strikes the job now (if it computes): remember its progress
    under `mark` until it is found or rolled back past. True if it struck."""
    if not in_run(w, job):
        return False
    job.corruptions[mark] = progress_now(w, job, job.phase_start + job.recovery_s)
    return True


def corruption_found(w: World, job: JobState, mark: int) -> None:
    """Corruption `mark` is detected: unless a roll-back has discarded it, the job goes back to
    the last checkpoint taken before it (now, or at the interruption this causes)."""
    at = job.corruptions.pop(mark, None)
    if at is None or job.state == DONE:
        return
    bound = job.restart.rollback_bound
    job.restart.rollback_bound = at if bound is None else min(bound, at)
    if job.state in ACTIVE:
        hit(w, job, "sdc")
    else:  # waiting or between phases: the progress it keeps is rolled back at once
        job.causes["sdc"] += 1
        _roll_back(w, job, "sdc")


def granted(w: World, job: JobState) -> None:
    """All slices are formed: wake a waiting job, or re-form a degraded elastic one."""
    if job.state == WAITING:
        if not job.grant.triggered:
            job.grant.succeed()
    elif job.degraded or job.restart.shrink:
        request_grow(w, job)


def grant(w: World, job: JobState) -> simpy.Event:
    """The event a waiting job waits on (a fresh one once the last has fired)."""
    if job.grant.triggered:
        job.grant = w.env.event()
    return job.grant


def recovery_phases(w: World, job: JobState) -> Recovery:
    """The phases a (re)start goes through, in order, with their durations in seconds (cached
    per distinct restart: the durations are the scenario's). The OCS is reconfigured only when
    a cross-connect changes: a reroute (`Restart.reconfigure`), a slice placed anew, or a
    slice position whose cube is not the one the OCS was last wired for (`SliceState.rewired`);
    a job that gets its own repaired cube back restarts without one."""
    restart = job.restart
    memory = w.sc.recovery.in_memory_replica or restart.from_memory
    reconfigure = w.ocs and (restart.reconfigure or any(sl.rewired for sl in job.slices))
    key = (restart.drain, restart.shrink, restart.select_s, reconfigure, job.started, memory)
    found = w.phase_cache.get(key)
    if found is None:
        found = w.phase_cache[key] = Recovery.of(tuple(_phases(w, job, reconfigure)))
    return found


def _phases(w: World, job: JobState, reconfigure: bool) -> list[tuple[int, float]]:
    rec = w.sc.recovery
    restart = job.restart
    phases: list[tuple[int, float]] = []
    if restart.drain:
        phases.append((SAVE, rec.checkpoint_save_s))
    if restart.shrink:  # elastic: the surviving slices re-shard and go on
        return phases + [(STARTUP, rec.program_startup_s)]
    if restart.select_s > 0:
        phases.append((SELECT, restart.select_s))
    if reconfigure:  # a cross-connect changes: a reroute, or a slice's cubes changed
        phases.append((RECONF, rec.ocs_reconfigure_s))
    phases += [(INIT, rec.tpu_init_s), (STARTUP, rec.program_startup_s)]
    if job.started:
        memory = rec.in_memory_replica or restart.from_memory
        phases.append((RESTORE, rec.replica_restore_s if memory else rec.checkpoint_restore_s))
    return phases


def begin_cycle(w: World, job: JobState) -> float:
    """Lay out the (re)start and the run to the end of the work from now; returns its length
    in seconds (inf for a job that trains to the horizon). The restart flags of the phases
    laid out are consumed (restored by `leave` if a phase is cut short)."""
    recovery = job.recovery = recovery_phases(w, job)
    job.recovery_s = recovery.total_s
    restart = job.restart
    if recovery.reconfigures:
        restart.reconfigure = False
    if recovery.drains:
        restart.drain = False
    if recovery.selects:
        restart.select_s = 0.0
    job.running_slices = job.complete_slices()
    total = job.recovery_s + plan_run(w, job)
    job.state = CYCLE
    job.phase_start = w.env.now
    return total


def resume(w: World, job: JobState) -> float:
    """The job's speed changed while it computes (a straggler appeared in its slices): once
    `leave` has accounted the run so far, lay out the rest of it from now, with no recovery
    phases, at the new speed. Returns its length in seconds (inf: to the horizon); the old
    CYCLE's timeout is void."""
    job.recovery = NO_RECOVERY
    job.recovery_s = 0.0
    job.cycle_token += 1
    total = plan_run(w, job)
    job.state = CYCLE
    job.phase_start = w.env.now
    return total


def leave(w: World, job: JobState, planned: float | None = None) -> None:
    """Account the time since the phase began (exactly `planned` when the phase ran to its
    end, so that float rounding of the clock cannot stall progress)."""
    state = job.state
    dt = w.env.now - job.phase_start if planned is None else planned
    if state == CYCLE:
        recovery = job.recovery_s
        if dt > recovery + EPS and not w.log_on:  # every phase ran to its end
            account_phases(job)
        else:
            _redo(job, split_recovery(w, job, min(dt, recovery)))
        if dt >= recovery:
            _recovered(w, job)
            if job.run is not None:
                split_run(w, job, job.phase_start + recovery, dt - recovery,
                          completed=planned is not None)
    elif state == WAITING:
        account_wait(w, job, dt)
    else:
        return
    job.state = BETWEEN


def _redo(job: JobState, cut: int) -> None:
    """The recovery phases from index `cut` on were cut short: the next restart redoes them."""
    restart = job.restart
    for phase, duration in job.recovery.phases[cut:]:
        if phase == RECONF:
            restart.reconfigure = True
        elif phase == SAVE:
            restart.drain = True
        elif phase == SELECT:
            restart.select_s = max(restart.select_s, duration)


def _recovered(w: World, job: JobState) -> None:
    """The recovery phases are over: the job runs on the slices it has."""
    job.started = True
    job.degraded = job.running_slices < job.plan.spec.slices
    job.restart.shrink = job.restart.from_memory = False
    if not job.degraded:
        job.cause = None  # recovered: later badput is not this interruption's
    if w.log_on and job.recovery.phases:  # a run resumed at a new speed (`resume`) goes on
        w.events.append((job.phase_start + job.recovery_s, "state", job.idx, NONE, NONE,
                         "running"))


def finish(w: World, job: JobState, planned: float) -> None:
    """The CYCLE ran to its end: the work is done."""
    leave(w, job, planned)
    job.end_s = w.env.now
    enter(w, job, DONE)
    job.finished.succeed()


def interrupted(w: World, job: JobState, cause: str) -> None:
    """The CYCLE was cut by `cause`: account it, roll back, and choose the next restart."""
    job.interrupt_pending = False
    leave(w, job)
    _roll_back(w, job, cause)
    spec = job.plan.spec
    if spec.elastic:  # go on with the surviving slices if there are enough (not to grow)
        job.restart.shrink = cause != "grow" and not job.complete() and job.runnable()


def _roll_back(w: World, job: JobState, cause: str) -> None:
    """Roll back after `cause`. Found corruption goes back to the last checkpoint before it, a
    loss spike `rollback_steps` steps (repeated steps; both restore from storage); a drained
    job keeps everything; in memory (an in-memory replica, or the surviving data-parallel slices
    of an elastic job) only the current partial step is lost; else back to the last checkpoint."""
    if cause != "grow":
        job.cause = cause
    restart = job.restart
    if restart.rollback_bound is not None:
        roll_back_to(w, job, restart.rollback_bound, repeated=False)
        restart.rollback_bound = None
        restart.from_memory = False
    elif cause == "loss_spike":
        spike = w.sc.faults.loss_spike
        roll_back_to(w, job, job.progress - spike.rollback_steps * job.plan.step_time_s,
                     repeated=True)
        restart.from_memory = False
    elif restart.drain:
        roll_back(w, job, KEEP_ALL)  # drained with a final checkpoint (maintenance notice)
    elif (w.sc.recovery.in_memory_replica or cause == "grow"
          or (job.plan.spec.elastic and job.started and cause != "job"
              and job.complete_slices() >= 1)):
        roll_back(w, job, KEEP_STEP)
        restart.from_memory = True
    else:
        roll_back(w, job, KEEP_CHECKPOINT)
    if job.corruptions:  # undetected corruption that this roll-back undid is forgotten
        for mark, at in list(job.corruptions.items()):
            if at >= job.progress:
                del job.corruptions[mark]


def close(w: World, job: JobState) -> None:
    """The horizon: account the open phase."""
    if job.state in ACTIVE or job.state == WAITING:
        leave(w, job)
