"""`estimate_dlrm(workload)`: step time, samples/s, where the step goes, memory and fit of a DLRM.

`compare_placements` evaluates the three placements side by side. MFU counts the dense FLOPs
only (6 x forward MACs per sample), so it is naturally low for an embedding model and not
comparable with an LLM's; `program_goodput` (the simulator's program goodput for a DLRM job) is
the stall-free step over the step: the embedding engine's and the TensorCore's own work
(overlapped when pipelined) against everything the step also waits for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from tpusim.hardware import load_chip
from tpusim.rows import flatten
from tpusim.topology.shape import fmt_shape
from tpusim.workloads.dlrm.config import PLACEMENTS, SHARDINGS, DlrmWorkload, with_overrides
from tpusim.workloads.dlrm.constants import load_embedding_constants
from tpusim.workloads.dlrm.model import MEMORY_KEYS, Candidate, engine_of, evaluate_candidates
from tpusim.workloads.dlrm.phases import BOUNDS, PHASES
from tpusim.workloads.efficiency import load_efficiency
from tpusim.workloads.sharding import resolve_slice


@dataclass(frozen=True)
class DlrmEstimate:
    """One DLRM workload on one system with one placement. SI units; `breakdown_s` adds up to
    `step_time_s` (exposed seconds per phase), `phases_s` holds each phase's own duration."""

    workload: str
    chip: str
    chips: int
    slices: int
    slice_shape: str
    twisted: bool
    placement: str
    sharding: str
    pipelining: bool
    global_batch: int
    step_time_s: float
    samples_per_s: float
    bottleneck: str
    sparsecore_busy_fraction: float
    tensorcore_busy_fraction: float
    hbm_utilization: float
    ici_utilization: float
    mfu: float
    program_goodput: float  # stall-free step / step: the step with no communication, host wait
    # or fixed overhead left (embedding engine and TensorCore work only, overlapped if pipelined)
    memory_per_chip_bytes: float
    hbm_bytes: int
    fits_in_hbm: bool
    host_memory_per_host_bytes: float
    fits_in_host_dram: bool | None
    host_bound: bool
    dense_flops_per_sample: float
    dense_params: int
    all_to_all_bytes_per_chip: float
    serial_step_time_s: float
    breakdown_s: dict[str, float] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    memory_breakdown_bytes: dict[str, float] = field(default_factory=dict)
    kind: str = "dlrm"

    def to_dict(self) -> dict:
        return asdict(self)

    def to_row(self) -> dict:
        """One flat row: nested dicts become `breakdown_<phase>_s`, `phase_<phase>_s`,
        `memory_<item>_bytes`."""
        return flatten(self.to_dict(), {"breakdown_s": "breakdown_{}_s", "phases_s": "phase_{}_s",
                                        "memory_breakdown_bytes": "memory_{}_bytes"})

    def to_frame(self):
        """A one-row pandas DataFrame of `to_row()` (pandas imported here, lazily)."""
        import pandas as pd

        return pd.DataFrame([self.to_row()])


def candidate_of(wl: DlrmWorkload) -> Candidate:
    """The candidate the workload's own fields describe (slice resolved from the catalog)."""
    s, e = wl.system, wl.embedding
    chip = load_chip(s.chip)
    spec = resolve_slice(chip, s.chips_per_slice, s.slice_shape, s.twisted)
    return Candidate(e.placement, e.sharding, e.pipelining, s.chips, s.slices, spec)


def estimates_of(wl: DlrmWorkload, candidates: list[Candidate]) -> list[DlrmEstimate]:
    """Evaluate several candidates of one workload in one vectorised call."""
    chip = load_chip(wl.system.chip)
    res = evaluate_candidates(wl, chip, load_efficiency(), load_embedding_constants(), candidates)
    return [_record(wl, chip, c, res, i) for i, c in enumerate(candidates)]


def estimate_dlrm(wl: DlrmWorkload, **overrides) -> DlrmEstimate:
    """Estimate `wl`; keyword overrides (chip, chips, slices, twisted, slice_shape, placement,
    sharding, pipelining, global_batch) replace the file's values."""
    wl2 = with_overrides(wl, **overrides) if overrides else wl
    return estimates_of(wl2, [candidate_of(wl2)])[0]


