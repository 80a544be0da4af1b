"""Benchmark of the figures and the report, against their targets.

- every chart function of `tpusim.charts`, drawing its figure and saving it as PNG, from results
  computed beforehand (matplotlib imported and one figure drawn before timing): target <= 0.5 s
  per call (median of repeats);
- `tpusim report` end to end on the PaLM scenario with 50 replications plus a 12-point sweep
  (checkpoint interval x host availability, 2 replications each) on the CPUs of this machine:
  target <= 60 s on 2 cores.

Usage: python benchmarks/bench_report.py [--json FILE] [--repeat N] [--skip-report]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish  # noqa: E402

CHART_TARGET_S = 0.5
REPORT_TARGET_S = 60.0

SWEEP_12 = """# 12 points: checkpoint interval x host availability on the PaLM scenario
[sweep]
kind = "simulate"
base = "palm-540b-50d"

[grid]
"recovery.checkpoint_interval_s" = [900, 1800, 3600, 7200]
"failures.host.availability" = [0.99, 0.995, 0.999]
replications = [2]
"""


def _inputs():
    import pandas as pd

    from tpusim.hardware import find_pod
    from tpusim.planner.table import plan
    from tpusim.sim import load_scenario, simulate, with_overrides
    from tpusim.workloads import estimate, load_workload

    pod = find_pod(4096)
    plans = [plan(pod, a, samples=200, seed=0) for a in (0.99, 0.995, 0.999)]
    concrete = plan(pod, 0.995, slice_shape="8x16x16", samples=5, faulty_cubes=[3, 17, 42], then_fail=0)
    wl = load_workload("palm-540b")
    ests = [estimate(wl, chips_per_slice=n, slices=1) for n in (1024, 2048, 3072)]
    sim = simulate(with_overrides(load_scenario("palm-540b-50d"), replications=50, seed=1),
                   workers=1, with_events=True)
    grid = pd.DataFrame([{"checkpoint_interval_s": i, "host_availability": a,
                          "goodput": 0.4 + i / 1e5 - (1 - a), "goodput_ci95": 0.01}
                         for i in (900, 1800, 3600, 7200) for a in (0.99, 0.995, 0.999)])
    return plans, concrete, ests, sim, grid


def chart_rows(repeat: int) -> list[dict]:
    from tpusim import charts

    plans, concrete, ests, sim, grid = _inputs()
    calls = {
        "plan_goodput": ("3 availabilities x 8 sizes, bands", lambda: charts.plan_goodput(plans)),
        "cube_map": ("v4 pod, 3 faulty cubes, re-formed slice", lambda: charts.cube_map(concrete)),
        "step_breakdown": ("PaLM 540B on 3 slice sizes", lambda: charts.step_breakdown(ests)),
        "mfu_vs_slice": ("PaLM 540B on 3 slice sizes", lambda: charts.mfu_vs_slice(ests)),
        "goodput_decomposition": ("PaLM 50 days, 50 replications",
                                  lambda: charts.goodput_decomposition(sim)),
        "badput_bar": ("PaLM 50 days, 50 replications", lambda: charts.badput_bar(sim)),
        "goodput_distribution": ("50 replications", lambda: charts.goodput_distribution(sim)),
        "time_to_train_distribution": ("50 replications",
                                       lambda: charts.time_to_train_distribution(sim)),
        "timeline": ("replication 0 of PaLM 50 days", lambda: charts.timeline(sim)),
        "simulate_overview": ("4 panels", lambda: charts.simulate_overview(sim)),
        "sweep_lines": ("12 points, 3 lines with bands",
                        lambda: charts.sweep_lines(grid, "checkpoint_interval_s", "goodput",
                                                   by="host_availability")),
        "sweep_heatmap": ("4 x 3 grid", lambda: charts.sweep_heatmap(
            grid, "checkpoint_interval_s", "host_availability", "goodput")),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        charts.save(charts.plan_goodput(plans), Path(tmp) / "warm.png")  # imports, font cache
        for name, (what, draw) in calls.items():
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                charts.save(draw(), Path(tmp) / f"{name}.png")
                times.append(time.perf_counter() - t0)
            composite = name == "simulate_overview"  # four charts in one figure: no own target
            rows.append({"name": f"chart_{name}", "seconds": statistics.median(times),
                         "target_s": None if composite else CHART_TARGET_S,
                         "description": f"charts.{name} drawn and saved as PNG ({what})"})
    return rows


def report_row() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "ckpt-x-host.toml"
        sweep.write_text(SWEEP_12)
        out = Path(tmp) / "report.html"
        cmd = [sys.executable, "-m", "tpusim", "report", "palm-540b-50d", str(sweep),
               "--replications", "50", "--out", str(out)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"tpusim report failed: {done.stderr.strip()}")
        size = out.stat().st_size
    return {"name": "report_palm_50_plus_sweep_12", "seconds": seconds, "target_s": REPORT_TARGET_S,
            "description": "tpusim report: PaLM 50 days x 50 replications + 12-point simulate sweep "
                           "(2 replications each), one self-contained HTML file, end to end",
            "html_bytes": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", help="write results to this JSON file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-report", action="store_true", help="time the charts only")
    args = parser.parse_args()
    rows = chart_rows(args.repeat)
    if not args.skip_report:
        rows.append(report_row())
    return finish("report", rows, args.json_path)


if __name__ == "__main__":
    sys.exit(main())
