"""Repaired units (hosts, chips, HBM, the intra-cube ICI links of a cube, whole cubes): each
fails after a time-to-failure draw, takes its cube out of service and comes back after a repair.

A unit is a small callback state machine on SimPy timeouts rather than a process (a failure
costs one event and each repair stage one more); `gen` counts the unit's state changes, so a
timeout armed before a change made from outside (blamed for another unit's failure, turned
bad) is recognised as stale and ignored.

    up --ttf--> failed --(diagnosis)--> down --stage 1--> [escalate: stage 2 ...] --> up
                  |  not traced: the job restarts, the unit keeps running
                  |  blamed on another unit: that one goes down instead
                  +-- k failures within the window: retired (replaced after a draw, or never)

- Failure clocks: "wall" (default) runs every unit's clock all the time; "compute" lets a unit
  fail only while a job computes on its cube (a failure drawn at another time is skipped and a
  new lifetime starts: for exponential lifetimes that is exactly a clock paused outside
  compute, the scenario reader allows nothing else).
- Bad hosts fail `multiplier` times as often; a repair ending at a stage cures a bad host with
  that stage's cure probability (a good host's failure is random: any repair leaves it good).
- Repairs: one crew-held draw of the component's time to repair, or the stages of the repair
  pipeline (each with its duration, escalation and cure probabilities, and whether it holds one
  of the pod's crews).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from tpusim.sim.components import (
    component_down,
    component_up,
    initially_down,
    interrupt_in_place,
)
from tpusim.sim.failures import Sampler
from tpusim.sim.faults import (
    ComponentFailures,
    RepairPolicy,
    RepairStage,
    lifetime_of,
    units_per_cube,
)
from tpusim.sim.lifecycle import in_run
from tpusim.sim.world import NONE, Timer, World

UNIT_COMPONENTS = ("host", "chip", "cube", "hbm", "ici_link")  # in warm-start draw order


class Coin:
    """Uniform [0, 1) draws in batches from one Generator."""

    __slots__ = ("_buffer", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buffer: list[float] = []

    def __call__(self) -> float:
        if not self._buffer:
            self._buffer = self._rng.random(512).tolist()
        return self._buffer.pop()


class UnitClass:
    """What the units of one component share: lifetimes, repair stages, policies."""

    __slots__ = ("bad_multiplier", "coin", "comp", "compute_clock", "per_cube", "policy",
                 "retirement", "stage_samplers", "stages", "ttf", "w")

    def __init__(self, w: World, comp: str, per_cube: int, ttf: Sampler,
                 stages: tuple[RepairStage, ...], stage_samplers: list[Sampler],
                 policy: RepairPolicy | None, coin: Coin, bad_multiplier: float) -> None:
        self.w = w
        self.comp = comp
        self.per_cube = per_cube
        self.ttf = ttf
        self.stages = stages
        self.stage_samplers = stage_samplers
        self.policy = policy
        self.retirement = policy.retirement if policy is not None else None
        self.coin = coin
        self.bad_multiplier = bad_multiplier
        self.compute_clock = w.sc.faults.clock == "compute"


class Unit:
    __slots__ = ("bad", "cls", "cube", "failures", "gen", "pod", "retired", "up")

    def __init__(self, cls: UnitClass, pod: int, cube: int) -> None:
        self.cls = cls
        self.pod = pod
        self.cube = cube
        self.gen = 0
        self.up = True
        self.bad = False
        self.retired = False
        # failure times within the retirement window (kept only under a retirement policy)
        self.failures: deque[float] | None = deque() if cls.retirement is not None else None


def ttf_draw(u: Unit) -> float:
    draw = u.cls.ttf.draw()
    return draw / u.cls.bad_multiplier if u.bad else draw


def arm(u: Unit, delay: float) -> None:
    """The unit fails `delay` seconds from now (unless its state changes first)."""
    u.cls.w.env.call_at(delay, _on_failure, (u, u.gen))


def _computing(w: World, u: Unit) -> bool:
    j = w.pods[u.pod].owner[u.cube]
    return j != NONE and in_run(w, w.jobs[j])


def _on_failure(timer: Timer) -> None:
    """The unit's failure time has come (unless its state changed since the timer was armed):
    diagnose, then take down the unit held responsible."""
    u, gen = timer.value
    if u.gen != gen:
        return  # stale: blamed for another unit's failure, or turned bad, meanwhile
    cls = u.cls
    w = cls.w
    if cls.compute_clock and not _computing(w, u):
        arm(u, ttf_draw(u))  # the job's hardware fails only while it computes
        return
    w.fleet["unit_failures"] += 1
    policy = cls.policy
    if policy is not None:
        j = w.pods[u.pod].owner[u.cube]
        if j != NONE:
            if policy.diagnosis < 1.0 and cls.coin() >= policy.diagnosis:
                w.fleet["undiagnosed"] += 1
                interrupt_in_place(w, w.jobs[j], cls.comp)  # restarts on the same hardware
                arm(u, ttf_draw(u))
                return
            if policy.blame_error > 0.0 and cls.coin() < policy.blame_error:
                other = _innocent(w, u, j)
                if other is not None:
                    w.fleet["misblamed"] += 1
                    arm(u, ttf_draw(u))  # the faulty unit stays in service
                    take_down(other)
                    return
    take_down(u)


def _innocent(w: World, u: Unit, j: int) -> Unit | None:
    """A random other unit of the same component, up, in job `j`'s slices (None if the draws
    find none)."""
    cls = u.cls
    units = w.units[cls.comp][u.pod]
    slices = [sl for sl in w.jobs[j].slices if sl.cubes is not None and sl.pod == u.pod]
    for _ in range(8):
        sl = slices[int(cls.coin() * len(slices))]
        cube = sl.cubes[int(cls.coin() * len(sl.cubes))]
        if cube < 0:
            continue
        other = units[cube * cls.per_cube + int(cls.coin() * cls.per_cube)]
        if other is not u and other.up:
            return other
    return None


def take_down(u: Unit) -> None:
    """The unit goes out of service (its cube with it): retired, or to repair."""
    cls = u.cls
    w = cls.w
    u.gen += 1
    u.up = False
    retire = cls.retirement
    if retire is not None:
        now = w.env.now
        u.failures.append(now)
        while u.failures[0] < now - retire.window_s:
            u.failures.popleft()
        if len(u.failures) >= retire.failures:
            w.fleet["retired"] += 1
            u.retired = True
            component_down(w, w.pods[u.pod], u.cube, cls.comp)
            if retire.replace is not None:
                w.env.call_at(retire.replace.sample(w.rng_repair, 1)[0].item(), _on_replaced, u)
            return
    component_down(w, w.pods[u.pod], u.cube, cls.comp)
    repair(u, 0)


def _on_replaced(timer: Timer) -> None:
    u = timer.value
    u.retired = False
    u.bad = False
    u.failures.clear()
    u.cls.w.fleet["replaced"] += 1
    back_up(u)


def repair(u: Unit, stage: int) -> None:
    """Stage `stage` of the unit's repair begins (once a crew is free, if it needs one)."""
    cls = u.cls
    crews = cls.w.pods[u.pod].crews
    if crews is not None and cls.stages[stage].crew:
        wait = crews.acquire()
        if wait is not None:
            wait.callbacks.append(lambda _ev: _start_stage(u, stage))
            return
    cls.w.env.call_at(cls.stage_samplers[stage].draw(), _on_stage_done, (u, stage))


