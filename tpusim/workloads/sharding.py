"""One sharding of a dense LLM: the legality rules, the evaluation, and the estimate record.

Below both the sharding search (`search.py`, which enumerates the shardings these rules allow)
and the `estimate()` facade (`estimator.py`, which takes the file's sharding or asks the search):
neither imports the other's internals, and the rules are written once, here.

Legality (tested: every candidate the search yields passes `check_parallelism`):
- every size >= 1; `data` a multiple of the slices; data/slices x fsdp x tensor x pipeline equals
  the chips per slice;
- tensor divides the heads and d_ff, and the kv heads divide it or it divides them;
- pipeline divides the layers;
- data x fsdp divides the global batch; microbatches divide the sequences per replica, and are
  at least the pipeline depth when there is a pipeline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from tpusim.errors import TpusimError
from tpusim.hardware import Chip, load_chip
from tpusim.rows import flatten
from tpusim.topology.shape import SliceSpec, compact_shape, fmt_shape, slice_spec
from tpusim.workloads.config import Model, Parallelism, Workload
from tpusim.workloads.efficiency import load_efficiency
from tpusim.workloads.flops import (
    convention_flops_per_token,
    flops_split,
    hardware_flops_per_token,
    model_flops_per_token,
    param_counts,
)
from tpusim.workloads.mapping import Mapping, mapping_candidates
from tpusim.workloads.remat import remat_plan
from tpusim.workloads.step import BREAKDOWN_KEYS, MEMORY_KEYS, StepInputs, evaluate, plan_columns


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
    flops_per_token: dict[str, float] = field(default_factory=dict)  # dense, attention, logits
    mfu_by_convention: dict[str, float] = field(default_factory=dict)  # flops.CONVENTIONS
    matmul_dtype: str = "bf16"
    offload_optimizer: bool = False
    host_memory_per_chip_bytes: float = 0.0
    forward_time_s: float = 0.0  # the forward pass alone: an evaluation step of the same batch
    fits_in_host_dram: bool | None = None  # offloaded bytes of a host's chips in its DRAM (None: unknown)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_row(self) -> dict:
        """One flat row (for a DataFrame): nested dicts become `breakdown_<cause>_s`,
        `memory_<item>_bytes`, `flops_<kind>_per_token`, `mfu_<convention>`, `<axis>` sizes and
        `mapping_<axis>`."""
        return flatten(self.to_dict(), {
            "parallelism": "{}", "mapping": "mapping_{}", "breakdown": "breakdown_{}_s",
            "memory_breakdown": "memory_{}_bytes", "flops_per_token": "flops_{}_per_token",
            "mfu_by_convention": "mfu_{}"})

    def to_frame(self):
        """A one-row pandas DataFrame of `to_row()` (pandas imported here, lazily)."""
        import pandas as pd

        return pd.DataFrame([self.to_row()])


# ---- legality: each rule once; the search applies the parts as it enumerates -----------------

def tensor_problem(model: Model, tensor: int) -> str | None:
    """Why `tensor` cannot shard `model`'s heads and MLP, or None."""
    if tensor > model.heads or model.heads % tensor:
        return f"tensor = {tensor} must divide the {model.heads} attention heads"
    if model.kv_heads % tensor and tensor % model.kv_heads:
        return f"tensor = {tensor} and kv_heads = {model.kv_heads}: one must divide the other"
    if model.d_ff % tensor:
        return f"tensor = {tensor} must divide d_ff = {model.d_ff}"
    return None


def pipeline_problem(model: Model, pipeline: int) -> str | None:
    """Why `pipeline` stages cannot split `model`'s layers, or None."""
    if model.layers % pipeline:
        return f"pipeline = {pipeline} must divide the {model.layers} layers"
    return None


def replicas_problem(global_batch_seqs: int, replicas: int) -> str | None:
    """Why the batch cannot split over `replicas` = data x fsdp, or None."""
    if global_batch_seqs % replicas:
        return (
            f"global_batch_seqs = {global_batch_seqs} is not divisible by data x fsdp = {replicas}; "
            f"use a batch that is a multiple of {replicas}"
        )
    return None


