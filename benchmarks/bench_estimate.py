"""Benchmark of the dense-LLM performance model, against its targets.

- one `estimate()` after import: target <= 5 ms (median of repeated calls; the first, cold call,
  which also loads the chip/pod catalog once per process and fills the slice and mapping caches,
  is reported too);
- `search()` over every legal sharding of PaLM 540B on 6144 chips (2 x 3072), every distinct
  remat policy: target <= 2 s (cold: caches cleared before each run);
- no target, for reference: one estimate of the int8 MLPerf GPT-3 workload, the search of
  LLaMA-3-70B on 4096 v5p chips, and a search that falls back to host offload (LLaMA-3-70B on
  32 v5e chips: nothing fits in HBM, so the offload variants are evaluated as well).

Usage: python benchmarks/bench_estimate.py [--json FILE] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import finish

from tpusim.workloads import estimate, load_workload
from tpusim.workloads.mapping import mapping_candidates
from tpusim.workloads.search import _search_cached, search
from tpusim.workloads.sharding import resolve_slice

TARGETS_S = {"estimate": 5e-3, "search_palm_540b_6144": 2.0}


def _clear() -> None:
    _search_cached.cache_clear()
    mapping_candidates.cache_clear()
    resolve_slice.cache_clear()


def bench(repeat: int) -> list[dict]:
    rows = []
    for name in ("palm-540b", "maxtext-v4-22b", "maxtext-v4-52b", "mlperf-gpt3-175b-v5p"):
        wl = load_workload(name)
        _clear()
        t0 = time.perf_counter()
        estimate(wl)
        cold = time.perf_counter() - t0
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            estimate(wl)
            times.append(time.perf_counter() - t0)
        rows.append({"name": f"estimate_{name}", "description": f"one `estimate()` of {name}, in process",
                     "seconds": statistics.median(times), "cold_s": cold, "target_s": TARGETS_S["estimate"]})
    cases = (
        ("search_palm_540b_6144", "PaLM 540B on 6144 chips", "palm-540b", {},
         TARGETS_S["search_palm_540b_6144"]),
        ("search_llama3_70b_4096", "LLaMA-3-70B on 4096 v5p chips", "llama3-70b", {}, None),
        ("search_llama3_70b_v5e_offload", "LLaMA-3-70B on 32 v5e chips (host offload fallback)",
         "llama3-70b", {"chip": "v5e", "chips_per_slice": 32, "global_batch_seqs": 32}, None),
    )
    for key, what, name, overrides, target in cases:
        wl = load_workload(name)
        times, evaluated = [], 0
        for _ in range(max(3, repeat // 50)):
            _clear()
            t0 = time.perf_counter()
            result = search(wl, top=20, **overrides)
            times.append(time.perf_counter() - t0)
            evaluated = result.evaluated
        rows.append({"name": key,
                     "description": f"`--search` over every sharding of {what} ({evaluated:,} candidates)",
                     "seconds": statistics.median(times), "cold_s": max(times), "target_s": target})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", dest="json_file", help="also write the rows as JSON to FILE")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per estimate case")
    args = parser.parse_args(argv)
    rows = bench(args.repeat)
    return finish("estimate", rows, args.json_file)


if __name__ == "__main__":
    sys.exit(main())
