"""`estimate(workload)`: step time, tokens/s, MFU, HFU and memory of one sharding.

MFU = model FLOPs per token (6N + 12LHQT) x tokens/s / (chips x peak), PaLM App. B;
HFU counts the rematerialised FLOPs too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from tpusim.errors import TpusimError
from tpusim.hardware import Chip, load_chip
from tpusim.topology.shape import SliceSpec, compact_shape, fmt_shape, slice_spec
from tpusim.workloads.config import Parallelism, Workload, with_overrides
from tpusim.workloads.efficiency import load_efficiency
from tpusim.workloads.flops import (
    REMAT_FRACTIONS,
    hardware_flops_per_token,
    model_flops_per_token,
    param_counts,
)
from tpusim.workloads.mapping import Mapping, mapping_candidates
from tpusim.workloads.step import BREAKDOWN_KEYS, MEMORY_KEYS, StepInputs, evaluate


@dataclass(frozen=True)
class Estimate:
    """The performance of one workload with one sharding on one system. SI units."""

    workload: str
    chip: str
    chips: int
    slices: int
    slice_shape: str
    twisted: bool
    parallelism: dict[str, int]
    remat: str
    mapping: dict[str, str]
    step_time_s: float
    tokens_per_step: int
    tokens_per_s: float
    mfu: float
    hfu: float
    model_flops_per_token: float
    hardware_flops_per_token: float
    params: int
    memory_per_chip_bytes: float
    hbm_bytes: int
    fits_in_hbm: bool
    breakdown: dict[str, float] = field(default_factory=dict)
    memory_breakdown: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_row(self) -> dict:
        """One flat row (for a DataFrame): nested dicts become `breakdown_<cause>_s`,
        `memory_<item>_bytes`, `<axis>` sizes and `mapping_<axis>`."""
        row = {k: v for k, v in self.to_dict().items()
               if k not in ("breakdown", "memory_breakdown", "parallelism", "mapping")}
        row.update(self.parallelism)
        row.update({f"mapping_{k}": v for k, v in self.mapping.items()})
        row.update({f"breakdown_{k}_s": v for k, v in self.breakdown.items()})
        row.update({f"memory_{k}_bytes": v for k, v in self.memory_breakdown.items()})
        return row


@lru_cache(maxsize=256)
def resolve_slice(chip: Chip, chips_per_slice: int, slice_shape: str | None, twisted: bool) -> SliceSpec:
    """The slice's shape and wraparound: the given shape, or the most compact legal one, cut
    from the chip's largest catalog pod."""
    pods = _pods_of(chip)
    if not pods:
        raise TpusimError(f"no catalog pod of chip {chip.name}; add a pod TOML to topologies/")
    pod = max(pods, key=lambda p: p.chips)
    if chips_per_slice > pod.chips:
        raise TpusimError(
            f"{chips_per_slice} chips per slice exceed the largest {chip.name} pod ({pod.chips}); "
            f"use several slices (--slices)"
        )
    if slice_shape is None:
        shape = compact_shape(chip, pod.shape, chips_per_slice)
    else:
        spec = slice_spec(chip, pod.shape, slice_shape, twisted=twisted)
        if spec.chips != chips_per_slice:
            raise TpusimError(
                f"slice shape {spec.name} has {spec.chips} chips but chips_per_slice = {chips_per_slice}"
            )
        return spec
    return slice_spec(chip, pod.shape, shape, twisted=twisted)


def _pods_of(chip: Chip):
    from tpusim.hardware import all_pods

    return [p for p in all_pods() if p.chip.name == chip.name]


