"""Benchmark of the availability planner, against its targets.

- `tpusim plan --chips 4096 --availability 0.995` end to end in a fresh process (Python
  start-up, imports and the default static Monte Carlo included): target <= 1.5 s wall
  (median of --repeat runs);
- static packing (exact maximum packing per failure pattern) over --patterns failure patterns
  (default 10,000), every default slice size of the 4096-chip TPU v4 pod at 99.5% host
  availability: target <= 5 s, with the 95% confidence intervals it yields;
- the same on the 9216-chip Ironwood pod: target within 2x of that, i.e. <= 10 s (the issue's
  "within 2x of that" read as 2x the 5 s limit; the ratio to the measured v4 time is printed
  too).

Every run starts from cold in-memory caches (tpusim.planner.packing.clear_caches: placements,
bounds, problems, kernels) for the packing cases; the compiled kernel itself
(tpusim.planner.packing.native) is built once per machine and kept in the user cache folder,
so it is compiled before timing starts. `compiled search` in the output says whether it was used.

Usage: python benchmarks/bench_plan.py [--json FILE] [--repeat N] [--patterns N]
       [--ironwood-patterns N]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time

from common import finish

from tpusim.hardware import find_pod
from tpusim.planner import cube_availability
from tpusim.planner.packing import clear_caches, compiled
from tpusim.planner.static import static_estimates
from tpusim.planner.table import default_slice_shapes

TARGET_CLI_S = 1.5
TARGET_PACKING_S = 5.0


def bench_cli(repeat: int) -> dict:
    cmd = [sys.executable, "-m", "tpusim", "plan", "--chips", "4096", "--availability", "0.995"]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, COLUMNS="160"))
        times.append(time.perf_counter() - t0)
    return {"name": "plan_cli_4096", "seconds": statistics.median(times), "target_s": TARGET_CLI_S,
            "description": "`tpusim plan --chips 4096 --availability 0.995`, end to end (Python "
                           "start-up, 200 static patterns)"}


def bench_packing(chips: int, patterns: int, target_s: float) -> dict:
    pod = find_pod(chips)
    shapes = [pod.cube_shape_of(s) for s in default_slice_shapes(pod)]
    p_cube = cube_availability(0.995, pod.chip.hosts_per_cube)
    clear_caches()
    t0 = time.perf_counter()
    est = static_estimates(pod.cube_grid, shapes, p_cube, samples=patterns, seed=0)
    seconds = time.perf_counter() - t0
    widest_p = max(e.p_schedulable_hi - e.p_schedulable_lo for e in est) / 2
    widest_g = max(e.goodput_hi - e.goodput_lo for e in est) / 2
    return {"name": f"static_packing_{pod.chips}",
            "description": f"static packing, {pod.name}, {patterns:,} patterns x {len(shapes)} sizes",
            "seconds": seconds, "target_s": target_s,
            "ci95_half_width_p_max": widest_p, "ci95_half_width_goodput_max": widest_g,
            "rows": [{"slice_cubes": math.prod(e.slice_cube_shape), "p_schedulable": e.p_schedulable,
                      "p_lo": e.p_schedulable_lo, "p_hi": e.p_schedulable_hi, "goodput": e.goodput,
                      "goodput_lo": e.goodput_lo, "goodput_hi": e.goodput_hi} for e in est]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--patterns", type=int, default=10_000)
    parser.add_argument("--ironwood-patterns", type=int, default=None,
                        help="patterns for the 9216-chip pod (default: --patterns); its target "
                             "is then scaled by the ratio of pattern counts")
    args = parser.parse_args()
    print(f"compiled search: {'yes' if compiled() else 'no (the Python twin)'}")
    rows = [bench_cli(args.repeat)]
    v4 = bench_packing(4096, args.patterns, TARGET_PACKING_S)
    rows.append(v4)
    iw = args.ironwood_patterns or args.patterns
    rows.append(bench_packing(9216, iw, 2 * TARGET_PACKING_S * iw / args.patterns))
    rows[-1]["ratio_to_v4"] = rows[-1]["seconds"] / v4["seconds"] * args.patterns / iw
    status = finish("plan", rows, args.json)
    for r in rows:
        if "ratio_to_v4" in r:
            print(f"    {r['ratio_to_v4']:.1f}x the v4 time per pattern")
        if "ci95_half_width_p_max" in r:
            print(f"    95% CI half-widths (widest row): p_schedulable +-{r['ci95_half_width_p_max']:.4f}, "
                  f"goodput +-{r['ci95_half_width_goodput_max']:.4f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
