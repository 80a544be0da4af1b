"""A job's time accounting in closed form: the recovery phases and the compute run with its
periodic checkpoints are laid out once when a CYCLE begins (`plan_run`), and split when the
job leaves it (`leave`: at its end, at an interruption or at the horizon), never with one
event per step or per checkpoint. Also the roll-back after an interruption (`lose`) and
the recovery phases a restart goes through (`recovery_phases`).
"""

from __future__ import annotations

import math

from tpusim.sim.world import (
    C_SAVE,
    C_WAIT,
    CATEGORY_OF,
    CYCLE,
    EPS,
    INIT,
    PRODUCTIVE,
    RECONF,
    RESTORE,
    RUNNING,
    SAVE,
    STARTUP,
    STATE_NAMES,
    WASTED,
    JobState,
    World,
)


def leave(w: World, job: JobState, planned: float | None = None) -> None:
    """Account the time since the phase began (exactly `planned` when the phase ran to its
    end, so that float rounding of the clock cannot stall progress); RUNNING time becomes
    progress."""
    state = job.state
    dt = w.env.now - job.phase_start if planned is None else planned
    if state == CYCLE:
        split_recovery(w, job, min(dt, job.recovery_s))
        if dt >= job.recovery_s:
            recovered(w, job)
            if job.run is not None:
                job.phase_start += job.recovery_s
                split_run(w, job, dt - job.recovery_s, completed=planned is not None)
        job.state = -1
        return
    if state not in CATEGORY_OF:
        return
    job.acc[CATEGORY_OF[state]] += dt
    if state == RUNNING:
        job.progress += dt
        job.until_ckpt -= dt
    job.phase_start = w.env.now
    job.state = -1


def plan_run(w: World, job: JobState) -> float:
    """Lay out the run from the job's state: a first compute segment to the next
    checkpoint, then (interval, blocking save) cycles, then a last segment that ends the
    work. Returns its duration in seconds (inf for a job that trains until the horizon)."""
    plan = job.plan
    rec = w.sc.recovery
    job.rate = rate = job.running_slices / plan.spec.slices
    job.block = rec.checkpoint_async_block_s if rec.checkpoint_async else rec.checkpoint_save_s
    work = plan.work_s - job.progress
    first = min(job.until_ckpt, work)
    after = work - first
    if after <= EPS:
        job.run = (first, 0, 0.0)
        return first / rate
    tau = plan.interval_s
    if math.isinf(after):
        job.run = (first, math.inf, math.inf)
        return math.inf
    mid = max(0, math.ceil((after - EPS) / tau) - 1)  # full cycles before the last segment
    last = after - mid * tau
    job.run = (first, 1 + mid, last)
    return first / rate + (1 + mid) * job.block + mid * tau / rate + last / rate


def split_run(w: World, job: JobState, elapsed: float, *, completed: bool) -> None:
    """Account `elapsed` seconds of the laid-out run: progress (at `rate`; the missing
    slices' share waits for resources), blocking saves, the checkpoints completed (sync:
    durable at once; async: durable `checkpoint_save_s` after the snapshot), logs."""
    plan = job.plan
    rec = w.sc.recovery
    rate, block, tau = job.rate, job.block, plan.interval_s
    first, n_ckpt, last = job.run
    t0 = job.phase_start
    if completed:
        done = n_ckpt
        gained = first + (n_ckpt - 1) * tau + last if n_ckpt else first
        saving = n_ckpt * block
    elif elapsed < first / rate:
        done, gained, saving = 0, elapsed * rate, 0.0
    else:
        t = elapsed - first / rate
        gained = first
        if n_ckpt == 0 or t < block:
            done, saving = 0, min(t, block) if n_ckpt else 0.0
        else:
            t -= block
            cycle = tau / rate + block
            k = min(math.floor(t / cycle), n_ckpt - 1)  # further completed checkpoints
            t -= k * cycle
            done = 1 + k
            gained += k * tau
            saving = done * block
            if done < n_ckpt:  # inside a full cycle: compute, then its save
                gained += min(t, tau / rate) * rate
                saving += max(0.0, t - tau / rate)
            else:  # inside the last segment
                gained += min(t * rate, last)
    compute_s = gained / rate
    job.acc[PRODUCTIVE] += gained
    if rate < 1.0:
        job.acc[C_WAIT] += compute_s * (1.0 - rate)
    job.acc[C_SAVE] += saving
    start = job.progress
    job.progress += gained
    if done:
        # checkpoint i (1-based) ends at t0 + first/r + i*block + (i-1)*tau/r
        def ends(i: int) -> float:
            return t0 + first / rate + i * block + (i - 1) * tau / rate

        def progress_at(i: int) -> float:
            return start + first + (i - 1) * tau

        if w.log_on:
            for i in range(1, int(done) + 1):
                if block > 0:
                    w.events.append((ends(i) - block, "state", job.idx, -1, -1, "saving"))
                w.events.append((ends(i), "checkpoint", job.idx, -1, -1, ""))
                w.events.append((ends(i), "state", job.idx, -1, -1, "running"))
        if rec.checkpoint_async:
            if job.pending_ckpt is not None and job.pending_ckpt[0] <= ends(1) + EPS:
                job.ckpt = max(job.ckpt, job.pending_ckpt[1])
            if done >= 2:  # a write finishes within one interval (interval >= save time)
                job.ckpt = max(job.ckpt, progress_at(done - 1))
            job.pending_ckpt = (ends(done) + rec.checkpoint_save_s, progress_at(done))
        else:
            job.ckpt = progress_at(done)
        job.until_ckpt = tau - (job.progress - progress_at(done))
    else:
        job.until_ckpt -= gained
    if w.log_on and not completed and saving > done * block + EPS:
        w.events.append((t0 + elapsed - (saving - done * block), "state", job.idx, -1, -1,
                         "saving"))


