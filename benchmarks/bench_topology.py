"""Benchmark: `tpusim topology` for every pod in the catalog.

Target (issue 2): every pod answers in well under a second, end to end.
Prints a table; `--json FILE` also writes the numbers.

    python benchmarks/bench_topology.py [--json out.json] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from tpusim.hardware import all_pods, load_pod
from tpusim.topology.summary import topology_summary


def time_in_process(pod_name: str, repeat: int) -> float:
    pod = load_pod(pod_name)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        topology_summary(pod)
        best = min(best, time.perf_counter() - start)
    return best


def time_cli(pod_name: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tpusim", "topology", "--pod", pod_name, "--json"],
                       check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", help="write results to this JSON file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for pod in all_pods():
        rows.append({"pod": pod.name, "chips": pod.chips,
                     "in_process_s": time_in_process(pod.name, args.repeat),
                     "cli_end_to_end_s": time_cli(pod.name, args.repeat)})
    print(f"{'pod':<14} {'chips':>6} {'in-process':>12} {'CLI end to end':>15}")
    for r in rows:
        in_process_ms = r["in_process_s"] * 1e3
        print(f"{r['pod']:<14} {r['chips']:>6} {in_process_ms:>9.1f} ms {r['cli_end_to_end_s']:>13.3f} s")
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump({"benchmark": "topology", "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
