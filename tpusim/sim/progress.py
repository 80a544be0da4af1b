"""A job's time accounting in closed form: the compute run with its periodic checkpoints is
laid out once when a CYCLE begins (`plan_run`) and split when the job leaves it (at its end, at
an interruption or at the horizon: `split_recovery`, `split_run`), never with one event per step
or per checkpoint; the roll-back after an interruption (`roll_back`). The only writer of the
job's accounting fields (`acc`, `by_cause`, `progress`, `ckpt`, `pending_ckpt`, `until_ckpt`,
`history`, `run`, `rate`, `speed`, `block`); `lifecycle` decides when each of these is called.
Every second of badput is also counted under the interruption cause the job is recovering from
(`job.cause`; "none" for periodic saves and the first start), except the compute a straggler's
slower steps cost, which is the `straggler` category and cause whatever the job recovers from.

A run progresses at `rate` = (running slices / slices) x `speed` per second of compute;
`speed` is 1 / slowdown while a straggler is in the job's slices (a synchronous step goes at
the pace of its slowest chip), else 1. Of `c` seconds of compute, `c x rate` are productive,
`c (1 - share)` wait for the missing slices (elastic) and `c x share x (1 - speed)` are the
straggler's. Blocking saves are not slowed.
"""

from __future__ import annotations

import math

from tpusim.sim.world import (
    C_SAVE,
    C_STRAGGLER,
    C_WAIT,
    CATEGORY_OF,
    EPS,
    NONE,
    PRODUCTIVE,
    REPEATED,
    STATE_NAMES,
    WASTED,
    JobState,
    World,
)


def _bad(job: JobState, category: int, seconds: float, cause: str | None) -> None:
    """Badput of `category`, also counted under the interruption `cause` it follows."""
    job.acc[category] += seconds
    job.by_cause[cause or "none"] += seconds


def account_wait(w: World, job: JobState, dt: float) -> None:
    """`dt` seconds of waiting for resources."""
    _bad(job, C_WAIT, dt, job.cause)


def plan_run(w: World, job: JobState) -> float:
    """Lay out the run from the job's state: a first compute segment to the next
    checkpoint, then (interval, blocking save) cycles, then a last segment that ends the
    work. Returns its duration in seconds (inf for a job that trains until the horizon)."""
    plan = job.plan
    if plan.work_s - job.progress <= EPS:
        job.run = None
        return 0.0
    rec = w.sc.recovery
    job.rate = rate = job.running_slices / plan.spec.slices
    straggler = w.sc.faults.straggler
    if straggler is not None:
        job.speed = 1.0 / straggler.slowdown if _straggling(w, job) else 1.0
        if job.speed < 1.0:
            job.rate = rate = rate * job.speed
    job.block = rec.checkpoint_async_block_s if rec.checkpoint_async else rec.checkpoint_save_s
    work = plan.work_s - job.progress
    first = min(job.until_ckpt, work)
    after = work - first if math.isfinite(first) else 0.0  # no checkpoint ever: one segment
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


def _straggling(w: World, job: JobState) -> bool:
    """A straggler not yet found is on one of the job's cubes."""
    pods = w.pods
    for sl in job.slices:
        if sl.cubes is not None:
            slow = pods[sl.pod].slow
            if any(slow[c] for c in sl.cubes if c >= 0):
                return True
    return False


def save_left(w: World, job: JobState) -> float:
    """Seconds left of the blocking save under way now in the job's laid-out run (0 when it
    computes, or has no run). Pure."""
    if job.run is None or job.block <= 0:
        return 0.0
    first, n_ckpt, _last = job.run
    if n_ckpt == 0:
        return 0.0
    rate, block, tau = job.rate, job.block, job.plan.interval_s
    t = w.env.now - (job.phase_start + job.recovery_s) - first / rate
    if t < 0:
        return 0.0
    if t < block:
        return block - t
    t -= block
    cycle = tau / rate + block
    k = math.floor(t / cycle)
    if 1 + k >= n_ckpt:
        return 0.0  # in the last segment: no save after it
    t -= k * cycle
    return cycle - t if t >= tau / rate else 0.0


