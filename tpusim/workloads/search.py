"""`--search`: every legal sharding of a workload on its system, evaluated at once (numpy).

Candidates: the chips per slice factored into tensor x pipeline x in-slice data x fsdp, with
microbatches up to MAX_MICROBATCHES, kept when the legality rules of `sharding.py` allow them
(applied level by level as the factors are chosen); every remat policy; every placement of the
logical axes on the slice's physical axes (the fastest is kept). Candidates that do not fit in
HBM are dropped; the rest are ranked by tokens/s (= by MFU). Host offload (the *_offloaded remat
policies, the optimizer state on the host) is tried only when nothing fits without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tpusim import defaults
from tpusim.errors import TpusimError
from tpusim.filecache import file_cached
from tpusim.hardware import load_chip
from tpusim.units import fmt_duration
from tpusim.workloads.config import REMATS, Parallelism, Workload, with_overrides
from tpusim.workloads.efficiency import load_efficiency
from tpusim.workloads.mapping import mapping_candidates
from tpusim.workloads.remat import OFFLOADED, distinct_policies, remat_plan
from tpusim.workloads.sharding import (
    Estimate,
    comm_params,
    estimate_one,
    host_dram_fits,
    in_slice_sizes,
    microbatch_problem,
    pipeline_problem,
    replicas_problem,
    resolve_slice,
    step_inputs,
    tensor_problem,
    utilization,
)
from tpusim.workloads.step import BREAKDOWN_KEYS, evaluate, plan_columns

MAX_MICROBATCHES = 64


@dataclass(frozen=True)
class SearchResult:
    """Ranked feasible shardings (best first) and how many were tried. `best` is the estimate of
    the first row, or, when nothing fits (`fits_found` false), of the sharding needing the least
    memory."""

    workload: str
    chip: str
    chips: int
    slices: int
    slice_shape: str
    evaluated: int
    feasible: int
    rows: list[dict] = field(default_factory=list)
    best: Estimate | None = None
    twisted: bool = False  # the slice is a twisted torus

    @property
    def fits_found(self) -> bool:
        """Whether any sharding fits (HBM, and host DRAM when it offloads): the ranking is not empty."""
        return self.feasible > 0

    def to_dict(self) -> dict:
        """The best estimate's keys at the top level (step_time_s, mfu, ... as without --search),
        plus the ranked `rows`, `best`, `evaluated`, `feasible` and `fits_found` (false: nothing
        fits, `rows` is empty and the top-level keys are the closest sharding's)."""
        out = {} if self.best is None else self.best.to_dict()
        out.update({
            "workload": self.workload,
            "chip": self.chip,
            "chips": self.chips,
            "slices": self.slices,
            "slice_shape": self.slice_shape,
            "twisted": self.twisted,
            "evaluated": self.evaluated,
            "feasible": self.feasible,
            "fits_found": self.fits_found,
            "rows": self.rows,
            "best": None if self.best is None else self.best.to_dict(),
        })
        return out


    def to_frame(self):
        """The ranked rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def _divisors(n: int, at_most: int | None = None) -> list[int]:
    """The divisors of n up to `at_most`, ascending (O(sqrt n): a batch may be 1e9 sequences)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    found = sorted(set(small) | {n // d for d in small})
    return found if at_most is None else [d for d in found if d <= at_most]


def shardings(wl: Workload) -> list[tuple[int, int, int, int, int]]:
    """Every legal (tensor, fsdp, data_in_slice, pipeline, microbatches) of `wl`'s system."""
    m, s = wl.model, wl.system
    c, slices, seqs = s.chips_per_slice, s.slices, wl.training.global_batch_seqs
    out = []
    for t in _divisors(c):
        if tensor_problem(m, t):
            continue
        for p in _divisors(c // t):
            if pipeline_problem(m, p):
                continue
            for dpi in _divisors(c // (t * p)):
                f = c // (t * p * dpi)
                replicas = slices * dpi * f
                if replicas_problem(seqs, replicas):
                    continue
                per_replica = seqs // replicas
                for mb in _divisors(per_replica, MAX_MICROBATCHES):
                    if microbatch_problem(per_replica, mb, p):
                        continue
                    out.append((t, f, dpi, p, mb))
    return out


Variant = tuple[str, bool]  # (remat policy, optimizer state offloaded to host)


def _variants(wl: Workload, remats: tuple[str, ...], offload: bool) -> list[Variant]:
    """The (policy, optimizer offload) pairs tried: without `offload`, the policies that keep
    everything in HBM with the file's optimizer placement; with it, every policy, the optimizer
    state in HBM or on the host. Policies equal on this model (remat.distinct_policies) once."""
    if not offload:
        kept = tuple(r for r in remats if r not in OFFLOADED)
        return [(r, wl.training.offload_optimizer) for r in distinct_policies(wl.model, kept)]
    placements = sorted({wl.training.offload_optimizer, True})
    return [(r, o) for o in placements for r in distinct_policies(wl.model, remats)]


def _evaluate(wl: Workload, chip, spec, cands, variants: list[Variant]):
    """Step time, memory and breakdown of every (sharding, placement, variant) row."""
    eff = load_efficiency()
    slices = wl.system.slices
    rows_cfg, rows_map, maps_all = [], [], []
    map_index: dict[tuple, tuple[int, int]] = {}
    for i, (t, f, dpi, p, _mb) in enumerate(cands):
        key = (t, f, dpi, p)
        if key not in map_index:
            par = Parallelism(data=dpi * slices, fsdp=f, tensor=t, pipeline=p)
            maps = mapping_candidates(
                spec.shape,
                spec.wrap,
                in_slice_sizes(par, slices),
                chip.ici_link_one_way_bytes_per_s,
                chip.ici_hop_latency_s,
                eff.ici_link_fraction,
                twisted=spec.twisted,
            )
            map_index[key] = (len(maps_all), len(maps))
            maps_all.extend(maps)
        start, n = map_index[key]
        rows_cfg.extend([i] * n)
        rows_map.extend(range(start, start + n))
    cfg = np.array(cands, dtype=float).reshape(-1, 5)[rows_cfg]
    comm_all = comm_params(maps_all, chip, eff.ici_link_fraction)
    comm = {k: (v[rows_map] if isinstance(v, np.ndarray) else v) for k, v in comm_all.items()}
    n_rows = len(rows_cfg)
    plan = plan_columns([remat_plan(wl.model, r) for r, _o in variants], [o for _r, o in variants], n_rows)
    tile = lambda a: np.tile(a, len(variants))  # noqa: E731
    comm = {k: (tile(v) if isinstance(v, np.ndarray) else v) for k, v in comm.items()}
    cols = [tile(cfg[:, j]) for j in range(5)]
    res = evaluate(step_inputs(wl, chip), cols[0], cols[1], cols[2], cols[3], cols[4], plan, comm)
    shape = (n_rows * len(variants),)
    cfg_id = tile(np.array(rows_cfg)) + np.repeat(np.arange(len(variants)) * len(cands), n_rows)
    return cfg, n_rows, cfg_id, {k: np.broadcast_to(v, shape) for k, v in res.items()}


@file_cached(maxsize=64)  # the chip file is read inside: an edit is noticed
def _search_cached(wl: Workload, top: int, remats: tuple[str, ...]) -> SearchResult:
    chip = load_chip(wl.system.chip)
    spec = resolve_slice(chip, wl.system.chips_per_slice, wl.system.slice_shape, wl.system.twisted)
    cands = shardings(wl)
    slices = wl.system.slices
    evaluated = 0
    for offload in (False, True):  # host offload only when nothing fits in HBM without it
        variants = _variants(wl, remats, offload)
        if not variants:
            continue
        cfg, n_rows, cfg_id, res = _evaluate(wl, chip, spec, cands, variants)
        step, mem = res["step_time_s"], res["memory_per_chip_bytes"]
        evaluated += int(step.size)
        fits = (mem <= chip.hbm_bytes) & host_dram_fits(res["host_memory_per_chip_bytes"], chip)
        # best placement per (sharding, variant): sort by (cfg_id, step), take the first of each
        order = np.lexsort((step, cfg_id))
        first = np.ones(order.size, bool)
        first[1:] = cfg_id[order][1:] != cfg_id[order][:-1]
        best_rows = order[first]
        feasible = best_rows[fits[best_rows]]
        if feasible.size:
            break
    ranked = feasible[np.argsort(step[feasible], kind="stable")]

    tokens = wl.tokens_per_step
    breakdown = {k: res[f"breakdown.{k}"] for k in BREAKDOWN_KEYS}
    rows: list[dict] = []
    base = ranked[0] if ranked.size else None
    for r in ranked[:top]:
        remat, off_opt = variants[int(r) // n_rows]
        t, f, dpi, p, mb = (int(x) for x in cfg[r % n_rows])
        tps = tokens / step[r]
        mfu, hfu = utilization(wl, chip, remat, float(tps))
        why = ""
        if base is not None and r != base:
            diffs = {k: breakdown[k][r] - breakdown[k][base] for k in BREAKDOWN_KEYS}
            worst = max(diffs, key=diffs.get)
            why = f"+{fmt_duration(diffs[worst])} {worst}"  # 8.17e-4 -> "+817.0 us ..."
        rows.append(
            {
                "data": dpi * slices,
                "fsdp": f,
                "tensor": t,
                "pipeline": p,
                "microbatches": mb,
                "remat": remat,
                "offload_optimizer": off_opt,
                "step_time_s": float(step[r]),
                "tokens_per_s": float(tps),
                "mfu": mfu,
                "hfu": hfu,
                "memory_per_chip_bytes": float(mem[r]),
                "loses_by": why,
            }
        )
    best = None
    if ranked.size:
        pick = int(ranked[0])
    elif best_rows.size:  # nothing fits: report the sharding closest to fitting
        pick = int(best_rows[np.argmin(mem[best_rows])])
    else:
        pick = None
    if pick is not None:
        t, f, dpi, p, mb = (int(x) for x in cfg[pick % n_rows])
        par = Parallelism(data=dpi * slices, fsdp=f, tensor=t, pipeline=p, microbatches=mb)
        remat, off_opt = variants[pick // n_rows]
        best = estimate_one(with_overrides(wl, remat=remat, offload_optimizer=off_opt), par)
    return SearchResult(
        workload=wl.name,
        chip=chip.name,
        chips=wl.system.chips,
        slices=slices,
        slice_shape="x".join(map(str, spec.shape)),
        evaluated=evaluated,
        feasible=int(feasible.size),
        rows=rows,
        best=best,
        twisted=spec.twisted,
    )


def search(
    wl: Workload,
    *,
    top: int = defaults.SEARCH_TOP,
    chip: str | None = None,
    chips_per_slice: int | None = None,
    slices: int | None = None,
    slice_shape: str | None = None,
    global_batch_seqs: int | None = None,
    remats: tuple[str, ...] = REMATS,
) -> SearchResult:
    """Rank every legal sharding of `wl` (with overrides) that fits in HBM; best first.

    `remats` are the remat policies tried (all by default)."""
    wl2 = with_overrides(
        wl, chip=chip, chips_per_slice=chips_per_slice, slices=slices, slice_shape=slice_shape,
        global_batch_seqs=global_batch_seqs,
    )
    bad = [r for r in remats if r not in REMATS]
    if bad or not remats:
        raise TpusimError(f"remat policies must be among {', '.join(REMATS)}, got {list(remats)}")
    return _search_cached(wl2, int(top), tuple(remats))