def _start_stage(u: Unit, stage: int) -> None:
    u.cls.w.env.call_at(u.cls.stage_samplers[stage].draw(), _on_stage_done, (u, stage))


def _on_stage_done(timer: Timer) -> None:
    u, stage = timer.value
    cls = u.cls
    w = cls.w
    spec = cls.stages[stage]
    crews = w.pods[u.pod].crews
    if crews is not None and spec.crew:
        crews.release()
    if cls.policy is not None:
        w.fleet["repair_stages"] += 1
        if stage + 1 < len(cls.stages) and cls.coin() < spec.escalate:
            w.fleet["escalated"] += 1
            repair(u, stage + 1)
            return
        if u.bad and (spec.cure >= 1.0 or cls.coin() < spec.cure):
            u.bad = False
            w.fleet["cured"] += 1
    elif u.bad:
        u.bad = False  # a single repair always cures
        w.fleet["cured"] += 1
    back_up(u)


def back_up(u: Unit) -> None:
    w = u.cls.w
    u.up = True
    u.gen += 1
    component_up(w, w.pods[u.pod], u.cube)
    arm(u, ttf_draw(u))


def make_bad(u: Unit) -> None:
    """A good unit turns bad: an up unit's next failure is redrawn at the bad rate (exact for
    exponential lifetimes)."""
    u.bad = True
    if u.up and not u.retired:
        u.gen += 1
        arm(u, ttf_draw(u))