def run_position(job: JobState, elapsed: float, *, completed: bool = False) -> tuple[int, float, float]:
    """Where the laid-out run is `elapsed` seconds after it began: (checkpoints completed,
    progress gained, seconds of blocking saves). Pure."""
    rate, block, tau = job.rate, job.block, job.plan.interval_s
    first, n_ckpt, last = job.run
    if completed:
        done = n_ckpt
        gained = first + (n_ckpt - 1) * tau + last if n_ckpt else first
        return done, gained, n_ckpt * block
    if elapsed < first / rate:
        return 0, elapsed * rate, 0.0
    t = elapsed - first / rate
    gained = first
    if n_ckpt == 0 or t < block:
        return 0, gained, min(t, block) if n_ckpt else 0.0
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
    return done, gained, saving


def progress_now(w: World, job: JobState, run_start: float | None) -> float:
    """The job's progress at this instant, its CYCLE not yet split (`run_start`: when its
    compute began, None if it is not computing). Pure."""
    if run_start is None or job.run is None:
        return job.progress
    return job.progress + run_position(job, w.env.now - run_start)[1]


def split_run(w: World, job: JobState, t0: float, elapsed: float, *, completed: bool) -> None:
    """Account `elapsed` seconds of the laid-out run that began at `t0`: progress (at `rate`; the missing
    slices' share waits for resources), blocking saves, the checkpoints completed (sync:
    durable at once; async: durable `checkpoint_save_s` after the snapshot), logs."""
    rec = w.sc.recovery
    rate, block, tau = job.rate, job.block, job.plan.interval_s
    done, gained, saving = run_position(job, elapsed, completed=completed)
    compute_s = gained / rate
    job.acc[PRODUCTIVE] += gained
    speed = job.speed
    if speed < 1.0:  # slowed by a straggler (a scenario with stragglers only)
        share = job.running_slices / job.plan.spec.slices  # as plan_run laid it out
        if share < 1.0:
            _bad(job, C_WAIT, compute_s * (1.0 - share), job.cause)
        _bad(job, C_STRAGGLER, compute_s * share * (1.0 - speed), "straggler")
    elif rate < 1.0:
        _bad(job, C_WAIT, compute_s * (1.0 - rate), job.cause)  # degraded: the shrinking cause
    _bad(job, C_SAVE, saving, None)
    start = job.progress
    job.progress += gained
    if done:
        held = _checkpoint_progress(job, start, done)
        if w.log_on or rec.checkpoint_async or w.track_history:
            _checkpoints_done(w, job, t0, start, done)
        else:
            job.ckpt = held  # synchronous: durable at once
        job.until_ckpt = tau - (job.progress - held)
    else:
        job.until_ckpt -= gained
    if w.log_on and not completed and saving > done * block + EPS:
        w.events.append((t0 + elapsed - (saving - done * block), "state", job.idx, NONE, NONE,
                         "saving"))


def _checkpoint_end(job: JobState, t0: float, i: int) -> float:
    """When checkpoint i (1-based) of the run laid out from `t0` ends:
    t0 + first/r + i*block + (i-1)*tau/r."""
    rate = job.rate
    return t0 + job.run[0] / rate + i * job.block + (i - 1) * job.plan.interval_s / rate


def _checkpoint_progress(job: JobState, start: float, i: int) -> float:
    """The progress checkpoint i (1-based) of the run that began at `start` progress holds:
    start + first + (i-1)*tau."""
    return start + job.run[0] + (i - 1) * job.plan.interval_s


