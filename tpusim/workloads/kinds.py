"""Workload kinds: which model reads a workload file (`[model] kind`), one loader for all, and
the per-step figures every kind gives the simulator (`step_performance`).

Kinds: "dense_llm" (the default when `kind` is absent; tpusim.workloads.config) and "dlrm"
(embedding models; tpusim.workloads.dlrm). Anything else is an error naming the known kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tpusim.errors import TpusimError, unknown_name
from tpusim.inputs import load_toml
from tpusim.workloads.config import workload_path

KINDS = ("dense_llm", "dlrm")


def workload_kind(ref: str | Path, *, relative_to: Path | None = None) -> str:
    """The `[model] kind` of a workload file ("dense_llm" when absent)."""
    path = workload_path(ref, relative_to=relative_to)
    model = load_toml(path).get("model", {})
    kind = model.get("kind", "dense_llm") if isinstance(model, dict) else "dense_llm"
    if not isinstance(kind, str) or kind not in KINDS:
        raise unknown_name(f"workload kind in {path} [model] kind", str(kind), KINDS)
    return kind


def load_any(ref: str | Path, *, relative_to: Path | None = None):
    """The workload a file describes, read by the model of its kind."""
    if workload_kind(ref, relative_to=relative_to) == "dlrm":
        from tpusim.workloads.dlrm.config import load_dlrm

        return load_dlrm(ref, relative_to=relative_to)
    from tpusim.workloads.config import load_workload

    return load_workload(ref, relative_to=relative_to)


def require_kind(wl, kind: str, what: str) -> None:
    """Raise unless `wl` is of `kind` (for options that only one model has)."""
    have = getattr(wl, "kind", "dense_llm")
    if have != kind:
        raise TpusimError(f"{what} applies to {kind} workloads; {getattr(wl, 'name', 'this')} is {have}")


@dataclass(frozen=True)
class StepPerformance:
    """What a workload does per training step on a system, whatever its kind: what the simulator
    needs to turn running time into progress."""

    step_time_s: float
    program_goodput: float  # dense LLM: MFU; DLRM: stall-free step / step (docs/embeddings.md)
    units_per_step: float  # tokens (dense LLM) or samples (DLRM) a step trains
    unit: str  # "tokens" or "samples"
    fits_in_hbm: bool
    fits_in_host_dram: bool = True  # a DLRM's host placement: its tables in the hosts' DRAM


def step_performance(ref: str | Path, *, chip: str, chips_per_slice: int, slices: int,
                     slice_shape: str | None = None, global_batch: int | None = None,
                     twisted: bool | None = None, relative_to: Path | None = None) -> StepPerformance:
    """The estimate of the workload file `ref` on `slices` slices of `chips_per_slice` chips of
    `chip` (of `slice_shape` when given, else the most compact legal shape; twisted or not as
    `twisted` says, else as the workload's overrides rule; its own global batch unless
    `global_batch`: sequences for an LLM, samples for a DLRM), reduced to the figures a job's
    progress needs. A twist the shape cannot have is a TpusimError."""
    wl = load_any(ref, relative_to=relative_to)
    if getattr(wl, "kind", "dense_llm") == "dlrm":
        from tpusim.workloads.dlrm import estimate_dlrm

        est = estimate_dlrm(wl, chip=chip, chips=chips_per_slice * slices, slices=slices,
                            **({} if slice_shape is None else {"slice_shape": slice_shape}),
                            **({} if twisted is None else {"twisted": twisted}),
                            **({} if global_batch is None else {"global_batch": global_batch}))
        return StepPerformance(est.step_time_s, est.program_goodput, float(est.global_batch),
                               "samples", est.fits_in_hbm, est.fits_in_host_dram is not False)
    from tpusim.workloads.estimator import estimate

    if twisted is not None:  # the dense model reads the twist from [system]: it checks the shape
        wl = replace(wl, system=replace(wl.system, twisted=twisted))
    est = estimate(wl, chip=chip, chips_per_slice=chips_per_slice, slices=slices,
                   slice_shape=slice_shape, global_batch_seqs=global_batch)
    return StepPerformance(est.step_time_s, est.mfu, float(est.tokens_per_step), "tokens", est.fits_in_hbm,
                           est.fits_in_host_dram is not False)