def check_parallelism(wl: Workload, par: Parallelism, chips_per_slice: int, slices: int) -> None:
    """Raise TpusimError for a sharding the workload or system cannot have."""
    m = wl.model
    for name in ("data", "fsdp", "tensor", "pipeline", "microbatches"):
        if getattr(par, name) < 1:
            raise TpusimError(f"[parallelism] {name} must be >= 1, got {getattr(par, name)}")
    if par.data % slices:
        raise TpusimError(
            f"[parallelism] data = {par.data} must be a multiple of the {slices} slices "
            f"(data parallelism across slices runs over the data-center network)"
        )
    in_slice = (par.data // slices) * par.fsdp * par.tensor * par.pipeline
    if in_slice != chips_per_slice:
        raise TpusimError(
            f"sharding data/slices {par.data // slices} x fsdp {par.fsdp} x tensor {par.tensor} x "
            f"pipeline {par.pipeline} = {in_slice} chips per slice, but the slice has "
            f"{chips_per_slice}; make the product equal the chips (or drop [parallelism] to search)"
        )
    if par.tensor > m.heads or m.heads % par.tensor:
        raise TpusimError(f"tensor = {par.tensor} must divide the {m.heads} attention heads")
    if m.kv_heads % par.tensor and par.tensor % m.kv_heads:
        raise TpusimError(f"tensor = {par.tensor} and kv_heads = {m.kv_heads}: one must divide the other")
    if m.d_ff % par.tensor:
        raise TpusimError(f"tensor = {par.tensor} must divide d_ff = {m.d_ff}")
    if m.layers % par.pipeline:
        raise TpusimError(f"pipeline = {par.pipeline} must divide the {m.layers} layers")
    seqs = wl.training.global_batch_seqs
    replicas = par.data * par.fsdp
    if seqs % replicas:
        raise TpusimError(
            f"global_batch_seqs = {seqs} is not divisible by data x fsdp = {replicas}; "
            f"use a batch that is a multiple of {replicas}"
        )
    if (seqs // replicas) % par.microbatches:
        raise TpusimError(
            f"microbatches = {par.microbatches} must divide the {seqs // replicas} sequences per replica"
        )
    if par.pipeline > 1 and par.microbatches < par.pipeline:
        raise TpusimError(f"microbatches = {par.microbatches} must be >= pipeline = {par.pipeline}")


def comm_params(mappings, chip: Chip, link_fraction: float) -> dict[str, np.ndarray]:
    """Bandwidth and latency of each logical axis for each mapping (arrays, one per mapping);
    the pipeline's sends use one link."""
    out: dict[str, np.ndarray] = {}
    for name in ("tensor", "fsdp", "data", "pipeline"):
        bws, lats = [], []
        for mapping in mappings:
            axis = mapping.get(name)
            ok = axis is not None and axis.shards > 1
            bws.append(axis.bandwidth_bytes_per_s if ok else 1.0)
            lats.append(axis.latency_s if ok else 0.0)
        out[f"{name}_bw"] = np.array(bws)
        out[f"{name}_lat"] = np.array(lats)
    out["pipeline_bw"] = chip.ici_link_one_way_bytes_per_s * link_fraction
    return out


def in_slice_sizes(par: Parallelism, slices: int) -> tuple[tuple[str, int], ...]:
    return (
        ("tensor", par.tensor),
        ("fsdp", par.fsdp),
        ("data", par.data // slices),
        ("pipeline", par.pipeline),
    )


def step_inputs(wl: Workload, chip: Chip) -> StepInputs:
    return StepInputs(
        model=wl.model,
        training=wl.training,
        params=param_counts(wl.model),
        chip=chip,
        eff=load_efficiency(),
        slices=wl.system.slices,
    )


def estimate_one(wl: Workload, par: Parallelism) -> Estimate:
    """The estimate of `wl` with sharding `par` (checked)."""
    system = wl.system
    chip = load_chip(system.chip)
    check_parallelism(wl, par, system.chips_per_slice, system.slices)
    spec = resolve_slice(chip, system.chips_per_slice, system.slice_shape, system.twisted)
    eff = load_efficiency()
    mappings = mapping_candidates(
        spec.shape,
        spec.wrap,
        in_slice_sizes(par, system.slices),
        chip.ici_link_one_way_bytes_per_s,
        chip.ici_hop_latency_s,
        eff.ici_link_fraction,
        par.axes,
    )
    comm = comm_params(mappings, chip, eff.ici_link_fraction)
    r_dense, r_attn = REMAT_FRACTIONS[wl.training.remat]
    inp = step_inputs(wl, chip)
    res = evaluate(
        inp,
        par.tensor,
        par.fsdp,
        par.data // system.slices,
        par.pipeline,
        par.microbatches,
        r_dense,
        r_attn,
        comm,
    )
    best = int(np.argmin(res["step_time_s"])) if np.ndim(res["step_time_s"]) else 0
    pick = {
        k: float(np.broadcast_to(v, np.shape(res["step_time_s"])).reshape(-1)[best]) for k, v in res.items()
    }
    return _to_estimate(wl, chip, spec, par, mappings[best], pick)


def _to_estimate(
    wl: Workload, chip: Chip, spec: SliceSpec, par: Parallelism, mapping: Mapping, res: dict[str, float]
) -> Estimate:
    chips = wl.system.chips
    step = res["step_time_s"]
    tokens = wl.tokens_per_step
    tps = tokens / step
    peak_total = chips * chip.peak_bf16_flops_per_s
    mflops = model_flops_per_token(wl.model)
    hflops = hardware_flops_per_token(wl.model, wl.training.remat)
    mem = res["memory_per_chip_bytes"]
    return Estimate(
        workload=wl.name,
        chip=chip.name,
        chips=chips,
        slices=wl.system.slices,
        slice_shape=fmt_shape(spec.shape),
        twisted=spec.twisted,
        parallelism={
            "data": par.data,
            "fsdp": par.fsdp,
            "tensor": par.tensor,
            "pipeline": par.pipeline,
            "microbatches": par.microbatches,
        },
        remat=wl.training.remat,
        mapping=mapping.describe(),
        step_time_s=step,
        tokens_per_step=tokens,
        tokens_per_s=tps,
        mfu=mflops * tps / peak_total,
        hfu=hflops * tps / peak_total,
        model_flops_per_token=mflops,
        hardware_flops_per_token=hflops,
        params=param_counts(wl.model).total,
        memory_per_chip_bytes=mem,
        hbm_bytes=chip.hbm_bytes,
        fits_in_hbm=bool(mem <= chip.hbm_bytes),
        breakdown={k: res[f"breakdown.{k}"] for k in BREAKDOWN_KEYS},
        memory_breakdown={k: res[f"memory.{k}"] for k in MEMORY_KEYS},
    )


def estimate(
    wl: Workload,
    *,
    chip: str | None = None,
    chips_per_slice: int | None = None,
    slices: int | None = None,
    slice_shape: str | None = None,
    global_batch_seqs: int | None = None,
    remat: str | None = None,
    parallelism: Parallelism | None = None,
) -> Estimate:
    """Estimate `wl` (overrides replace the file's values).

    The sharding is `parallelism`, else the file's [parallelism] (data scaled with the slices
    when only the slice count changed), else the best one found by the search with the file's
    remat policy (any policy if none fits with it); searches are cached per workload. When no
    sharding fits in HBM, the one needing the least memory is returned with fits_in_hbm False.
    """
    wl2 = with_overrides(
        wl,
        chip=chip,
        chips_per_slice=chips_per_slice,
        slices=slices,
        slice_shape=slice_shape,
        global_batch_seqs=global_batch_seqs,
        remat=remat,
    )
    par = parallelism if parallelism is not None else _file_parallelism(wl, wl2)
    if par is None:
        from tpusim.workloads.search import search

        # keep the file's remat policy; try the others only if nothing fits with it
        result = search(wl2, top=1, remats=(wl2.training.remat,))
        if not result.rows:
            result = search(wl2, top=1)
        if result.best is None:
            raise TpusimError(
                f"{wl2.name} has no legal sharding on {wl2.system.chips} chips; check that the "
                f"batch ({wl2.training.global_batch_seqs} sequences) divides among the chips"
            )
        return result.best  # when nothing fits: the sharding closest to fitting, fits_in_hbm False
    return estimate_one(wl2, par)


def _file_parallelism(wl: Workload, wl2: Workload) -> Parallelism | None:
    par = wl.parallelism
    if par is None:
        return None
    s1, s2 = wl.system, wl2.system
    if s1.chips_per_slice != s2.chips_per_slice:
        return None  # the in-slice sharding was for another slice size: search
    if s1.slices != s2.slices and par.data % s1.slices == 0:
        from dataclasses import replace

        par = replace(par, data=par.data // s1.slices * s2.slices)
    return par