def _checkpoints_done(w: World, job: JobState, t0: float, start: float, done: int) -> None:
    """The run's first `done` checkpoints completed: log them, make them durable (sync: at
    once; async: a write finishes `checkpoint_save_s` after its snapshot) and keep them in the
    history when a roll-back may need them."""
    rec = w.sc.recovery
    block = job.block
    if w.log_on:
        for i in range(1, int(done) + 1):
            end = _checkpoint_end(job, t0, i)
            if block > 0:
                w.events.append((end - block, "state", job.idx, NONE, NONE, "saving"))
            w.events.append((end, "checkpoint", job.idx, NONE, NONE, ""))
            w.events.append((end, "state", job.idx, NONE, NONE, "running"))
    if rec.checkpoint_async:
        if job.pending_ckpt is not None and job.pending_ckpt[0] <= _checkpoint_end(job, t0, 1) + EPS:
            job.ckpt = max(job.ckpt, job.pending_ckpt[1])
        if done >= 2:  # a write finishes within one interval (interval >= save time)
            job.ckpt = max(job.ckpt, _checkpoint_progress(job, start, done - 1))
        job.pending_ckpt = (_checkpoint_end(job, t0, done) + rec.checkpoint_save_s,
                            _checkpoint_progress(job, start, done))
    else:
        job.ckpt = _checkpoint_progress(job, start, done)
    if w.track_history:
        lag = rec.checkpoint_save_s if rec.checkpoint_async else 0.0
        job.history.extend((_checkpoint_end(job, t0, i) + lag, _checkpoint_progress(job, start, i))
                           for i in range(1, int(done) + 1))


def account_phases(job: JobState) -> None:
    """Every recovery phase of the CYCLE ran to its end (no log): their full durations."""
    acc = job.acc
    for category, duration in job.recovery.charges:
        acc[category] += duration
    job.by_cause[job.cause or "none"] += job.recovery_s


def split_recovery(w: World, job: JobState, elapsed: float) -> int:
    """The recovery phases ran back to back from the start of the CYCLE; give each its share
    of `elapsed` in order (closed form) and log the ones that began. Returns the index of the
    first phase that did not finish (len(phases) when all did)."""
    t = job.phase_start
    remaining = elapsed
    phases = job.recovery.phases
    unfinished = len(phases)
    for i, (state, duration) in enumerate(phases):
        begun = remaining > 0 or (remaining >= 0 and duration == 0)
        used = min(duration, remaining) if begun else 0.0
        if begun:
            if w.log_on:
                w.events.append((t, "state", job.idx, NONE, NONE, STATE_NAMES[state]))
            _bad(job, CATEGORY_OF[state], used, job.cause)
            remaining -= used
            t += used
        if used < duration or not begun:
            return i  # this phase and the later ones did not finish
    return unfinished


def commit_async(w: World, job: JobState) -> None:
    """An asynchronous checkpoint write that has finished by now becomes durable."""
    if job.pending_ckpt is not None and job.pending_ckpt[0] <= w.env.now + EPS:
        job.ckpt = max(job.ckpt, job.pending_ckpt[1])
        job.pending_ckpt = None


KEEP_ALL, KEEP_STEP, KEEP_CHECKPOINT = range(3)  # what an interruption keeps (roll_back)


def roll_back(w: World, job: JobState, keep: int) -> None:
    """Roll back after an interruption: KEEP_ALL (drained with a final checkpoint), KEEP_STEP
    (the state is in memory: only the current partial step is lost) or KEEP_CHECKPOINT (back to
    the last durable checkpoint). The lost progress moves from productive to wasted."""
    if keep == KEEP_ALL:
        kept = job.progress
    elif keep == KEEP_STEP:
        step = job.plan.step_time_s
        kept = max(job.ckpt, job.progress - job.progress % step)
    else:
        commit_async(w, job)
        kept = job.ckpt
    _reset_to(w, job, kept, WASTED)


def roll_back_to(w: World, job: JobState, bound: float, *, repeated: bool) -> None:
    """Roll back to the last checkpoint that is durable now and holds at most `bound` progress
    (the start if none): silent data corruption (wasted progress) or a loss spike (`repeated`
    steps)."""
    now = w.env.now + EPS
    kept = 0.0
    for durable_at, at in reversed(job.history):
        if at <= bound + EPS and durable_at <= now:
            kept = at
            break
    _reset_to(w, job, min(kept, job.progress), REPEATED if repeated else WASTED)


def _reset_to(w: World, job: JobState, kept: float, category: int) -> None:
    lost = job.progress - kept
    if lost > 0:
        job.acc[PRODUCTIVE] -= lost
        _bad(job, category, lost, job.cause)
    job.progress = kept
    job.ckpt = kept
    job.pending_ckpt = None
    job.until_ckpt = job.plan.interval_s
    if job.history and job.history[-1][1] > kept + EPS:
        while job.history and job.history[-1][1] > kept + EPS:
            job.history.pop()  # checkpoints of the abandoned timeline
