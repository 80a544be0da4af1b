"""The discrete-event engine: one replication of a scenario with SimPy.

Processes (plain generator functions):
- `_unit` (hosts, chips, whole cubes): fails (ttf), waits for a repair crew (`Crews`, a
  first-come-first-served counting resource per pod with the semantics of simpy.Resource, if
  crews are limited), is repaired (ttr). A cube is usable only while all its units are up;
  whole-cube units are correlated failures (rack, power domain).
- `_ocs_switch`, `_links`: optical failures; the OCS routes around them after a
  reconfiguration, so the job restarts but keeps its cubes.
- `_maintenance`: rolling planned maintenance, one cube of each pod at a time.
- `_job_failures`: job-level (software) interruptions.
- `_job`: the training job's state machine: WAITING -> [RECONFIGURING] -> INITIALIZING ->
  STARTING -> [RESTORING] -> RUNNING <-> SAVING -> DONE. Progress between events is closed
  form (a timeout to the next checkpoint or the end, never one event per step).

Per-event work is O(1): healthy-cube counts are kept incrementally; the planner is called only
when a slice must be placed or re-formed. Time accounting per job sums exactly to its window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import simpy

from tpusim.sim import placement
from tpusim.sim.failures import Lifetime, Sampler
from tpusim.sim.jobs import JobPlan
from tpusim.sim.scenario import Scenario
from tpusim.topology.ocs import ocs_count, optical_links_per_cube

# Job states; each maps to one accounting category.
PENDING, WAITING, RECONF, INIT, STARTUP, RESTORE, RUNNING, SAVE, DONE, CYCLE = range(10)
STATE_NAMES = ("pending", "waiting", "reconfiguring", "initializing", "starting", "restoring",
               "running", "saving", "done", "running")
# CYCLE = recovery phases (reconfigure, init, start-up, restore) then compute with periodic
# checkpoints to the end of the work, as one timeout split in closed form when an
# interruption or the horizon cuts it: a job has events only when something happens to it.
CATEGORIES = ("productive", "wasted_progress", "waiting_for_resources", "ocs_reconfiguration",
              "tpu_initialization", "program_startup", "checkpoint_restore", "checkpoint_save")
PRODUCTIVE, WASTED, C_WAIT, C_RECONF, C_INIT, C_STARTUP, C_RESTORE, C_SAVE = range(8)
_CATEGORY_OF = {WAITING: C_WAIT, RECONF: C_RECONF, INIT: C_INIT, STARTUP: C_STARTUP,
                RESTORE: C_RESTORE, RUNNING: PRODUCTIVE, SAVE: C_SAVE}
_ACTIVE = frozenset((RECONF, INIT, STARTUP, RESTORE, RUNNING, SAVE, CYCLE))
CAUSES = ("host", "chip", "cube", "ocs", "link", "job", "maintenance")
_EPS = 1e-6  # seconds; below this a remaining duration counts as zero

# Event log columns: (time_s, kind, job, pod, cube, detail)
EVENT_COLUMNS = ("time_s", "kind", "job", "pod", "cube", "detail")


@dataclass
class ReplicationResult:
    """Raw outcome of one replication (turned into rows by `accounting`)."""

    horizon_s: float
    jobs: list[dict]
    pods: list[dict]
    events: list[tuple] = field(default_factory=list)
    n_events: int = 0  # component events (failures, repairs, maintenance, injections)
    simpy_events: int = 0  # every event SimPy scheduled (timeouts, interrupts, process steps)


def _hole(value: int) -> int:
    """A slice position whose cube failed is stored as -2 - failed_cube (and back)."""
    return -2 - value


class _Slice:
    __slots__ = ("cubes", "holes", "missing", "pod")

    def __init__(self) -> None:
        self.pod = -1
        self.cubes: list[int] | None = None  # None: not placed
        self.holes: list[int] = []  # OCS: positions whose cube failed and await a spare
        self.missing = 0  # len(holes)


class Crews:
    """Repair crews of one pod: a FIFO counting resource, semantically simpy.Resource(capacity)
    (tested against it), but a free crew is taken without scheduling an event, which halves
    the cost of a repair in long runs."""

    __slots__ = ("busy", "capacity", "env", "queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.queue: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        """None if a crew was free (and is now taken), else an event that fires when one is."""
        if self.busy < self.capacity:
            self.busy += 1
            return None
        event = self.env.event()
        self.queue.append(event)
        return event

    def release(self) -> None:
        if self.queue:
            self.queue.popleft().succeed()  # the crew goes straight to the next in line
        else:
            self.busy -= 1


class _PodState:
    __slots__ = ("crews", "down", "free", "healthy", "hist", "idx", "last_t", "owner", "owner_slice")

    def __init__(self, idx: int, n_usable: int, crews: Crews | None) -> None:
        self.idx = idx
        self.down = [0] * n_usable
        self.owner = [-1] * n_usable
        self.owner_slice = [-1] * n_usable
        self.free = set(range(n_usable))
        self.healthy = n_usable
        self.hist = [0.0] * (n_usable + 1)  # seconds spent with h healthy cubes
        self.last_t = 0.0
        self.crews = crews


class _JobState:
    def __init__(self, idx: int, plan: JobPlan, env: simpy.Environment) -> None:
        self.idx = idx
        self.plan = plan
        self.slices = [_Slice() for _ in range(plan.spec.slices)]
        self.state = PENDING
        self.phase_start = 0.0
        self.acc = [0.0] * len(CATEGORIES)
        self.causes = dict.fromkeys(CAUSES, 0)
        self.progress = 0.0  # running seconds kept
        self.ckpt = 0.0  # progress at the last durable checkpoint
        self.pending_ckpt: tuple[float, float] | None = None  # async write: (valid_at, progress)
        self.until_ckpt = plan.interval_s
        self.started = False
        self.reconfigure = False
        self.notice_save = False
        self.interrupt_pending = False
        self.phases: list[tuple[int, float]] = []
        self.block = 0.0  # blocking seconds per checkpoint in the current run
        self.recovery_s = 0.0  # seconds of recovery phases at the start of the current CYCLE
        self.run: tuple | None = None  # (first segment, checkpoints, last segment), progress s
        self.rate = 1.0  # fraction of the slices running (elastic jobs run degraded)
        self.shrink = False  # elastic: continue on fewer slices (re-shard only)
        self.degraded = False  # elastic: running on fewer slices than asked for
        self.running_slices = plan.spec.slices
        self.grow = False  # elastic: re-form at full size (peers hand over the state)
        self.in_memory = False  # the restart point is in a peer's memory, not on storage
        self.frag_since: float | None = None
        self.frag_wait = 0.0
        self.grant = env.event()
        self.window_start = plan.spec.submit_s
        self.end_s: float | None = None
        self.proc: simpy.Process | None = None

    def complete_slices(self) -> int:
        return sum(1 for s in self.slices if s.cubes is not None and not s.missing)

    def runnable(self) -> bool:
        """All slices formed; or, for an elastic job that has run, at least min_slices."""
        spec = self.plan.spec
        if spec.elastic and self.started:
            return self.complete_slices() >= spec.min_slices
        return self.complete()

    def complete(self) -> bool:
        for s in self.slices:  # noqa: SIM110 - a plain loop; all() with a generator is 2x slower here
            if s.cubes is None or s.missing:
                return False
        return True


class Simulation:
    """One replication. Build, then `run()`; not reusable."""

    def __init__(self, scenario: Scenario, plans: tuple[JobPlan, ...], seed: np.random.SeedSequence,
                 *, log: bool = True) -> None:
        self.sc = scenario
        self.env = simpy.Environment()
        self.plans = plans
        self.log_on = log
        self.events: list[tuple] = []
        self.n_events = 0
        self.ocs = scenario.ocs
        streams = seed.spawn(8)
        self.rng_init = np.random.default_rng(streams[0])
        self.samplers: dict[str, tuple[Sampler, Sampler | None]] = {}
        for i, comp in enumerate(("host", "cube", "ocs", "link", "job", "chip")):
            f = scenario.failure(comp)
            if f is None:
                continue
            rng = np.random.default_rng(streams[1 + i])
            ttf = f.ttf
            if comp == "link":  # one exponential stream per cube for its bundle of optical links
                links = optical_links_per_cube(scenario.pod.chip.cube_shape)
                ttf = Lifetime("exponential", f.ttf.mean_s / links)
            self.samplers[comp] = (Sampler(ttf, rng), Sampler(f.ttr, rng) if f.ttr else None)
        crews = scenario.repair_crews
        self.pods = [_PodState(p, scenario.usable_cubes,
                               Crews(self.env, crews) if crews else None)
                     for p in range(scenario.pod_count)]
        self.jobs = [_JobState(i, plan, self.env) for i, plan in enumerate(plans)]
        self.pending: list[_JobState] = []

    # --- logging and pod bookkeeping -------------------------------------------------------

    def log(self, kind: str, job: int, pod: int, cube: int, detail: str) -> None:
        self.events.append((self.env.now, kind, job, pod, cube, detail))

    def _set_healthy(self, pod: _PodState, delta: int) -> None:
        now = self.env.now
        pod.hist[pod.healthy] += now - pod.last_t
        pod.last_t = now
        pod.healthy += delta

    def component_down(self, pod: _PodState, cube: int, cause: str) -> None:
        """A host/cube/maintenance took `cube` down one more level."""
        self.n_events += 1
        pod.down[cube] += 1
        if pod.down[cube] != 1:
            return
        self._set_healthy(pod, -1)
        if self.log_on:
            self.log("cube_down", -1, pod.idx, cube, cause)
        j = pod.owner[cube]
        if j < 0:
            pod.free.discard(cube)
            for waiting in self.pending:
                if waiting.frag_since is not None:
                    self._frag_check(waiting)
            return
        job = self.jobs[j]
        sl = job.slices[pod.owner_slice[cube]]
        pod.owner[cube] = -1
        pod.owner_slice[cube] = -1
        if self.ocs:  # the position stays; a spare will take it (planner's re-forming rule)
            pos = sl.cubes.index(cube)
            sl.cubes[pos] = _hole(cube)
            sl.holes.append(pos)
            sl.missing += 1
            job.reconfigure = True
        else:  # a static slice is lost whole; its healthy cubes go back to the pool
            for c in sl.cubes:
                pod.owner[c] = -1
                pod.owner_slice[c] = -1
                if pod.down[c] == 0:
                    pod.free.add(c)
            sl.cubes = None
        notice = self.sc.maintenance is None or self.sc.maintenance.notice
        if cause == "maintenance" and notice and self.in_run(job):
            job.notice_save = True
        self._hit(job, cause)
        self.request(job)

    def component_up(self, pod: _PodState, cube: int) -> None:
        self.n_events += 1
        pod.down[cube] -= 1
        if pod.down[cube] != 0:
            return
        self._set_healthy(pod, +1)
        if self.log_on:
            self.log("cube_up", -1, pod.idx, cube, "")
        pod.free.add(cube)
        if self.pending:
            self.try_schedule()

    def _hit(self, job: _JobState, cause: str) -> None:
        """Interrupt an active job (once per instant); count the cause."""
        if job.state not in _ACTIVE or job.interrupt_pending:
            return
        job.causes[cause] += 1
        job.interrupt_pending = True
        if self.log_on:
            self.log("interrupt", job.idx, -1, -1, cause)
        job.proc.interrupt(cause)

    # --- scheduling --------------------------------------------------------------------------

    def request(self, job: _JobState) -> None:
        """Register that `job` needs cubes (idempotent) and try to serve it now."""
        if job.complete():
            return
        if job.grant.triggered:
            job.grant = self.env.event()
        if not self.pending:  # nobody ahead in the queue: serve directly
            self._fill(job)
            self._frag_check(job)
            if job.complete():
                self._granted(job)
                return
        if job not in self.pending:
            self.pending.append(job)
            self.pending.sort(key=lambda j: (-j.plan.spec.priority, j.idx))
        self.try_schedule()

    def try_schedule(self) -> None:
        """Serve waiting jobs in priority order: spares for OCS slices, whole slices otherwise."""
        for job in list(self.pending):
            self._fill(job)
            self._frag_check(job)
            if job.complete():
                self.pending.remove(job)
                self._granted(job)

    def _granted(self, job: _JobState) -> None:
        """All slices are formed: wake a waiting job, or re-form a degraded elastic one."""
        if job.state == WAITING:
            if not job.grant.triggered:
                job.grant.succeed()
        elif (job.degraded or job.shrink) and job.state in _ACTIVE and not job.interrupt_pending:
            job.grow = True
            job.interrupt_pending = True
            if self.log_on:
                self.log("interrupt", job.idx, -1, -1, "grow")
            job.proc.interrupt("grow")

    def _frag_check(self, job: _JobState) -> None:
        """Fragmentation: time a job waits although the free healthy cubes of all pods would
        be enough (no contiguous box on a static torus, or spares stranded in another pod)."""
        if job.complete():
            fragmented = False
        else:
            per_slice = job.plan.spec.cubes_per_slice
            need = sum(per_slice if sl.cubes is None else sl.missing for sl in job.slices)
            fragmented = sum(len(p.free) for p in self.pods) >= need
        now = self.env.now
        if fragmented and job.frag_since is None:
            job.frag_since = now
        elif not fragmented and job.frag_since is not None:
            job.frag_wait += now - job.frag_since
            job.frag_since = None

    def _take(self, pod: _PodState, cube: int, job: _JobState, s: int) -> None:
        pod.free.discard(cube)
        pod.owner[cube] = job.idx
        pod.owner_slice[cube] = s

    def _fill(self, job: _JobState) -> None:
        spec = job.plan.spec
        for s, sl in enumerate(job.slices):
            if sl.cubes is not None and sl.missing:
                pod = self.pods[sl.pod]
                while sl.holes:
                    spare = placement.spare_for(pod.free)
                    if spare is None:
                        break
                    pos = sl.holes.pop()
                    failed = _hole(sl.cubes[pos])
                    self._take(pod, spare, job, s)
                    if self.log_on:
                        changed = placement.swap_cross_connects(
                            self.sc.pod, spec.slice_cubes, [_hole(x) if x < 0 else x for x in sl.cubes],
                            failed, spare)
                        what = "" if changed is None else f", {changed} cross-connects changed"
                        self.log("swap", job.idx, pod.idx, spare,
                                 f"slice {s}: cube {failed} -> {spare}{what}")
                    sl.cubes[pos] = spare
                    sl.missing -= 1
        unplaced = [s for s, sl in enumerate(job.slices) if sl.cubes is None]
        if not unplaced:
            return
        taken: dict[int, set[int]] = {p.idx: set() for p in self.pods}
        found: list[tuple[int, int, list[int]]] = []
        for s in unplaced:
            prev = job.slices[s].pod
            order = sorted(self.pods, key=lambda p: (p.idx != prev, p.idx))
            for pod in order:
                free = pod.free - taken[pod.idx] if taken[pod.idx] else pod.free
                cubes = placement.place_slice(self.sc.pod, free, spec.slice_cubes, ocs=self.ocs)
                if cubes is not None:
                    taken[pod.idx].update(cubes)
                    found.append((s, pod.idx, cubes))
                    break
            else:
                return  # all or nothing for unplaced slices
        for s, p, cubes in found:
            pod = self.pods[p]
            for c in cubes:
                self._take(pod, c, job, s)
            sl = job.slices[s]
            sl.pod, sl.cubes, sl.missing, sl.holes = p, list(cubes), 0, []
            if self.log_on:
                self.log("place", job.idx, p, -1, f"slice {s}")
        if self.ocs:
            job.reconfigure = True

    # --- job state machine -------------------------------------------------------------------

    def _enter(self, job: _JobState, state: int) -> None:
        job.state = state
        job.phase_start = self.env.now
        if self.log_on:
            self.log("state", job.idx, -1, -1, STATE_NAMES[state])

    def _leave(self, job: _JobState, planned: float | None = None) -> None:
        """Account the time since the phase began (exactly `planned` when the phase ran to its
        end, so that float rounding of the clock cannot stall progress); RUNNING time becomes
        progress."""
        state = job.state
        dt = self.env.now - job.phase_start if planned is None else planned
        if state == CYCLE:
            self._split_recovery(job, min(dt, job.recovery_s))
            if dt >= job.recovery_s:
                self._recovered(job)
                if job.run is not None:
                    job.phase_start += job.recovery_s
                    self._split_run(job, dt - job.recovery_s, completed=planned is not None)
            job.state = -1
            return
        if state not in _CATEGORY_OF:
            return
        job.acc[_CATEGORY_OF[state]] += dt
        if state == RUNNING:
            job.progress += dt
            job.until_ckpt -= dt
        job.phase_start = self.env.now
        job.state = -1

    def _plan_run(self, job: _JobState) -> float:
        """Lay out the run from the job's state: a first compute segment to the next
        checkpoint, then (interval, blocking save) cycles, then a last segment that ends the
        work. Returns its duration in seconds (inf for a job that trains until the horizon)."""
        plan = job.plan
        rec = self.sc.recovery
        job.rate = rate = job.running_slices / plan.spec.slices
        job.block = rec.checkpoint_async_block_s if rec.checkpoint_async else rec.checkpoint_save_s
        work = plan.work_s - job.progress
        first = min(job.until_ckpt, work)
        after = work - first
        if after <= _EPS:
            job.run = (first, 0, 0.0)
            return first / rate
        tau = plan.interval_s
        if math.isinf(after):
            job.run = (first, math.inf, math.inf)
            return math.inf
        mid = max(0, math.ceil((after - _EPS) / tau) - 1)  # full cycles before the last segment
        last = after - mid * tau
        job.run = (first, 1 + mid, last)
        return first / rate + (1 + mid) * job.block + mid * tau / rate + last / rate

    def _split_run(self, job: _JobState, elapsed: float, *, completed: bool) -> None:
        """Account `elapsed` seconds of the laid-out run: progress (at `rate`; the missing
        slices' share waits for resources), blocking saves, the checkpoints completed (sync:
        durable at once; async: durable `checkpoint_save_s` after the snapshot), logs."""
        plan = job.plan
        rec = self.sc.recovery
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

            if self.log_on:
                for i in range(1, int(done) + 1):
                    if block > 0:
                        self.events.append((ends(i) - block, "state", job.idx, -1, -1, "saving"))
                    self.events.append((ends(i), "checkpoint", job.idx, -1, -1, ""))
                    self.events.append((ends(i), "state", job.idx, -1, -1, "running"))
            if rec.checkpoint_async:
                if job.pending_ckpt is not None and job.pending_ckpt[0] <= ends(1) + _EPS:
                    job.ckpt = max(job.ckpt, job.pending_ckpt[1])
                if done >= 2:  # a write finishes within one interval (interval >= save time)
                    job.ckpt = max(job.ckpt, progress_at(done - 1))
                job.pending_ckpt = (ends(done) + rec.checkpoint_save_s, progress_at(done))
            else:
                job.ckpt = progress_at(done)
            job.until_ckpt = tau - (job.progress - progress_at(done))
        else:
            job.until_ckpt -= gained
        if self.log_on and not completed and saving > done * block + _EPS:
            self.events.append((t0 + elapsed - (saving - done * block), "state", job.idx, -1, -1,
                                "saving"))

    def _recovered(self, job: _JobState) -> None:
        """The recovery phases are over: the job runs on the slices it has."""
        job.started = True
        job.degraded = job.running_slices < job.plan.spec.slices
        job.shrink = job.grow = job.in_memory = False
        if self.log_on:
            self.events.append((job.phase_start + job.recovery_s, "state", job.idx, -1, -1,
                                "running"))

    def in_run(self, job: _JobState) -> bool:
        """True once the current CYCLE's recovery phases are over (the job computes or saves)."""
        return job.state == CYCLE and self.env.now >= job.phase_start + job.recovery_s

    def _split_recovery(self, job: _JobState, elapsed: float) -> None:
        """The recovery phases ran back to back at the start of a CYCLE; give each its share of
        `elapsed` in order (closed form) and log the ones that began. Their flags were consumed
        when the CYCLE began; a reconfiguration or notice save cut short must be redone."""
        t = job.phase_start
        remaining = elapsed
        for state, duration in job.phases:
            begun = remaining > 0 or (remaining >= 0 and duration == 0)
            used = min(duration, remaining) if begun else 0.0
            if begun:
                if self.log_on:
                    self.events.append((t, "state", job.idx, -1, -1, STATE_NAMES[state]))
                job.acc[_CATEGORY_OF[state]] += used
                remaining -= used
                t += used
            if used < duration or not begun:
                remaining = -1.0  # later phases did not begin
                if state == RECONF:
                    job.reconfigure = True
                elif state == SAVE:
                    job.notice_save = True

    def _commit_async(self, job: _JobState) -> None:
        if job.pending_ckpt is not None and job.pending_ckpt[0] <= self.env.now + _EPS:
            job.ckpt = max(job.ckpt, job.pending_ckpt[1])
            job.pending_ckpt = None

    def _lose(self, job: _JobState, cause: str) -> None:
        """Roll back to the last durable state after an interruption. In memory (an in-memory
        replica, or the surviving data-parallel slices of an elastic job) only the current
        partial step is lost."""
        rec = self.sc.recovery
        spec = job.plan.spec
        elastic_alive = spec.elastic and job.started and cause != "job" and job.complete_slices() >= 1
        if job.notice_save:
            keep = job.progress  # drained with a final checkpoint (maintenance notice)
        elif rec.in_memory_replica or elastic_alive or cause == "grow":
            step = job.plan.step_time_s
            keep = max(job.ckpt, job.progress - job.progress % step)
            job.in_memory = True
        else:
            self._commit_async(job)
            keep = job.ckpt
        lost = job.progress - keep
        if lost > 0:
            job.acc[PRODUCTIVE] -= lost
            job.acc[WASTED] += lost
        job.progress = keep
        job.ckpt = keep
        job.pending_ckpt = None
        job.until_ckpt = job.plan.interval_s

    def _phases(self, job: _JobState) -> list[tuple[int, float]]:
        rec = self.sc.recovery
        phases: list[tuple[int, float]] = []
        if job.notice_save:
            phases.append((SAVE, rec.checkpoint_save_s))
        if job.shrink:  # elastic: the surviving slices re-shard and go on
            return phases + [(STARTUP, rec.program_startup_s)]
        if job.reconfigure and self.ocs:
            phases.append((RECONF, rec.ocs_reconfigure_s))
        phases += [(INIT, rec.tpu_init_s), (STARTUP, rec.program_startup_s)]
        if job.started:
            phases.append((RESTORE, rec.replica_restore_s if (rec.in_memory_replica or job.in_memory)
                           else rec.checkpoint_restore_s))
        return phases

    def _job(self, job: _JobState):
        env = self.env
        plan = job.plan
        if plan.spec.submit_s > 0:
            yield env.timeout(plan.spec.submit_s)
        job.window_start = env.now
        while True:
            if not job.runnable():
                self._enter(job, WAITING)
                while not job.runnable():
                    self.request(job)
                    if job.runnable():
                        break
                    try:
                        yield job.grant
                    except simpy.Interrupt:
                        job.interrupt_pending = False
                self._leave(job)
            elif not job.complete():
                self.request(job)  # elastic, degraded: keep asking for the missing slices
            try:
                # reconfigure, initialise, start, restore, then compute with its periodic
                # checkpoints to the end of the work: one timeout, split in closed form when an
                # interruption (or the horizon) cuts it
                job.phases = self._phases(job)
                job.recovery_s = sum(d for _, d in job.phases)
                for state, _duration in job.phases:  # consumed; restored if cut short
                    if state == RECONF:
                        job.reconfigure = False
                    elif state == SAVE:
                        job.notice_save = False
                job.running_slices = job.complete_slices()
                total = job.recovery_s
                if plan.work_s - job.progress > _EPS:
                    total += self._plan_run(job)
                else:
                    job.run = None
                job.state = CYCLE
                job.phase_start = env.now
                yield env.timeout(total)
                self._leave(job, total)
                job.end_s = env.now
                self._enter(job, DONE)
                self._release(job)
                return
            except simpy.Interrupt as interrupt:
                job.interrupt_pending = False
                self._leave(job)
                self._lose(job, interrupt.cause)
                if plan.spec.elastic:
                    if interrupt.cause == "grow":  # re-form at full size
                        job.grow, job.shrink = True, False
                    else:  # go on with the surviving slices if there are enough
                        job.grow = False
                        job.shrink = not job.complete() and job.runnable()

    def _release(self, job: _JobState) -> None:
        for sl in job.slices:
            if sl.cubes is None:
                continue
            pod = self.pods[sl.pod]
            for c in sl.cubes:
                if c < 0:
                    continue
                pod.owner[c] = -1
                pod.owner_slice[c] = -1
                if pod.down[c] == 0:
                    pod.free.add(c)
            sl.cubes, sl.holes, sl.missing = None, [], 0
        if self.pending:
            self.try_schedule()

    # --- failure processes --------------------------------------------------------------------

    def _unit(self, pod: _PodState, cube: int, up_for: float, comp: str):
        """One repairable unit of `cube` (a host, a chip, or the cube as a whole): up for a
        time-to-failure draw, then down until a crew is free and the repair is over."""
        env = self.env
        ttf, ttr = self.samplers[comp]
        wait = up_for
        while True:
            if wait > 0:
                yield env.timeout(wait)
                self.component_down(pod, cube, comp)
            if pod.crews is None:
                yield env.timeout(ttr.draw())
            else:
                wait_crew = pod.crews.acquire()
                if wait_crew is not None:
                    yield wait_crew
                yield env.timeout(ttr.draw())
                pod.crews.release()
            self.component_up(pod, cube)
            wait = ttf.draw()

    def _ocs_switch(self, pod: _PodState):
        ttf = self.samplers["ocs"][0]
        while True:
            yield self.env.timeout(ttf.draw())
            self.n_events += 1
            if self.log_on:
                self.log("ocs_fail", -1, pod.idx, -1, "")
            for job in self.jobs:
                if any(sl.pod == pod.idx and sl.cubes is not None and len(sl.cubes) > 1
                       for sl in job.slices) and job.state in _ACTIVE:
                    job.reconfigure = True
                    self._hit(job, "ocs")

    def _links(self, pod: _PodState, cube: int):
        ttf = self.samplers["link"][0]
        while True:
            yield self.env.timeout(ttf.draw())
            self.n_events += 1
            j = pod.owner[cube]
            if j >= 0 and self.jobs[j].state in _ACTIVE:
                if self.log_on:
                    self.log("link_fail", j, pod.idx, cube, "")
                self.jobs[j].reconfigure = True
                self._hit(self.jobs[j], "link")

    def _maintenance(self, pod: _PodState):
        m = self.sc.maintenance
        n = self.sc.usable_cubes
        cube = int(self.rng_init.integers(n))
        phase = float(self.rng_init.uniform(0, m.cube_interval_s))
        yield self.env.timeout(phase)
        while True:
            self.component_down(pod, cube, "maintenance")
            self.env.timeout(m.duration_s).callbacks.append(
                lambda _ev, c=cube: self.component_up(pod, c))
            cube = (cube + 1) % n
            yield self.env.timeout(m.cube_interval_s)

    def _inject(self, inj):
        yield self.env.timeout(inj.at_s)
        if inj.cause == "job":
            for job in self.jobs:
                if job.plan.spec.name == inj.job:
                    self._hit(job, "job")
            return
        pod = self.pods[inj.pod]
        self.component_down(pod, inj.cube, inj.cause)
        yield self.env.timeout(inj.duration_s)
        self.component_up(pod, inj.cube)

    def _job_failures(self, job: _JobState):
        ttf = self.samplers["job"][0]
        while job.state != DONE:
            yield self.env.timeout(ttf.draw())
            self.n_events += 1
            self._hit(job, "job")

    # --- run ---------------------------------------------------------------------------------

    def _start_components(self) -> None:
        sc = self.sc
        env = self.env
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
            down0 = self.rng_init.random(total) < a_down
            first_up = f.ttf.sample(self.rng_init, total)
            for i in range(total):
                p, rest = divmod(i, n * per_cube)
                pod, cube = self.pods[p], rest // per_cube
                if down0[i]:
                    # starts down (steady state): counted as down without a failure event
                    pod.down[cube] += 1
                    if pod.down[cube] == 1:
                        pod.healthy -= 1
                        pod.free.discard(cube)
                    env.process(self._unit(pod, cube, 0.0, comp))
                else:
                    env.process(self._unit(pod, cube, float(first_up[i]), comp))
        if self.log_on:
            for pod in self.pods:
                for cube in range(n):
                    if pod.down[cube]:
                        self.log("cube_down", -1, pod.idx, cube, "initial")
        if sc.failure("ocs") is not None:
            n_ocs = ocs_count(sc.pod.chip.cube_shape, sc.pod.cubes, sc.pod.ocs_ports, sc.pod.ocs_spare_ports)
            for pod in self.pods:
                for _ in range(n_ocs):
                    env.process(self._ocs_switch(pod))
        if sc.failure("link") is not None:
            for pod in self.pods:
                for cube in range(n):
                    env.process(self._links(pod, cube))
        if sc.maintenance is not None:
            for pod in self.pods:
                env.process(self._maintenance(pod))
        for inj in sc.injections:
            env.process(self._inject(inj))

    def run(self) -> ReplicationResult:
        env = self.env
        horizon = self.sc.horizon_s
        self._start_components()
        for job in self.jobs:
            job.proc = env.process(self._job(job))
            if "job" in self.samplers:
                env.process(self._job_failures(job))
        env.run(until=horizon)
        for pod in self.pods:
            self._set_healthy(pod, 0)
        jobs = []
        for job in self.jobs:
            if job.state in _ACTIVE or job.state == WAITING:
                self._leave(job)
            if job.frag_since is not None:
                job.frag_wait += horizon - job.frag_since
            window = (job.end_s if job.end_s is not None else horizon) - job.window_start
            jobs.append({
                "job": job.plan.spec.name, "window_s": max(window, 0.0),
                "end_s": job.end_s, "progress_s": job.progress, "started": job.started,
                "waiting_fragmented_s": job.frag_wait,
                **{c: job.acc[i] for i, c in enumerate(CATEGORIES)},
                **{f"interruptions_{c}": n for c, n in job.causes.items()},
            })
        pods = [{"pod": p.idx, "healthy_hist_s": list(p.hist)} for p in self.pods]
        scheduled = getattr(env, "_eid", None)  # SimPy's event counter (private; for benchmarks)
        simpy_events = next(scheduled) if scheduled is not None else 0
        return ReplicationResult(horizon, jobs, pods, self.events, self.n_events, simpy_events)


def run_replication(scenario: Scenario, plans: tuple[JobPlan, ...], seed: np.random.SeedSequence,
                    *, log: bool = True) -> ReplicationResult:
    """Simulate one replication of `scenario` with the resolved job `plans`."""
    return Simulation(scenario, plans, seed, log=log).run()