def split_recovery(w: World, job: JobState, elapsed: float) -> None:
    """The recovery phases ran back to back at the start of a CYCLE; give each its share of
    `elapsed` in order (closed form) and log the ones that began. Their flags were consumed
    when the CYCLE began; a reconfiguration or notice save cut short must be redone."""
    t = job.phase_start
    remaining = elapsed
    for state, duration in job.phases:
        begun = remaining > 0 or (remaining >= 0 and duration == 0)
        used = min(duration, remaining) if begun else 0.0
        if begun:
            if w.log_on:
                w.events.append((t, "state", job.idx, -1, -1, STATE_NAMES[state]))
            job.acc[CATEGORY_OF[state]] += used
            remaining -= used
            t += used
        if used < duration or not begun:
            remaining = -1.0  # later phases did not begin
            if state == RECONF:
                job.reconfigure = True
            elif state == SAVE:
                job.notice_save = True


def recovered(w: World, job: JobState) -> None:
    """The recovery phases are over: the job runs on the slices it has."""
    job.started = True
    job.degraded = job.running_slices < job.plan.spec.slices
    job.shrink = job.grow = job.in_memory = False
    if w.log_on:
        w.events.append((job.phase_start + job.recovery_s, "state", job.idx, -1, -1,
                         "running"))


def commit_async(w: World, job: JobState) -> None:
    """An asynchronous checkpoint write that has finished by now becomes durable."""
    if job.pending_ckpt is not None and job.pending_ckpt[0] <= w.env.now + EPS:
        job.ckpt = max(job.ckpt, job.pending_ckpt[1])
        job.pending_ckpt = None


def lose(w: World, job: JobState, cause: str) -> None:
    """Roll back to the last durable state after an interruption. In memory (an in-memory
    replica, or the surviving data-parallel slices of an elastic job) only the current
    partial step is lost."""
    rec = w.sc.recovery
    spec = job.plan.spec
    elastic_alive = spec.elastic and job.started and cause != "job" and job.complete_slices() >= 1
    if job.notice_save:
        keep = job.progress  # drained with a final checkpoint (maintenance notice)
    elif rec.in_memory_replica or elastic_alive or cause == "grow":
        step = job.plan.step_time_s
        keep = max(job.ckpt, job.progress - job.progress % step)
        job.in_memory = True
    else:
        commit_async(w, job)
        keep = job.ckpt
    lost = job.progress - keep
    if lost > 0:
        job.acc[PRODUCTIVE] -= lost
        job.acc[WASTED] += lost
    job.progress = keep
    job.ckpt = keep
    job.pending_ckpt = None
    job.until_ckpt = job.plan.interval_s


def recovery_phases(w: World, job: JobState) -> list[tuple[int, float]]:
    """The phases a (re)start goes through, in order, with their durations in seconds."""
    rec = w.sc.recovery
    phases: list[tuple[int, float]] = []
    if job.notice_save:
        phases.append((SAVE, rec.checkpoint_save_s))
    if job.shrink:  # elastic: the surviving slices re-shard and go on
        return phases + [(STARTUP, rec.program_startup_s)]
    if job.reconfigure and w.ocs:
        phases.append((RECONF, rec.ocs_reconfigure_s))
    phases += [(INIT, rec.tpu_init_s), (STARTUP, rec.program_startup_s)]
    if job.started:
        phases.append((RESTORE, rec.replica_restore_s if (rec.in_memory_replica or job.in_memory)
                       else rec.checkpoint_restore_s))
    return phases