def build_classes(w: World, coin: Coin) -> dict[str, UnitClass]:
    """One UnitClass per repaired component the scenario gives failures for."""
    sc = w.sc
    chip = sc.pod.chip
    policy = sc.faults.repair
    bad = sc.faults.bad_hosts
    out = {}
    for comp in UNIT_COMPONENTS:
        f: ComponentFailures | None = sc.failure(comp)
        if f is None:
            continue
        ttf_sampler, ttr_sampler = w.samplers[comp]
        if f.pipeline and policy is not None and policy.stages:
            stages = policy.stages
            samplers = [Sampler(s.duration, w.rng_repair) for s in stages]
        else:
            stages = (RepairStage("repair", f.ttr),)
            samplers = [ttr_sampler]
        out[comp] = UnitClass(w, comp, units_per_cube(comp, chip), ttf_sampler, stages, samplers,
                              policy, coin, bad.multiplier if (bad and comp == "host") else 1.0)
    return out


def start_units(w: World) -> None:
    """Create every unit of the usable cubes and start it: with warm start, a unit begins down
    with its steady-state probability (its repair under way, without a failure event)."""
    sc = w.sc
    n = sc.usable_cubes
    coin = Coin(w.rng_repair)
    classes = build_classes(w, coin)
    bad = sc.faults.bad_hosts
    for comp, cls in classes.items():
        f = sc.failure(comp)
        total = sc.pod_count * n * cls.per_cube
        units = [[Unit(cls, p, c) for c in range(n) for _ in range(cls.per_cube)]
                 for p in range(sc.pod_count)]
        w.units[comp] = units
        flat = [u for pod_units in units for u in pod_units]
        if comp == "host" and bad is not None:
            for i in w.rng_repair.choice(total, round(bad.fraction * total), replace=False):
                flat[int(i)].bad = True
        lifetime = lifetime_of(f, sc.pod.chip)
        repair_s = _mean_repair_s(cls)
        warm = sc.warm_start and sc.faults.clock == "wall"
        a_down = repair_s / (lifetime.mean_s + repair_s) if warm else 0.0
        down0 = (w.rng_init.random(total) < a_down).tolist()
        first_up = lifetime.sample(w.rng_init, total).tolist()
        for u, down, ttf in zip(flat, down0, first_up, strict=True):
            if down:
                initially_down(w.pods[u.pod], u.cube)  # steady state, without a failure event
                u.up = False
                repair(u, 0)
            else:
                arm(u, ttf / (cls.bad_multiplier if u.bad else 1.0))
    if bad is not None and bad.regenerate_s is not None and "host" in classes:
        w.env.process(_regenerate(w, bad.regenerate_s, round(bad.fraction * sc.pod_count * n
                                                             * classes["host"].per_cube)))


def _mean_repair_s(cls: UnitClass) -> float:
    if cls.policy is not None and cls.stages is cls.policy.stages:
        return cls.policy.mean_s
    return cls.stages[0].duration.mean_s


def _regenerate(w: World, every_s: float, target: int):
    """Every `every_s`, good hosts turn bad until `target` hosts are bad again."""
    hosts = [u for pod_units in w.units["host"] for u in pod_units]
    while True:
        yield w.env.timeout(every_s)
        good = [i for i, u in enumerate(hosts) if not u.bad and not u.retired]
        need = target - sum(1 for u in hosts if u.bad and not u.retired)
        if need > 0 and good:
            for i in w.rng_repair.choice(len(good), min(need, len(good)), replace=False):
                make_bad(hosts[good[int(i)]])
            w.fleet["regenerated"] += min(need, len(good))


