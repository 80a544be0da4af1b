"""Benchmark of the discrete-event simulator.

- one replication of scenarios/palm-540b-50d.toml (2048 hosts simulated): target <= 0.2 s
  (in-process, after import and job planning; median of repeats);
- N replications of it on a process pool of 2 workers: target <= 60 s per 1000;
- a 16,384-chip fleet (4 TPU v4 pods, 4096 hosts, limited repair crews) over 256 days:
  target <= 1 s per replication (AIReSim: ~16 s for a 4096-server, 256-day job);
- a 65,536-chip pod whose OCS cubes are single hosts (tests/data/pod-hostcube-65536.toml:
  16,384 one-host failure units in 4 OCS groups, 4 jobs of 3,840 cubes) over 256 days:
  target <= 3 s per replication;
- the largest catalog fleet of that size: 16 TPU v4 pods (65,536 chips, 16,384 hosts):
  target <= 3 s per replication;
- event overhead: each big run against a bare SimPy loop (one process per failure unit, each
  yielding timeouts of pre-drawn lengths) that schedules the same number of events in the
  same process: the ratio of CPU seconds is what the model costs per event over SimPy itself.

`seconds` is the median wall time; `cpu_s` the median CPU time of the same runs (steadier when
other work shares the machine).

Usage: python benchmarks/bench_sim.py [--json FILE] [--replications N] [--workers W] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import simpy
from common import finish

from tpusim.sim import load_scenario, scenario_from_dict, simulate, with_overrides
from tpusim.sim.engine import run_replication
from tpusim.sim.jobs import plan_jobs

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

POD_16K = {
    "name": "pod-16k-256d",
    "pod": {"name": "tpu-v4-4096", "count": 4},
    # 4096 hosts; A = 0.995 with a 4 h repair: MTBF 796 h, ~31,600 host failures in 256 days
    "failures": {"host": {"availability": 0.995, "mttr_hours": 4}, "job": {"mtbf_hours": 24}},
    "repair": {"crews": 8},
    "recovery": {"checkpoint_save_s": 60},
    "jobs": [{"name": "job", "slice": "12x16x16", "slices": 4, "mfu": 0.45, "step_time_s": 10}],
    "run": {"days": 256, "seed": 1},
}

# 65,536 chips, 16,384 one-host cubes: ~126,000 host failures in 256 days (MTBF 796 h), one
# job per OCS group of 3,840 cubes with 256 spares each; crews cover the ~82 repairs under way
POD_65K_HOSTCUBES = {
    "name": "pod-65k-hostcubes-256d",
    "pod": {"name": str(DATA / "pod-hostcube-65536.toml")},
    "failures": {"host": {"availability": 0.995, "mttr_hours": 4}},
    "repair": {"crews": 128},
    "recovery": {"checkpoint_save_s": 60},
    "jobs": [{"name": f"job{g}", "slice": "16x16x60", "mfu": 0.45, "step_time_s": 10}
             for g in range(4)],
    "run": {"days": 256, "seed": 1},
}

# the largest catalog fleet of the same size: 16 TPU v4 pods, one 3072-chip slice on each
POD_65K_V4 = {
    "name": "pods-16x-v4-256d",
    "pod": {"name": "tpu-v4-4096", "count": 16},
    "failures": {"host": {"availability": 0.995, "mttr_hours": 4}},
    "repair": {"crews": 8},
    "recovery": {"checkpoint_save_s": 60},
    "jobs": [{"name": f"job{p}", "slice": "12x16x16", "mfu": 0.45, "step_time_s": 10}
             for p in range(16)],
    "run": {"days": 256, "seed": 1},
}

TARGETS_S = {"palm_one_replication": 0.2, "palm_1000_replications": 60.0, "pod_16k_256d": 1.0,
             "pod_65k_hostcubes_256d": 3.0, "pods_16x_v4_256d": 3.0}
DESCRIPTIONS = {
    "palm_one_replication": "simulate: one replication of palm-540b-50d (in process)",
    "palm_replications": "simulate: replications of palm-540b-50d on a process pool",
    "pod_16k_256d": "simulate: 16,384 chips (4 v4 pods), 256 days, one replication",
    "pod_65k_hostcubes_256d": "simulate: 65,536-chip pod of one-host cubes, 256 days, one replication",
    "pods_16x_v4_256d": "simulate: 65,536 chips (16 v4 pods), 256 days, one replication",
}


def _time_replication(sc, plans, repeat: int, seed0: int = 0) -> tuple[float, float, object]:
    """Median wall and CPU seconds of `repeat` replications (CPU time is steadier on a machine
    shared with other work), and the last result."""
    walls, cpus, result = [], [], None
    for i in range(repeat):
        seed = np.random.SeedSequence(seed0 + i)
        t0, c0 = time.perf_counter(), time.process_time()
        result = run_replication(sc, plans, seed, log=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def bare_simpy_loop(n_events: int, n_processes: int, seed: int = 0) -> float:
    """CPU seconds for SimPy itself to run `n_events` timeouts spread over `n_processes` renewal
    processes (each a generator yielding timeouts of pre-drawn lengths; no model logic)."""
    env = simpy.Environment()
    draws = np.random.default_rng(seed).exponential(1000.0, n_events + n_processes).tolist()
    per = -(-len(draws) // n_processes)

    def unit(mine: list[float]):
        for delay in mine:
            yield env.timeout(delay)

    for p in range(n_processes):
        env.process(unit(draws[p * per:(p + 1) * per]))
    c0 = time.process_time()
    env.run()
    return time.process_time() - c0


def _big(name: str, doc: dict, repeat: int, units: int) -> dict:
    sc = scenario_from_dict(doc, "bench")
    plans = plan_jobs(sc)
    t, cpu, result = _time_replication(sc, plans, repeat)
    bare = bare_simpy_loop(result.simpy_events, units)
    return {"name": name, "seconds": t, "cpu_s": cpu, "target_s": TARGETS_S[name],
            "description": DESCRIPTIONS[name], "simpy_events": result.simpy_events,
            "component_events": result.n_events, "unit_failures": result.fleet["unit_failures"],
            "events_per_s": result.simpy_events / cpu, "bare_simpy_cpu_s": bare,
            "bare_simpy_events_per_s": result.simpy_events / bare,
            "overhead_vs_bare_simpy": cpu / bare}


def bench(replications: int, workers: int, repeat: int) -> list[dict]:
    rows = []
    palm = load_scenario("palm-540b-50d")
    plans = plan_jobs(palm)
    run_replication(palm, plans, np.random.SeedSequence(99), log=False)  # warm caches
    t, cpu, result = _time_replication(palm, plans, repeat)
    rows.append({"name": "palm_one_replication", "seconds": t, "cpu_s": cpu,
                 "target_s": TARGETS_S["palm_one_replication"],
                 "description": DESCRIPTIONS["palm_one_replication"],
                 "simpy_events": result.simpy_events, "events_per_s": result.simpy_events / t})

    sc = with_overrides(palm, replications=replications, seed=1)
    t0 = time.perf_counter()
    simulate(sc, workers=workers, plans=plans)
    rows.append({"name": f"palm_{replications}_replications", "seconds": time.perf_counter() - t0,
                 "target_s": TARGETS_S["palm_1000_replications"] * replications / 1000,
                 "description": DESCRIPTIONS["palm_replications"], "workers": workers})

    big = max(1, repeat // 2)
    rows.append(_big("pod_16k_256d", POD_16K, big, 4 * 64 * 16))
    rows.append(_big("pod_65k_hostcubes_256d", POD_65K_HOSTCUBES, big, 16384))
    rows.append(_big("pods_16x_v4_256d", POD_65K_V4, big, 16 * 64 * 16))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", help="write the results to this JSON file")
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = bench(args.replications, args.workers, args.repeat)
    for row in rows:
        if "overhead_vs_bare_simpy" in row:
            print(f"{row['name']}: {row['simpy_events']:,} SimPy events, {row['unit_failures']:,} unit "
                  f"failures; {row['cpu_s']:.3f} CPU s ({row['events_per_s']:,.0f} events/s); bare "
                  f"SimPy {row['bare_simpy_events_per_s']:,.0f} events/s; overhead "
                  f"x{row['overhead_vs_bare_simpy']:.2f}")
    return finish("sim", rows, args.json_path)


if __name__ == "__main__":
    raise SystemExit(main())