def microbatch_problem(seqs_per_replica: int, microbatches: int, pipeline: int) -> str | None:
    """Why `microbatches` cannot split a replica's sequences (with `pipeline` stages), or None."""
    if seqs_per_replica % microbatches:
        return f"microbatches = {microbatches} must divide the {seqs_per_replica} sequences per replica"
    if pipeline > 1 and microbatches < pipeline:
        return f"microbatches = {microbatches} must be >= pipeline = {pipeline}"
    return None


def sharding_problem(wl: Workload, par: Parallelism, chips_per_slice: int, slices: int) -> str | None:
    """Why `wl` cannot run with sharding `par` on `slices` slices of `chips_per_slice`, or None."""
    for name in ("data", "fsdp", "tensor", "pipeline", "microbatches"):
        if getattr(par, name) < 1:
            return f"[parallelism] {name} must be >= 1, got {getattr(par, name)}"
    if par.data % slices:
        return (
            f"[parallelism] data = {par.data} must be a multiple of the {slices} slices "
            f"(data parallelism across slices runs over the data-center network)"
        )
    in_slice = (par.data // slices) * par.fsdp * par.tensor * par.pipeline
    if in_slice != chips_per_slice:
        return (
            f"sharding data/slices {par.data // slices} x fsdp {par.fsdp} x tensor {par.tensor} x "
            f"pipeline {par.pipeline} = {in_slice} chips per slice, but the slice has "
            f"{chips_per_slice}; make the product equal the chips (or drop [parallelism] to search)"
        )
    seqs = wl.training.global_batch_seqs
    replicas = par.data * par.fsdp
    return (
        tensor_problem(wl.model, par.tensor)
        or pipeline_problem(wl.model, par.pipeline)
        or replicas_problem(seqs, replicas)
        or microbatch_problem(seqs // replicas, par.microbatches, par.pipeline)
    )


def check_parallelism(wl: Workload, par: Parallelism, chips_per_slice: int, slices: int) -> None:
    """Raise TpusimError for a sharding the workload or system cannot have."""
    problem = sharding_problem(wl, par, chips_per_slice, slices)
    if problem is not None:
        raise TpusimError(problem)


# ---- shared helpers of the search and the single estimate ------------------------------------

@lru_cache(maxsize=256)
def resolve_slice(chip: Chip, chips_per_slice: int, slice_shape: str | None, twisted: bool) -> SliceSpec:
    """The slice's shape and wraparound: the given shape, or the most compact legal one, cut
    from the chip's largest catalog pod."""
    from tpusim.hardware import no_pod_error, pods_of_chip

    pods = pods_of_chip(chip)
    if not pods:
        raise no_pod_error(chip)
    pod = max(pods, key=lambda p: p.chips)
    if chips_per_slice > pod.chips:
        raise TpusimError(
            f"{chips_per_slice} chips per slice exceed the largest {chip.name} pod ({pod.chips}); "
            f"use several slices (`slices`)", params=("slices",)
        )
    if slice_shape is None:
        try:
            shape = compact_shape(chip, pod.shape, chips_per_slice)
        except TpusimError as exc:  # the count is per slice: say so (the user gave all chips)
            raise TpusimError(f"{exc} (chips per slice: all chips / slices)") from None
    else:
        spec = slice_spec(chip, pod.shape, slice_shape, twisted=twisted)
        if spec.chips != chips_per_slice:
            raise TpusimError(
                f"slice shape {spec.name} has {spec.chips} chips but the chips and slices asked for "
                f"give {chips_per_slice} per slice; drop one of them or make them agree"
            )
        return spec
    return slice_spec(chip, pod.shape, shape, twisted=twisted)


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
    """(logical axis, shards inside one slice) for the axis mapper."""
    return (
        ("tensor", par.tensor),
        ("fsdp", par.fsdp),
        ("data", par.data // slices),
        ("pipeline", par.pipeline),
    )


def step_inputs(wl: Workload, chip: Chip) -> StepInputs:
    """The scalars the step model needs for `wl` on `chip`."""
    return StepInputs(
        model=wl.model,
        training=wl.training,
        params=param_counts(wl.model),
        chip=chip,
        eff=load_efficiency(),
        slices=wl.system.slices,
    )


def utilization(wl: Workload, chip: Chip, remat: str, tokens_per_s: float) -> tuple[float, float]:
    """(MFU, HFU) of `wl` at `tokens_per_s` on its system's chips: FLOPs per token x tokens/s /
    (chips x bf16 peak); MFU counts PaLM's 6N + 12LHQT, HFU what the chips execute (the
    attention kernel's real work and the recompute of `remat`)."""
    peak_total = wl.system.chips * chip.peak_bf16_flops_per_s
    mfu = model_flops_per_token(wl.model) * tokens_per_s / peak_total
    block = load_efficiency().attention_block_tokens
    hfu = hardware_flops_per_token(wl.model, remat, block) * tokens_per_s / peak_total
    return mfu, hfu


def mfu_by_convention(wl: Workload, chip: Chip, tokens_per_s: float) -> dict[str, float]:
    """MFU under each named convention (flops.CONVENTIONS), against the bf16 peak."""
    peak_total = wl.system.chips * chip.peak_bf16_flops_per_s
    return {k: v * tokens_per_s / peak_total for k, v in convention_flops_per_token(wl.model).items()}


# ---- one sharding -> Estimate -----------------------------------------------------------------

def estimate_one(wl: Workload, par: Parallelism) -> Estimate:
    """The estimate of `wl` with sharding `par` (checked), on the fastest axis placement."""
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
        spec.twisted,
    )
    comm = comm_params(mappings, chip, eff.ici_link_fraction)
    plan = plan_columns([remat_plan(wl.model, wl.training.remat)], [wl.training.offload_optimizer], 1)
    inp = step_inputs(wl, chip)
    res = evaluate(
        inp,
        par.tensor,
        par.fsdp,
        par.data // system.slices,
        par.pipeline,
        par.microbatches,
        plan,
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
    mfu, hfu = utilization(wl, chip, wl.training.remat, tps)
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
        mfu=mfu,
        hfu=hfu,
        model_flops_per_token=model_flops_per_token(wl.model),
        hardware_flops_per_token=hardware_flops_per_token(
            wl.model, wl.training.remat, load_efficiency().attention_block_tokens
        ),
        params=param_counts(wl.model).total,
        memory_per_chip_bytes=mem,
        hbm_bytes=chip.hbm_bytes,
        fits_in_hbm=bool(mem <= chip.hbm_bytes),
        breakdown={k: res[f"breakdown.{k}"] for k in BREAKDOWN_KEYS},
        memory_breakdown={k: res[f"memory.{k}"] for k in MEMORY_KEYS},
        flops_per_token=flops_split(wl.model),
        mfu_by_convention=mfu_by_convention(wl, chip, tps),
        matmul_dtype=wl.training.matmul_dtype,
        offload_optimizer=wl.training.offload_optimizer,
        host_memory_per_chip_bytes=res["host_memory_per_chip_bytes"],
        forward_time_s=res["forward_time_s"],
        fits_in_host_dram=(None if chip.host_dram_bytes is None
                           else bool(host_dram_fits(res["host_memory_per_chip_bytes"], chip))),
    )


def host_dram_fits(host_bytes_per_chip, chip: Chip):
    """Whether what a host's chips offload (host_bytes_per_chip x chips_per_host) fits in its DRAM;
    True where the chip file gives no host DRAM size (nothing to check against)."""
    if chip.host_dram_bytes is None:
        return np.ones_like(np.asarray(host_bytes_per_chip, dtype=float), dtype=bool)
    return np.asarray(host_bytes_per_chip) * chip.chips_per_host <= chip.host_dram_bytes
