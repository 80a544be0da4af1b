"""Benchmark: `tpusim topology` for every pod in the catalog.

Target: every pod answers in well under a second (1 s) end to end, Python start-up included.
Prints a table; `--json FILE` also writes the numbers.

    python benchmarks/bench_topology.py [--json out.json] [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import finish

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


TARGET_CLI_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_path", help="write results to this JSON file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pods = all_pods()
    in_process = {pod.name: time_in_process(pod.name, args.repeat) for pod in pods}
    cli = {pod.name: time_cli(pod.name, args.repeat) for pod in pods}
    slowest = max(cli, key=cli.get)
    rows = [{"name": "topology_cli_slowest_pod", "seconds": cli[slowest], "target_s": TARGET_CLI_S,
             "description": f"`tpusim topology --pod P --json` end to end, slowest pod ({slowest})",
             "per_pod_cli_s": cli, "per_pod_in_process_s": in_process}]
    for pod in pods:
        print(f"{pod.name:<14} {pod.chips:>6} chips  in process {in_process[pod.name] * 1e3:7.1f} ms  "
              f"CLI {cli[pod.name]:.3f} s")
    return finish("topology", rows, args.json_path)


if __name__ == "__main__":
    sys.exit(main())
