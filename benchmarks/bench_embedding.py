"""Benchmark of the embedding (DLRM) model and the all-to-all link loads, against their targets.

- one `estimate_dlrm()` in process: target <= 5 ms (median of repeated calls; the cold first
  call is reported too);
- `search_dlrm()` over placements x shardings x slice shapes (plain and twisted) of DCNv2 on 512
  v4 chips: target <= 2 s, cold (caches cleared before each run);
- all-to-all link loads of a 16x16x16 torus: target <= 1 s cold, and the cached lookup after.

Usage: python benchmarks/bench_embedding.py [--json FILE] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import finish

from tpusim.topology.alltoall import all_to_all_loads
from tpusim.workloads.dlrm import estimate_dlrm, search_dlrm
from tpusim.workloads.dlrm.config import load_dlrm
from tpusim.workloads.sharding import resolve_slice

TARGETS_S = {"estimate": 5e-3, "search": 2.0, "alltoall_cold": 1.0}
RING = (True, True, True)


def _clear() -> None:
    all_to_all_loads.cache_clear()
    resolve_slice.cache_clear()


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(repeat: int) -> list[dict]:
    rows = []
    for name in ("dlrm-dcnv2", "dlrm-mlperf-v1"):
        wl = load_dlrm(name)
        _clear()
        t0 = time.perf_counter()
        estimate_dlrm(wl)
        cold = time.perf_counter() - t0
        rows.append({"name": f"estimate_{name}", "description": f"one DLRM `estimate` of {name}, in process",
                     "seconds": _median(lambda wl=wl: estimate_dlrm(wl), repeat), "cold_s": cold,
                     "target_s": TARGETS_S["estimate"]})
    wl = load_dlrm("dlrm-dcnv2")
    times, evaluated = [], 0
    for _ in range(max(3, repeat // 50)):
        _clear()
        t0 = time.perf_counter()
        result = search_dlrm(wl, chip="v4", chips=512)
        times.append(time.perf_counter() - t0)
        evaluated = result.evaluated
    rows.append({"name": "search_dlrm_dcnv2_512",
                 "description": f"DLRM `--search` of DCNv2 on 512 v4 chips ({evaluated} candidates), cold",
                 "seconds": statistics.median(times), "target_s": TARGETS_S["search"]})
    cold = []
    for _ in range(3):
        _clear()
        t0 = time.perf_counter()
        all_to_all_loads((16, 16, 16), RING, False)
        cold.append(time.perf_counter() - t0)
    rows.append({"name": "alltoall_16x16x16_cold",
                 "description": "all-to-all link loads of a 16x16x16 torus (shortest paths), cold",
                 "seconds": statistics.median(cold), "target_s": TARGETS_S["alltoall_cold"]})
    rows.append({"name": "alltoall_16x16x16_cached",
                 "description": "the same, cached",
                 "seconds": _median(lambda: all_to_all_loads((16, 16, 16), RING, False), repeat),
                 "target_s": None})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_file", help="also write the rows as JSON to FILE")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per case")
    args = parser.parse_args(argv)
    return finish("embedding", bench(args.repeat), args.json_file)


if __name__ == "__main__":
    sys.exit(main())