@dataclass(frozen=True)
class PlacementComparison:
    """The workload under each placement its chip supports, on one system (`rows`, in the order
    sparsecore, tensorcore, host); `skipped_placements` says why a placement is missing.
    Iterating yields the rows."""

    rows: list[DlrmEstimate]
    skipped_placements: dict[str, str] = field(default_factory=dict)

    @property
    def sparsecore_over_host(self) -> float | None:
        """Host step time / SparseCore step time (None unless both placements are there)."""
        by = {e.placement: e for e in self.rows}
        if "sparsecore" in by and "host" in by:
            return by["host"].step_time_s / by["sparsecore"].step_time_s
        return None

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict:
        """The `--compare-placements --json` document."""
        return {"kind": "dlrm", "rows": [e.to_dict() for e in self.rows],
                "sparsecore_over_host": self.sparsecore_over_host,
                "skipped_placements": dict(self.skipped_placements)}

    def to_frame(self):
        """One row per placement (`DlrmEstimate.to_row()`), as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([e.to_row() for e in self.rows])


def compare_placements(wl: DlrmWorkload, **overrides) -> PlacementComparison:
    """The workload under each placement its chip supports, on the same system. Without a
    `sharding` override each placement gets its fastest sharding that fits (mod, table or
    column; the file's when none fits), since the best way to spread tables differs between
    SparseCores (many small engines) and hosts (few large ones). A `placement` override is
    refused: the comparison is over placements."""
    from tpusim.errors import TpusimError

    if overrides.get("placement") is not None:
        raise TpusimError("the comparison evaluates every placement; remove `placement` (or estimate "
                          "that one placement alone)", params=("placement",))
    wl2 = with_overrides(wl, **overrides) if overrides else wl
    shardings = (wl2.embedding.sharding,) if "sharding" in overrides else SHARDINGS
    base = candidate_of(wl2)
    chip = load_chip(wl2.system.chip)
    out, skipped = [], {}
    for placement in PLACEMENTS:
        try:
            engine_of(chip, placement, base.chips)
        except TpusimError as exc:  # the chip has no SparseCores, or no host DRAM figures
            skipped[placement] = str(exc)
            continue
        ests = estimates_of(wl2, [replace(base, placement=placement, sharding=sh) for sh in shardings])
        fits = [e for e in ests if e.fits_in_hbm and e.fits_in_host_dram is not False]
        own = next(e for e in ests if e.sharding == wl2.embedding.sharding) if not fits else None
        out.append(min(fits, key=lambda e: e.step_time_s) if fits else own or ests[0])
    return PlacementComparison(out, skipped)


def _record(wl: DlrmWorkload, chip, c: Candidate, res: dict, i: int) -> DlrmEstimate:
    step = float(res["step_time_s"][i])
    breakdown = {k: float(res["breakdown"][k][i]) for k in PHASES}
    phases = {k: float(res["phases"][k][i]) for k in PHASES}
    memory = {k: float(res["memory"][k][i]) for k in MEMORY_KEYS}
    mem = float(res["memory_per_chip_bytes"][i])
    host_tables = float(res["host_table_bytes"][i])
    host = c.placement == "host"
    pipelined = c.pipelining and c.placement != "tensorcore"
    engine = phases["sc_forward"] + phases["sc_backward"]
    stall_free = max(engine, phases["tensorcore"]) if pipelined else engine + phases["tensorcore"]
    return DlrmEstimate(
        workload=wl.name,
        chip=chip.name,
        chips=c.chips,
        slices=c.slices,
        slice_shape=fmt_shape(c.spec.shape),
        twisted=c.spec.twisted,
        placement=c.placement,
        sharding=c.sharding,
        pipelining=pipelined,
        global_batch=wl.training.global_batch,
        step_time_s=step,
        samples_per_s=wl.training.global_batch / step,
        bottleneck=_bottleneck(res, breakdown, i),
        sparsecore_busy_fraction=float(res["sparsecore_busy_fraction"][i]),
        tensorcore_busy_fraction=float(res["tensorcore_busy_fraction"][i]),
        hbm_utilization=float(res["hbm_utilization"][i]),
        ici_utilization=float(res["ici_utilization"][i]),
        mfu=float(res["mfu"][i]),
        program_goodput=min(1.0, stall_free / step),
        memory_per_chip_bytes=mem,
        hbm_bytes=chip.hbm_bytes,
        fits_in_hbm=bool(mem <= chip.hbm_bytes),
        host_memory_per_host_bytes=host_tables,
        fits_in_host_dram=(bool(host_tables <= chip.host_dram_bytes)
                           if host and chip.host_dram_bytes is not None else None),
        host_bound=bool(breakdown["host"] > 0),
        dense_flops_per_sample=float(res["dense_flops_per_sample"]),
        dense_params=int(res["dense_params"]),
        all_to_all_bytes_per_chip=float(res["all_to_all_bytes_per_chip"][i]),
        serial_step_time_s=float(np.maximum(res["serial_device_s"][i], phases["host"])),
        breakdown_s=breakdown,
        phases_s=phases,
        memory_breakdown_bytes=memory,
    )


def _bottleneck(res: dict, breakdown: dict[str, float], i: int) -> str:
    """'host' when the host is slower than the device; 'hbm' / 'ici' when a shared-resource bound
    sets a pipelined step; otherwise the phase with the most exposed time."""
    if breakdown["host"] > 0:
        return "host"
    binding = int(res["binding"][i])
    if binding >= 0 and BOUNDS[binding] in ("hbm", "ici"):
        return BOUNDS[binding]
    return max((k for k in PHASES if k != "host"), key=lambda k: breakdown[k])
