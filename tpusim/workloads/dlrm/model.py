"""Candidates -> per-step arrays -> phases, memory and utilisation (the DLRM model's core).

A `Candidate` is one way to run the workload: placement, sharding, pipelining, chips, slices and
a checked slice. `evaluate_candidates` computes every candidate's scalars (loads of the
sharding, all-to-all link loads of the slice, dense roofline) and evaluates the step for all of
them at once (`phases.evaluate`). Formulas: docs/embeddings.md; phases: phases.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tpusim.collectives import AxisSet, all_reduce_s, dcn_all_reduce_s
from tpusim.errors import TpusimError
from tpusim.hardware import Chip
from tpusim.topology.alltoall import all_to_all_loads
from tpusim.topology.shape import SliceSpec
from tpusim.topology.torus import degrees, torus_links
from tpusim.workloads.dlrm.config import OPTIMIZER_SLOTS, DlrmWorkload
from tpusim.workloads.dlrm.constants import EmbeddingConstants
from tpusim.workloads.dlrm.dense import FP32_BYTES, dense_shape, optimizer_bytes, tensorcore_times
from tpusim.workloads.dlrm.phases import StepArrays, evaluate
from tpusim.workloads.dlrm.tables import hbm_stack_bytes, shard_load, table_set
from tpusim.workloads.efficiency import Efficiency

COO_BYTES_PER_ID = 12  # row id, column id, weight: 4 bytes each (OpenXLA SparseCore doc sec. 3)
MEMORY_KEYS = ("tables", "replicated_tables", "sparsecore_stacks", "dense_state", "activations",
               "all_to_all_buffers", "input_buffers")


@dataclass(frozen=True)
class Candidate:
    placement: str
    sharding: str
    pipelining: bool
    chips: int  # all slices
    slices: int
    spec: SliceSpec


def engine_of(chip: Chip, placement: str, chips: int) -> tuple[int, int]:
    """(partitions, engines per memory) of a placement: SparseCores (per chip), one TensorCore
    pair per chip, or one host per chips_per_host chips. Raises when the chip has no engine."""
    if placement == "sparsecore":
        if chip.sparsecores_per_chip < 1:
            raise TpusimError(
                f"{chip.name} has no SparseCores; use placement tensorcore or host, or a chip with "
                f"SparseCores (v4, v5p, v6e, v7)"
            )
        return chips * chip.sparsecores_per_chip, chip.sparsecores_per_chip
    if placement == "tensorcore":
        return chips, 1
    if chip.host_dram_bytes_per_s is None:
        raise TpusimError(
            f"placement host needs the host's DRAM bandwidth, which {chip.name}'s chip TOML does not "
            f"give; add host_dram_bytes_per_s (and host_dram_bytes) or use another placement"
        )
    if chips % chip.chips_per_host:
        raise TpusimError(f"placement host needs whole hosts: {chips} chips is not a multiple of "
                          f"{chip.chips_per_host}")
    return chips // chip.chips_per_host, 1


def evaluate_candidates(wl: DlrmWorkload, chip: Chip, eff: Efficiency, const: EmbeddingConstants,
                        candidates: list[Candidate]) -> dict[str, np.ndarray]:
    """Step, breakdown, phases, memory and utilisation of every candidate (arrays)."""
    emb, B = wl.embedding, wl.training.global_batch
    ts = table_set(emb)
    rep_mask = ts.rows < emb.replicate_below_rows
    sharded, rep = ts.subset(~rep_mask), ts.subset(rep_mask)
    dense = dense_shape(wl.model, np.repeat(ts.dim, ts.outputs_per_sample))
    k = emb.slots
    a = emb.activation_bytes
    hbm = chip.hbm_bytes_per_s
    hbm_stream = hbm * eff.hbm_fraction
    f_ici = eff.ici_link_fraction
    pooled_sh = float((sharded.outputs_per_sample * sharded.dim).sum() * a)
    pooled_all = float((ts.outputs_per_sample * ts.dim).sum() * a)
    lookups_all = float(ts.lookups.sum())
    rep_gather = float((rep.lookups * rep.row_bytes).sum() + (rep.outputs_per_sample * rep.dim).sum() * a)
    rep_update = float((rep.rows * rep.row_bytes).sum()) * 2 * (1 + k)
    rep_grad = float((rep.rows * rep.dim).sum())
    dense_slots = OPTIMIZER_SLOTS[wl.training.dense_optimizer]
    grad_elems = dense.params + rep_grad

    cols: dict[str, list] = {name: [] for name in (
        "b", "engine_forward_s", "engine_backward_s", "combine_s", "uses_hbm", "overlaps",
        "a2a_s", "a2a_link_s", "ar_s", "ar_link_s", "host_s", "engine_hbm_bytes", "a2a_bytes",
        "sc", "tables", "stacks", "a2a_buffers", "host_table_bytes")}
    for c in candidates:
        n, s = c.chips, c.slices
        ns = n // s
        b = B / n
        partitions, per_group = engine_of(chip, c.placement, n)
        load = shard_load(sharded, c.sharding, partitions, per_group)
        sig = emb.skew if load.skewed else 1.0
        rows_group = max(load.row_bytes_busiest_group, load.row_bytes_busiest_partition * per_group)
        gather = B * emb.unique_fraction * sig * rows_group
        out = B * load.output_bytes_per_sample * load.send_share_busiest_group * sig
        update = gather * 2 * (1 + k)
        host = c.placement == "host"
        if host:
            bw = chip.host_dram_bytes_per_s * const.host_dram_fraction
            per_host = B / partitions
            combine_host = 2 * per_host * (load.output_bytes_per_sample + pooled_sh)
            fwd_s = (gather + out + combine_host / 2) / bw
            bwd_s = (update + out + combine_host / 2) / bw
            combine_s = 0.0
        else:
            frac = const.sc_hbm_fraction if c.placement == "sparsecore" else const.tc_gather_fraction
            fwd_s = (gather + out) / (hbm * frac)
            bwd_s = (update + out) / (hbm * frac)
            combine_s = 2 * b * (load.output_bytes_per_sample + pooled_sh) / hbm_stream
        a2a_s, a2a_link_s, buffer = _all_to_all(c, chip, eff, load, b, B, sig, pooled_sh, partitions)
        cols["b"].append(b)
        cols["engine_forward_s"].append(fwd_s)
        cols["engine_backward_s"].append(bwd_s)
        cols["combine_s"].append(combine_s)
        cols["uses_hbm"].append(not host)
        cols["overlaps"].append(c.pipelining and c.placement != "tensorcore")
        cols["a2a_s"].append(a2a_s)
        cols["a2a_link_s"].append(a2a_link_s)
        cols["engine_hbm_bytes"].append(0.0 if host else gather + update + 2 * out)
        cols["a2a_bytes"].append(buffer)
        cols["sc"].append(c.placement == "sparsecore")
        ar_s, ar_link_s = _allreduce(c, chip, eff, grad_elems * wl.training.gradient_bytes, ns)
        cols["ar_s"].append(ar_s)
        cols["ar_link_s"].append(ar_link_s)
        hosts = -(-n // chip.chips_per_host)
        cols["host_s"].append(B / hosts * lookups_all / const.host_preprocess_ids_per_s)
        stored = load.stored_bytes_busiest_group * (1 + k)
        cols["tables"].append(0.0 if host else stored)
        cols["host_table_bytes"].append(stored if host else 0.0)
        cols["stacks"].append(0.0 if host else hbm_stack_bytes(sharded, b))
        cols["a2a_buffers"].append(2 * buffer)

    arr = {key: np.asarray(v, dtype=float) for key, v in cols.items()}
    b = arr["b"]
    peak = chip.peak_bf16_flops_per_s * eff.mxu_fraction
    t_dense, t_dense_mem = tensorcore_times(dense, b, peak, hbm_stream, chip.mxu_dim)
    t_rep = b * rep_gather / (hbm * const.tc_gather_fraction) + rep_update / hbm_stream
    t_opt = optimizer_bytes(dense.params, dense_slots) / hbm_stream
    step_in = StepArrays(
        engine_forward_s=arr["engine_forward_s"],
        engine_backward_s=arr["engine_backward_s"],
        combine_s=arr["combine_s"],
        engine_uses_hbm=arr["uses_hbm"].astype(bool),
        overlaps=arr["overlaps"].astype(bool),
        all_to_all_s=arr["a2a_s"],
        all_to_all_link_s=arr["a2a_link_s"],
        allreduce_s=arr["ar_s"],
        allreduce_link_s=arr["ar_link_s"],
        tensorcore_s=t_dense + t_rep + t_opt,
        tensorcore_hbm_s=t_dense_mem + t_rep + t_opt,
        dense_backward_s=t_dense * 2 / 3,
        host_s=arr["host_s"],
        fixed_s=np.full_like(b, const.step_fixed_overhead_s),
    )
    res = evaluate(step_in)
    step = res["step_time_s"]
    memory = {
        "tables": arr["tables"],
        "replicated_tables": np.full_like(b, float((rep.rows * rep.row_bytes).sum()) * (1 + k)
                                          + rep_grad * FP32_BYTES),
        "sparsecore_stacks": arr["stacks"],
        "dense_state": np.full_like(b, dense.params * FP32_BYTES * (2 + dense_slots)),
        "activations": b * (dense.activation_elements_per_sample * 2 + pooled_all),
        "all_to_all_buffers": arr["a2a_buffers"],
        "input_buffers": b * lookups_all * COO_BYTES_PER_ID * const.input_prefetch_steps,
    }
    engine_s = arr["engine_forward_s"] + arr["engine_backward_s"]
    tc_placement = np.array([c.placement == "tensorcore" for c in candidates])
    hbm_bytes = arr["engine_hbm_bytes"] + (arr["combine_s"] + step_in.tensorcore_hbm_s) * hbm_stream
    res.update(
        memory=memory,
        memory_per_chip_bytes=sum(memory.values()),
        host_table_bytes=arr["host_table_bytes"],
        sparsecore_busy_fraction=np.where(arr["sc"] > 0, engine_s / step, 0.0),
        tensorcore_busy_fraction=np.minimum(
            1.0, (step_in.tensorcore_s + arr["combine_s"] + np.where(tc_placement, engine_s, 0.0)) / step),
        hbm_utilization=np.minimum(1.0, hbm_bytes / (hbm * step)),
        ici_utilization=np.minimum(1.0, (2 * arr["a2a_link_s"] + arr["ar_link_s"]) * f_ici / step),
        mfu=dense.train_flops_per_sample * B / step / (np.array([c.chips for c in candidates])
                                                       * chip.peak_bf16_flops_per_s),
        all_to_all_bytes_per_chip=arr["a2a_bytes"],
        dense_flops_per_sample=dense.train_flops_per_sample,
        dense_params=dense.params,
    )
    return res


def _all_to_all(c: Candidate, chip: Chip, eff: Efficiency, load, b: float, B: int, sig: float,
                pooled: float, partitions: int) -> tuple[float, float, float]:
    """(time of one direction, busiest-link bandwidth time, buffer bytes per chip or host)."""
    n, s = c.chips, c.slices
    if c.placement == "host":
        hosts = partitions
        buffer = B / hosts * load.output_bytes_per_sample
        nic = chip.chips_per_host * chip.dcn_bytes_per_s_per_chip * eff.dcn_fraction
        busiest = buffer * load.send_share_busiest_group * hosts * sig
        t_dcn = busiest * (hosts - 1) / hosts / nic if hosts > 1 else 0.0
        t_pcie = b * pooled / chip.pcie_bytes_per_s
        latency = eff.dcn_latency_s if hosts > 1 else 0.0
        return max(t_dcn, t_pcie) + latency, 0.0, buffer
    buffer = b * load.output_bytes_per_sample
    if n <= 1:
        return 0.0, 0.0, buffer
    spec = c.spec
    loads = all_to_all_loads(spec.shape, spec.wrap, spec.twisted)
    w = chip.ici_link_one_way_bytes_per_s * eff.ici_link_fraction
    ns = n // s
    t_ici = loads.seconds_per_byte(chip.ici_link_one_way_bytes_per_s, eff.ici_link_fraction) * buffer / s
    links = torus_links(spec.shape, spec.wrap, twisted=spec.twisted)
    degree = int(degrees(spec.shape, links).max()) if len(links) else 0
    send_busiest = B * load.output_bytes_per_sample * load.send_share_busiest_group * sig
    t_inj = send_busiest / s * (ns - 1) / ns / (degree * w) if degree else 0.0
    link = max(t_ici, t_inj)
    t_dcn = 0.0
    latency = loads.diameter_hops * chip.ici_hop_latency_s + eff.collective_launch_s
    if s > 1:
        dcn = min(chip.dcn_bytes_per_s_per_chip * eff.dcn_fraction, chip.pcie_bytes_per_s)
        t_dcn = buffer * (s - 1) / s / dcn
        latency += eff.dcn_latency_s
    return max(link, t_dcn) + latency, link, buffer


def _allreduce(c: Candidate, chip: Chip, eff: Efficiency, grad_bytes: float, ns: int) -> tuple[float, float]:
    """(time, busiest-link bandwidth time) of the dense-gradient all-reduce: every torus axis of
    the slice at once, then the data-center network between slices."""
    spec = c.spec
    axes = AxisSet(spec.shape, spec.wrap, chip.ici_link_one_way_bytes_per_s, chip.ici_hop_latency_s,
                   eff.ici_link_fraction)
    t_in = float(all_reduce_s(grad_bytes, ns, axes.bandwidth_bytes_per_s, axes.latency_s)) if ns > 1 else 0.0
    link = float(all_reduce_s(grad_bytes, ns, axes.bandwidth_bytes_per_s)) if ns > 1 else 0.0
    t_dcn = float(dcn_all_reduce_s(grad_bytes / max(ns, 1), c.slices, chip.dcn_bytes_per_s_per_chip,
                                   chip.pcie_bytes_per_s, eff.dcn_fraction, eff.dcn_latency_s))
    launch = eff.collective_launch_s if ns > 1 or c.slices > 1 else 0.0
    return t_in + t_dcn + launch, link
