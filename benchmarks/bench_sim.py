"""Benchmark of the discrete-event simulator (issue 5 targets).

- one replication of scenarios/palm-540b-50d.toml (1536 hosts in the slices, 2048 simulated):
  target <= 0.2 s (in-process, after import and job planning; median of repeats);
- 1000 replications of it on a process pool of 2 workers: target <= 60 s wall;
- a 16,384-chip pod (4 x TPU v4 pods, 4096 hosts, limited repair crews) over 256 days:
  target <= 1 s per replication (AIReSim: ~16 s for a 4096-server, 256-day job);
- events per second, against a bare heapq event loop doing the same number of events (the
  limit of a pure-Python event loop): the overhead ratio is the figure to keep small.

Usage: python benchmarks/bench_sim.py [--json FILE] [--replications N] [--workers W]
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import time

import numpy as np
from common import write_json

from tpusim.sim import load_scenario, scenario_from_dict, simulate, with_overrides
from tpusim.sim.engine import run_replication
from tpusim.sim.jobs import plan_jobs

TARGETS_S = {"palm_one_replication": 0.2, "palm_1000_replications": 60.0, "pod_16k_256d": 1.0}

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


def _time_replication(sc, plans, repeat: int, seed0: int = 0) -> tuple[float, object]:
    times, result = [], None
    for i in range(repeat):
        seed = np.random.SeedSequence(seed0 + i)
        t0 = time.perf_counter()
        result = run_replication(sc, plans, seed, log=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bare_heapq_loop(n_events: int, n_processes: int, seed: int = 0) -> float:
    """Seconds for a bare heapq loop to pop and push `n_events` timed events spread over
    `n_processes` renewal processes, with draws pre-generated (no model logic at all)."""
    rng = np.random.default_rng(seed)
    draws = rng.exponential(1000.0, n_events + n_processes).tolist()
    t0 = time.perf_counter()
    heap = [(draws[i], i) for i in range(n_processes)]
    heapq.heapify(heap)
    k = n_processes
    for _ in range(n_events):
        now, proc = heapq.heappop(heap)
        heapq.heappush(heap, (now + draws[k], proc))
        k += 1
    return time.perf_counter() - t0


def bench(replications: int, workers: int, repeat: int) -> list[dict]:
    rows = []
    palm = load_scenario("palm-540b-50d")
    plans = plan_jobs(palm)
    run_replication(palm, plans, np.random.SeedSequence(99), log=False)  # warm caches
    t, result = _time_replication(palm, plans, repeat)
    rows.append({"name": "palm_one_replication", "seconds": t, "target_s": TARGETS_S["palm_one_replication"],
                 "description": "one replication of the 50-day PaLM scenario, in process",
                 "simpy_events": result.simpy_events, "events_per_s": result.simpy_events / t})

    sc = with_overrides(palm, replications=replications, seed=1)
    t0 = time.perf_counter()
    simulate(sc, workers=workers, plans=plans)
    wall = time.perf_counter() - t0
    rows.append({"name": f"palm_{replications}_replications", "seconds": wall,
                 "description": f"{replications:,} replications of the PaLM scenario on {workers} workers",
                 "target_s": TARGETS_S["palm_1000_replications"] * replications / 1000,
                 "workers": workers})

    big = scenario_from_dict(POD_16K, "bench")
    big_plans = plan_jobs(big)
    t, result = _time_replication(big, big_plans, max(1, repeat // 2))
    bare = bare_heapq_loop(result.simpy_events, big.pod_count * big.usable_cubes * 16)
    rows.append({"name": "pod_16k_256d", "seconds": t, "target_s": TARGETS_S["pod_16k_256d"],
                 "description": "one replication, 16,384-chip pod over 256 days",
                 "simpy_events": result.simpy_events, "component_events": result.n_events,
                 "events_per_s": result.simpy_events / t, "bare_heapq_s": bare,
                 "bare_heapq_events_per_s": result.simpy_events / bare,
                 "overhead_vs_bare_heapq": t / bare})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = bench(args.replications, args.workers, args.repeat)
    ok = True
    print(f"{'benchmark':<28}{'seconds':>10}{'target':>9}  {'events/s':>12}  notes")
    for row in rows:
        passed = row["seconds"] <= row["target_s"]
        ok &= passed
        rate = f"{row['events_per_s']:,.0f}" if "events_per_s" in row else "-"
        note = ""
        if "overhead_vs_bare_heapq" in row:
            note = (f"{row['simpy_events']:,} events; bare heapq {row['bare_heapq_events_per_s']:,.0f}/s, "
                    f"overhead x{row['overhead_vs_bare_heapq']:.1f}")
        elif "workers" in row:
            note = f"{row['workers']} workers"
        print(f"{row['name']:<28}{row['seconds']:>10.3f}{row['target_s']:>9.1f}  {rate:>12}  "
              f"{'ok' if passed else 'SLOW'} {note}")
    if args.json:
        write_json(args.json, "sim", rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
