"""The state one replication shares between its processes, and the event log.

`World` is a plain record (no behaviour beyond construction and `log`): the SimPy environment,
the per-pod cube health (`PodState`), the per-job state (`JobState`, its slices `SliceState`),
the random streams, and the event log. The behaviour lives in the modules that act on it, and
each field has one writer:

| fields | written by |
|---|---|
| `JobState`: phase, restart record, interrupt, window, grant, causes | `lifecycle` |
| `JobState`: time accounting, checkpoints (`acc`, `progress`, `ckpt`, ...) | `progress` |
| `JobState`: fragmentation clock; `SliceState`; the queue `World.pending` | `scheduling` |
| `PodState`: cube health (`down`, `healthy`, `hist`), stragglers (`slow`) | `components` |
| `PodState`: owners and free cubes | its methods (`take`, `release`, ...) |

Invariant (tested in tests/test_sim_ownership.py): no module assigns a field it does not own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from heapq import heappop, heappush

import numpy as np
import simpy
from simpy.events import NORMAL

from tpusim.sim.crews import Crews
from tpusim.sim.failures import Lifetime, Sampler
from tpusim.sim.faults import CAUSES, lifetime_of
from tpusim.sim.freecubes import FreeCubes
from tpusim.sim.jobs import JobPlan
from tpusim.sim.placement import group_size
from tpusim.sim.scenario import Scenario


class Phase(IntEnum):
    """A job's phase; each maps to one accounting category. The engine keeps the plain int
    values below (`WAITING`, `CYCLE`, ...) on its hot path; the names are for logs and docs."""

    BETWEEN = -1  # the job left a phase and has not entered the next (within one instant)
    PENDING = 0  # not yet submitted
    WAITING = 1  # waiting for its slices
    RECONF = 2  # OCS reconfiguration
    INIT = 3  # TPU initialisation
    STARTUP = 4  # program start-up
    RESTORE = 5  # checkpoint (or replica) restore
    RUNNING = 6  # computing
    SAVE = 7  # blocking checkpoint save
    DONE = 8  # finished its work
    CYCLE = 9  # recovery phases, then compute with periodic saves: one timeout
    SELECT = 10  # host selection (replacement cubes from the working or spare pool)


BETWEEN, PENDING, WAITING, RECONF, INIT, STARTUP, RESTORE, RUNNING, SAVE, DONE, CYCLE, SELECT = (
    int(p) for p in Phase)
STATE_NAMES = ("pending", "waiting", "reconfiguring", "initializing", "starting", "restoring",
               "running", "saving", "done", "running", "selecting")  # indexed by phase >= 0
# CYCLE = recovery phases (reconfigure, init, start-up, restore) then compute with periodic
# checkpoints to the end of the work, as one timeout split in closed form when an
# interruption or the horizon cuts it: a job has events only when something happens to it.
CATEGORIES = ("productive", "wasted_progress", "waiting_for_resources", "ocs_reconfiguration",
              "tpu_initialization", "program_startup", "checkpoint_restore", "checkpoint_save",
              "repeated_steps", "host_selection")
(PRODUCTIVE, WASTED, C_WAIT, C_RECONF, C_INIT, C_STARTUP, C_RESTORE, C_SAVE, REPEATED,
 C_SELECT) = range(10)
# compute lost to a straggler's slower steps: a category only in scenarios with stragglers
# (without them the rows, columns and keys stay as they were)
ALL_CATEGORIES = (*CATEGORIES, "straggler")
C_STRAGGLER = len(CATEGORIES)
CATEGORY_OF = {WAITING: C_WAIT, RECONF: C_RECONF, INIT: C_INIT, STARTUP: C_STARTUP,
               RESTORE: C_RESTORE, RUNNING: PRODUCTIVE, SAVE: C_SAVE, SELECT: C_SELECT}
ACTIVE = frozenset((RECONF, INIT, STARTUP, RESTORE, RUNNING, SAVE, CYCLE, SELECT))
# random streams, one per component class (appended only: existing streams keep their seeds)
STREAMS = ("host", "cube", "ocs", "link", "job", "chip", "hbm", "ici_link", "dcn", "sdc",
           "loss_spike")
FLEET_COUNTS = ("unit_failures", "undiagnosed", "misblamed", "repair_stages", "escalated",
                "cured", "retired", "replaced", "regenerated")
EPS = 1e-6  # seconds; below this a remaining duration counts as zero
NONE = -1  # no job / pod / cube (owners, event-log columns)

# Event log columns: (time_s, kind, job, pod, cube, detail)
EVENT_COLUMNS = ("time_s", "kind", "job", "pod", "cube", "detail")


@dataclass(frozen=True, slots=True)
class Recovery:
    """The recovery phases of one kind of (re)start, laid out once per distinct restart
    (`lifecycle.recovery_phases` caches them: the durations are the scenario's)."""

    phases: tuple[tuple[int, float], ...]  # (phase, seconds), in order
    total_s: float  # their sum
    charges: tuple[tuple[int, float], ...]  # (accounting category, seconds) of each phase
    reconfigures: bool  # has a RECONF phase (consumes the restart's reconfigure flag)
    drains: bool  # has a SAVE phase (consumes drain)
    selects: bool  # has a SELECT phase (consumes select_s)

    @classmethod
    def of(cls, phases: tuple[tuple[int, float], ...]) -> Recovery:
        states = {state for state, _ in phases}
        return cls(phases, sum(d for _, d in phases),
                   tuple((CATEGORY_OF[state], d) for state, d in phases),
                   RECONF in states, SAVE in states, SELECT in states)


NO_RECOVERY = Recovery.of(())


def hole(value: int) -> int:
    """A slice position whose cube failed is stored as -2 - failed_cube (and back)."""
    return -2 - value


class SliceState:
    """One slice of a job: its pod, OCS group, cubes by position (a failed one as a `hole`),
    and what the OCS is wired for: `wired[pos]` is the cube the cross-connects joined at `pos`
    when the OCS was last configured for the slice, `rewired` the positions whose cube differs
    from it now (the next restart reconfigures only if some slice has one, or the job's
    `Restart.reconfigure` is set)."""

    __slots__ = ("cubes", "group", "holes", "pod", "rewired", "standbys", "wired")

    def __init__(self) -> None:
        self.pod = NONE
        self.standbys: list[int] = []  # warm standby cubes reserved for this slice
        self.group = NONE  # OCS group of its cubes (spares come from the same group)
        self.cubes: list[int] | None = None  # None: not placed
        self.holes: list[int] = []  # OCS: positions whose cube failed and await a spare
        self.wired: list[int] = []  # OCS: the cube at each position at the last configuration
        self.rewired: set[int] = set()  # OCS: positions whose cube differs from `wired`


class PodState:
    """One pod: cube health (`down` counts the units of each cube that are down; `healthy`
    cubes with none down, `hist` seconds spent at each healthy count) and cube ownership
    (`owner` job, `owner_slice` and `position` in that slice's cube list). A healthy cube
    without an owner is in one of three places: the working pool `free`, the spare pool
    `spare` (cubes running preemptible work), or reserved as a warm standby of a slice
    (`reserved`); pools are kept by OCS group of `per_group` cubes."""

    __slots__ = ("crews", "down", "free", "healthy", "hist", "idx", "in_spare", "last_t",
                 "owner", "owner_slice", "position", "reserved", "slow", "spare")

    def __init__(self, idx: int, n_usable: int, crews: Crews | None, per_group: int,
                 spare_pool: int = 0, *, stragglers: bool = False) -> None:
        self.idx = idx
        self.down = [0] * n_usable
        # undetected stragglers on each cube (None: the scenario has none)
        self.slow: list[int] | None = [0] * n_usable if stragglers else None
        self.owner = [NONE] * n_usable
        self.owner_slice = [NONE] * n_usable
        self.position = [NONE] * n_usable
        self.reserved = [NONE] * n_usable  # the job whose warm standby the cube is
        self.free = FreeCubes(n_usable, per_group)
        self.spare = FreeCubes(n_usable, per_group, full=False)
        self.in_spare = [False] * n_usable
        for cube in range(n_usable - spare_pool, n_usable):  # the highest ids
            self.free.discard(cube)
            self.spare.add(cube)
            self.in_spare[cube] = True
        self.healthy = n_usable
        self.hist = [0.0] * (n_usable + 1)  # seconds spent with h healthy cubes
        self.last_t = 0.0
        self.crews = crews

    def take(self, cube: int, job: int, slice_index: int, position: int) -> None:
        """`cube` joins slice `slice_index` of job `job` at `position` (from any pool; a spare-pool
        cube joins the working pool for good)."""
        self.free.discard(cube)
        if self.in_spare[cube]:
            self.spare.discard(cube)
            self.in_spare[cube] = False
        self.reserved[cube] = NONE
        self.owner[cube] = job
        self.owner_slice[cube] = slice_index
        self.position[cube] = position

    def take_lowest(self, group: int, k: int, job: int, slice_index: int) -> list[int]:
        """The `k` lowest free cubes of OCS `group` (working pool first, then spare pool) form
        slice `slice_index` of job `job`."""
        n = min(k, self.free.count[group])
        cubes = self.free.take_lowest(group, n) + self.spare.take_lowest(group, k - n)
        for i, c in enumerate(cubes):
            self.take(c, job, slice_index, i)
        return cubes

    def reserve(self, cube: int, job: int) -> None:
        """A working-pool cube becomes a warm standby of `job`."""
        self.free.discard(cube)
        self.reserved[cube] = job

    def release(self, cube: int) -> None:
        """`cube` leaves its job (or its standby reservation); it goes back to the working pool
        if it is healthy."""
        self.owner[cube] = NONE
        self.owner_slice[cube] = NONE
        self.position[cube] = NONE
        self.reserved[cube] = NONE
        if self.down[cube] == 0:
            self.free.add(cube)

    def unusable(self, cube: int) -> None:
        """`cube` went down (a unit of it failed): it is in no pool."""
        self.free.discard(cube)
        self.spare.discard(cube)
        self.reserved[cube] = NONE

    def usable(self, cube: int) -> None:
        """`cube` is healthy again (it has no owner: a cube leaves its job when it fails)."""
        (self.spare if self.in_spare[cube] else self.free).add(cube)


class Restart:
    """What the job's next (re)start must do; written only by `lifecycle`.

    - drain: save a checkpoint first (maintenance with notice caught the job computing);
    - reconfigure: the OCS must rewire the slices (a slice placed anew, a reroute, or a
      reconfiguration cut short); a spare swapped in is seen in its slice's `rewired`;
    - shrink: an elastic job goes on with its surviving slices (re-shard only);
    - from_memory: the restart point is in a peer's memory, not on storage;
    - select_s: host selection for replacement cubes from the working or spare pool;
    - rollback_bound: found corruption: roll back to a checkpoint at most this far (progress s).
    """

    __slots__ = ("drain", "from_memory", "reconfigure", "rollback_bound", "select_s", "shrink")

    def __init__(self) -> None:
        self.drain = False
        self.reconfigure = False
        self.shrink = False
        self.from_memory = False
        self.select_s = 0.0
        self.rollback_bound: float | None = None


class JobState:
    __slots__ = ("acc", "block", "broken", "by_cause", "cause", "causes", "ckpt", "corruptions",
                 "cycle_token", "degraded", "end_s", "finished", "frag_since", "frag_wait",
                 "grant", "history", "idx", "interrupt_pending", "pending_ckpt", "phase_start",
                 "plan", "progress", "rate", "recovery", "recovery_s", "restart", "run",
                 "running_slices", "slices", "speed", "started", "state", "until_ckpt",
                 "window_start", "world")

    def __init__(self, idx: int, plan: JobPlan, env: simpy.Environment,
                 causes: tuple[str, ...] = CAUSES) -> None:
        self.idx = idx
        self.plan = plan
        self.slices = [SliceState() for _ in range(plan.spec.slices)]
        self.broken = set(range(plan.spec.slices))  # slices unplaced or with holes (scheduling)
        self.world: World | None = None  # set by the engine (the job's events find it here)
        # lifecycle: the phase and what the next restart must do
        self.state = PENDING
        self.phase_start = 0.0
        self.recovery = NO_RECOVERY  # recovery phases of the current CYCLE
        self.recovery_s = 0.0  # their total, seconds
        self.restart = Restart()
        self.started = False  # has run once (later starts restore a checkpoint)
        self.degraded = False  # elastic: running on fewer slices than asked for
        self.running_slices = plan.spec.slices
        self.interrupt_pending = False
        self.causes = dict.fromkeys(causes, 0)
        self.cause: str | None = None  # the interruption the job is recovering from
        self.corruptions: dict[int, float] = {}  # undetected corruption id -> progress at it
        self.cycle_token = 0  # bumped by an interruption: the running CYCLE's timeout is void
        self.grant = env.event()  # fires when a waiting job's slices are formed
        self.finished = env.event()  # fires when the job's work is done
        self.window_start = plan.spec.submit_s
        self.end_s: float | None = None
        # progress: closed-form time accounting and checkpoints
        self.acc = [0.0] * len(ALL_CATEGORIES)
        self.progress = 0.0  # running seconds kept
        self.ckpt = 0.0  # progress at the last durable checkpoint
        self.pending_ckpt: tuple[float, float] | None = None  # async write: (valid_at, progress)
        self.until_ckpt = plan.interval_s
        self.block = 0.0  # blocking seconds per checkpoint in the current run
        self.run: tuple | None = None  # (first segment, checkpoints, last segment), progress s
        self.rate = 1.0  # progress per second of the run: running slices' share x speed
        self.speed = 1.0  # 1 / slowdown while a straggler is in the job's slices, else 1
        self.by_cause = dict.fromkeys((*causes, "none"), 0.0)  # badput s by interruption cause
        self.history: list[tuple[float, float]] = []  # (durable at, progress) of checkpoints
        # scheduling: waiting that enough free cubes in total could have served
        self.frag_since: float | None = None
        self.frag_wait = 0.0

    def complete_slices(self) -> int:
        return len(self.slices) - len(self.broken)

    def runnable(self) -> bool:
        """All slices formed; or, for an elastic job that has run, at least min_slices."""
        if not self.broken:
            return True
        spec = self.plan.spec
        return spec.elastic and self.started and self.complete_slices() >= spec.min_slices

    def complete(self) -> bool:
        return not self.broken


class Timer:
    """A timeout built by `Clock.call_at`: what `Clock.step` reads of an event (`callbacks`,
    `_ok`) and the `value` its callback reads, in two slots (a simpy.Event carries an instance
    dict: one more allocation per failure and per repair)."""

    __slots__ = ("callbacks", "value")
    _ok = True


class Clock(simpy.Environment):
    """SimPy's environment; after each event it calls `on_interrupts` if that event raised any
    job interruptions (where SimPy would run its urgent Interruption events next).

    `step` is SimPy 4's `Environment.step` and `call_at` schedules as its `Timeout` does, on its
    private event queue (`_queue`, `_eid`, `_now`): the dependency is pinned to simpy <5 and
    tests/test_sim_clock.py checks both against SimPy's public API."""

    def __init__(self, interrupts: deque) -> None:
        super().__init__()
        self._interrupts = interrupts
        self.on_interrupts = None  # set by the engine: training.handle_interrupts

    def call_at(self, delay: float, callback, value) -> None:
        """`callback(timer)` `delay` seconds from now, `timer.value` being `value`: scheduled
        as SimPy schedules a Timeout (same queue entry, same order), without its constructor."""
        timer = Timer()
        timer.callbacks = [callback]
        timer.value = value
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), timer))

    def step(self) -> None:
        # simpy.Environment.step (SimPy 4), then the interruptions the event raised
        try:
            self._now, _, _, event = heappop(self._queue)
        except IndexError:
            raise simpy.core.EmptySchedule from None
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except simpy.core.StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1:]
            self.schedule(event, simpy.core.EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
        if self._interrupts:
            self.on_interrupts()


class World:
    """Everything one replication's processes share. Built once per replication."""

    __slots__ = ("categories", "env", "events", "fleet", "interrupts", "jobs", "log_on",
                 "n_events", "ocs", "pending", "phase_cache", "plans", "pods", "rng_init",
                 "rng_repair", "rng_straggler", "samplers", "sc", "track_history", "units")

    def __init__(self, scenario: Scenario, plans: tuple[JobPlan, ...], seed: np.random.SeedSequence,
                 *, log: bool = True) -> None:
        self.sc = scenario
        self.interrupts: deque[tuple[JobState, str]] = deque()  # raised, not yet handled
        self.phase_cache: dict[tuple, Recovery] = {}  # restart -> recovery phases (lifecycle)
        self.env = Clock(self.interrupts)
        self.plans = plans
        self.log_on = log
        self.events: list[tuple] = []  # the event log, rows as in EVENT_COLUMNS
        self.n_events = 0  # component events (failures, repairs, maintenance, injections)
        self.ocs = scenario.ocs
        streams = seed.spawn(len(STREAMS) + 2)
        self.rng_init = np.random.default_rng(streams[0])
        self.rng_repair = np.random.default_rng(streams[len(STREAMS) + 1])
        self.samplers: dict[str, tuple[Sampler, Sampler | None]] = {}
        for i, comp in enumerate(STREAMS):  # one random stream per component class
            f = scenario.failure(comp)
            if f is None:
                continue
            rng = np.random.default_rng(streams[1 + i])
            ttf = lifetime_of(f, scenario.pod.chip)  # link bundles: one stream per cube
            self.samplers[comp] = (Sampler(ttf, rng), Sampler(f.ttr, rng) if f.ttr else None)
            if f.detect is not None:  # silent data corruption: the delay until it is found
                self.samplers["sdc_detect"] = (Sampler(f.detect, rng), None)
        if scenario.faults.loss_spike is not None:  # unit-mean draws, scaled per job
            rng = np.random.default_rng(streams[1 + STREAMS.index("loss_spike")])
            self.samplers["loss_spike"] = (Sampler(Lifetime("exponential", 1.0), rng), None)
        straggler = scenario.faults.straggler
        self.rng_straggler = None
        self.categories = CATEGORIES
        if straggler is not None:  # a stream of its own, made only when stragglers are modelled
            # (the child after the spawned ones, derived without spawning: the streams above
            # keep their seeds, so a scenario without stragglers draws what it always drew)
            child = np.random.SeedSequence(seed.entropy,
                                           spawn_key=(*seed.spawn_key, len(STREAMS) + 2))
            rng = self.rng_straggler = np.random.default_rng(child)
            self.samplers["straggler"] = (Sampler(Lifetime("exponential", 1.0), rng), None)
            self.samplers["straggler_found"] = (Sampler(straggler.detect, rng),
                                                Sampler(straggler.ttr, rng))
            self.categories = ALL_CATEGORIES
        self.units: dict[str, list[list]] = {}  # repaired units by component, pod (`units`)
        self.fleet = dict.fromkeys(FLEET_COUNTS, 0)  # fleet counters (`units`)
        # checkpoint histories are kept only when a rollback may go past the last checkpoint
        self.track_history = (scenario.failure("sdc") is not None
                              or scenario.faults.loss_spike is not None
                              or any(i.cause == "sdc" for i in scenario.injections))
        crews = scenario.repair_crews
        per_group = group_size(scenario.pod, scenario.usable_cubes, ocs=scenario.ocs)
        pools = scenario.faults.pools
        spare_pool = pools.spare_pool if pools is not None else 0
        self.pods = [PodState(p, scenario.usable_cubes,
                              Crews(self.env, crews) if crews else None, per_group, spare_pool,
                              stragglers=straggler is not None)
                     for p in range(scenario.pod_count)]
        causes = scenario.faults.causes
        self.jobs = [JobState(i, plan, self.env, causes) for i, plan in enumerate(plans)]
        self.pending: list[JobState] = []  # jobs waiting for cubes, in priority order

    def log(self, kind: str, job: int, pod: int, cube: int, detail: str) -> None:
        """Append one row to the event log at the current time."""
        self.events.append((self.env.now, kind, job, pod, cube, detail))
