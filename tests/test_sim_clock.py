"""The engine's clock (`tpusim.sim.world.Clock`) mirrors SimPy 4's `Environment.step` and pushes
its timers straight onto SimPy's event queue (`_queue`, `_eid`, `_now`: private names; the
dependency is pinned to simpy >=4.1,<5 for that reason). These tests compare it with SimPy's
public API, so that a SimPy release that changes those internals fails here, loudly, instead of
silently re-ordering events:

- timers from `call_at` and SimPy's own timeouts and urgent events, many at equal times, fire in
  exactly the order a plain `simpy.Environment` fires the same schedule made of timeouts;
- whole replications (every component on, the event log on) are identical, event for event and
  to the last bit of every accounted second, whether the engine runs on `Clock` or on a clock
  built only from SimPy's public API (`timeout`, `step`).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import simpy
from simpy.events import URGENT

from tpusim.sim import engine, scenario_from_dict, world
from tpusim.sim.jobs import plan_jobs
from tpusim.sim.world import Clock


class PublicClock(simpy.Environment):
    """The engine's clock through SimPy's public API only: a timer is a Timeout whose callback
    reads `.value`, and the interruptions an event raised are handed over after SimPy's own
    step."""

    def __init__(self, interrupts: deque) -> None:
        super().__init__()
        self.interrupts = interrupts
        self.on_interrupts = None

    def call_at(self, delay: float, callback, value) -> None:
        self.timeout(delay, value).callbacks.append(callback)

    def step(self) -> None:
        super().step()
        if self.interrupts:
            self.on_interrupts()


def _firing_order(env: simpy.Environment, *, timers: bool) -> list[tuple[float, int]]:
    """Schedule 300 events at a few distinct times (many ties): every third through
    `call_at` when `timers` (else a Timeout), some urgent, some made by a process; return
    (time, id) in firing order."""
    rng = np.random.default_rng(5)
    fired: list[tuple[float, int]] = []

    def note(i: int):
        return lambda ev: fired.append((env.now, i))

    def proc(i: int, delay: float):
        yield env.timeout(delay)
        fired.append((env.now, i))

    for i in range(300):
        delay = float(rng.choice([0.0, 1.0, 2.0, 2.5]))
        kind = i % 5
        if kind == 0 and timers:
            env.call_at(delay, note(i), None)
        elif kind == 1:  # an urgent event, as SimPy schedules a process's start
            ev = simpy.Event(env)
            ev._ok, ev._value = True, None
            ev.callbacks.append(note(i))
            env.schedule(ev, URGENT, delay)
        elif kind == 2:
            env.process(proc(i, delay))
        else:
            env.timeout(delay).callbacks.append(note(i))
    env.run()
    return fired


def test_clock_timers_fire_in_simpy_order():
    plain = _firing_order(simpy.Environment(), timers=False)
    clock = _firing_order(Clock(deque()), timers=True)
    assert clock == plain
    assert len({t for t, _ in plain}) < len(plain) / 10  # ties: the order is SimPy's eid order


EVERYTHING = {
    "name": "clock-check",
    "pod": {"name": "tpu-v4-4096", "count": 2, "spare_cubes": 4},
    "failures": {
        "host": {"availability": 0.99, "ttf": "weibull", "ttf_shape": 0.8, "repair": "pipeline"},
        "cube": {"mtbf_hours": 2000, "mttr_hours": 12},
        "ocs": {"mtbf_hours": 5e3},
        "link": {"mtbf_hours": 5e5},
        "job": {"mtbf_hours": 30},
        "dcn": {"mtbf_hours": 5000},
        "sdc": {"mtbf_hours": 1e6, "detection_hours": 12, "mttr_hours": 6},
        "loss_spike": {"mtbf_hours": 50, "rollback_steps": 100, "skip_batches": 300},
    },
    "maintenance": {"cube_interval_hours": 24, "duration_hours": 4, "notice": True},
    "repair": {"crews": 2, "diagnosis": 0.9, "blame_error": 0.1,
               "stages": [{"name": "auto", "mean_hours": 2, "escalate": 0.5, "crew": False},
                          {"name": "manual", "mean_hours": 24}],
               "retirement": {"failures": 2, "window_hours": 200, "replace_hours": 48}},
    "pools": {"warm_standbys": 1, "selection_s": 100},
    "recovery": {"checkpoint_async": True, "checkpoint_async_block_s": 2},
    "jobs": [
        {"name": "big", "slice": "8x8x16", "slices": 2, "mfu": 0.5, "step_time_s": 5,
         "steps": 100000, "priority": 1, "elastic": True},
        {"name": "small", "slice": "4x8x8", "slices": 1, "mfu": 0.4, "step_time_s": 2},
    ],
    # simultaneous injected failures: ties between SimPy processes and the engine's timers
    "inject": [{"at_hours": 30, "cause": "host", "pod": 0, "cube": c, "duration_hours": 3}
               for c in range(3)] + [{"at_hours": 30, "cause": "job", "job": "small"}],
    "run": {"days": 12, "seed": 3},
}


@pytest.mark.parametrize("seed", [0, 1])
def test_engine_on_clock_matches_plain_simpy(monkeypatch, seed):
    sc = scenario_from_dict(EVERYTHING, "test")
    plans = plan_jobs(sc)
    ours = engine.run_replication(sc, plans, np.random.SeedSequence(seed), log=True)
    monkeypatch.setattr(world, "Clock", PublicClock)
    public = engine.run_replication(sc, plans, np.random.SeedSequence(seed), log=True)
    assert ours.events == public.events
    assert ours.jobs == public.jobs
    assert ours.pods == public.pods
    assert ours.fleet == public.fleet
    assert ours.simpy_events == public.simpy_events
    kinds = {e[1] for e in ours.events}
    assert {"cube_down", "swap", "interrupt", "checkpoint"} <= kinds  # the run did exercise
    assert ours.fleet["repair_stages"] > 0 and ours.jobs[0]["interruptions_host"] > 0
