"""Step time and memory of one training step, vectorised over candidate shardings.

Per chip, per microbatch and per layer (a pipeline stage holds L/p layers):

- Matmuls (per-op roofline): time = max(FLOPs / (peak x mxu_fraction x padding),
  bytes / (HBM x hbm_fraction)); padding = the fraction of the MXU tile a weight dimension fills
  (d / (ceil(d/128) x 128) for both weight dims). Backward = 2 x forward; remat recomputes the
  fraction of the forward its policy says (flops.REMAT_FRACTIONS).
- Vector work (norms, residual adds, activation, rotary, softmax of materialised attention
  scores, logits softmax): HBM-bound, bytes / (HBM x hbm_fraction), not overlapped with matmuls.
- Tensor-parallel collectives (GSPMD/Megatron layout: all-gather of the layer input over the
  tensor axis and reduce-scatter of its output, per attention and MLP for a serial block, once
  for a parallel block; the same again in backward, and the input all-gather again when remat
  recomputes the layer): on the critical path (the next matmul needs them), fully exposed.
- FSDP collectives: the all-gathers of each layer's bf16 weights (before forward and backward)
  do not depend on the current layer's results, so an asynchronous all-gather (the MaxText v4
  recipes enable `--xla_enable_async_all_gather`) prefetches them behind the previous layer's
  work: exposed only where they outlast it, plus the step's first gather. The gradient
  reduce-scatters are synchronous (their reduction runs on the TensorCore and no asynchronous
  reduce-scatter is enabled in those recipes): exposed. With `async_all_gather = false` (XLA
  before that flag, e.g. PaLM's 2022 stack) the all-gathers are exposed too.
- In-slice data-parallel gradient all-reduce: overlapped with the last microbatch's backward.
- Cross-slice (DCN) gradient exchange: after the backward pass, not overlapped (PaLM sec. 4).
- Pipeline: activation sends between stages; bubble (p-1) x stage time (GPipe/1F1B).
- Optimizer: HBM-bound update of the chip's parameter shard.

All arrays broadcast; a single configuration is an array of one element.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tpusim.collectives import all_gather_s, all_reduce_s, dcn_all_reduce_s, point_to_point_s
from tpusim.hardware import Chip
from tpusim.workloads.config import Model, Training
from tpusim.workloads.efficiency import Efficiency
from tpusim.workloads.flops import ParamCounts

COMPUTE_BYTES = 2  # bf16 activations, gathered weights and matmul operands
FP32_BYTES = 4
# Optimizer state bytes per parameter (beyond the parameter itself).
# adam: first and second moments in fp32, plus an fp32 master copy when parameters are bf16.
# adafactor: PaLM's unfactored second moment (fp32) and bf16 momentum (beta1 = 0.9).
OPTIMIZER_STATE_BYTES = {"adam": 8, "adafactor": 6}
MASTER_COPY_BYTES = {"adam": 4, "adafactor": 0}

BREAKDOWN_KEYS = (
    "compute",
    "remat",
    "vector",
    "optimizer",
    "tensor_collectives",
    "fsdp_collectives",
    "data_collectives",
    "dcn",
    "pipeline_sends",
    "pipeline_bubble",
)
MEMORY_KEYS = (
    "params",
    "gradients",
    "optimizer_state",
    "activations",
    "working_activations",
    "gathered_weights",
    "logits",
)


@dataclass(frozen=True)
class StepInputs:
    """Scalars of one workload on one chip with one set of efficiency constants."""

    model: Model
    training: Training
    params: ParamCounts
    chip: Chip
    eff: Efficiency
    slices: int


def _pad(dim, mxu: int):
    """Fraction of MXU tiles a dimension fills: dim / (ceil(dim / mxu) x mxu)."""
    return dim / np.ceil(dim / mxu) / mxu


def _matmul_s(m, k, n, peak, hbm, mxu: int):
    """Roofline time of [m, k] @ [k, n] in bf16 with MXU padding of k and n."""
    flops = 2.0 * m * k * n
    t_compute = flops / (peak * _pad(k, mxu) * _pad(n, mxu))
    t_memory = COMPUTE_BYTES * (m * k + k * n + m * n) / hbm
    return np.maximum(t_compute, t_memory)


def evaluate(
    inp: StepInputs,
    tensor,
    fsdp,
    data_in_slice,
    pipeline,
    microbatches,
    remat_dense,
    remat_attn,
    comm: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Breakdown (seconds), step time, and memory (bytes) for each candidate (arrays)."""
    m_, tr, chip, eff = inp.model, inp.training, inp.chip, inp.eff
    mxu = chip.mxu_dim
    t = np.asarray(tensor, dtype=float)
    f = np.asarray(fsdp, dtype=float)
    dpi = np.asarray(data_in_slice, dtype=float)
    p = np.asarray(pipeline, dtype=float)
    mb = np.asarray(microbatches, dtype=float)
    r_dense = np.asarray(remat_dense, dtype=float)
    r_attn = np.asarray(remat_attn, dtype=float)

    peak = chip.peak_bf16_flops_per_s * eff.mxu_fraction
    hbm = chip.hbm_bytes_per_s * eff.hbm_fraction
    d, hq, q, ff, vocab, seq = m_.d_model, m_.heads * m_.head_dim, m_.head_dim, m_.d_ff, m_.vocab, m_.seq_len
    heads_local = m_.heads / t
    kv_local = np.maximum(m_.kv_heads / t, 1.0)  # fewer kv heads than tensor shards: replicated
    parallel = m_.block == "parallel"
    n_norm = 1 if parallel else 2
    n_in = m_.mlp_in_matrices
    grad_bytes = tr.param_bytes
    launch = eff.collective_launch_s

    tokens = tr.global_batch_seqs * seq
    shards = inp.slices * dpi * f
    b = tokens / shards  # tokens per chip group per step
    b_mb = b / mb  # per microbatch
    layers_stage = m_.layers / p

    # ---- matmuls of one layer, forward, per microbatch
    t_qkv = _matmul_s(b_mb, d, hq / t + 2 * q * kv_local, peak, hbm, mxu)
    t_out = _matmul_s(b_mb, hq / t, d, peak, hbm, mxu)
    t_mlp_in = _matmul_s(b_mb, d, n_in * ff / t, peak, hbm, mxu)
    t_mlp_out = _matmul_s(b_mb, ff / t, d, peak, hbm, mxu)
    dense_f = t_qkv + t_out + t_mlp_in + t_mlp_out
    # attention core: QK^T and AV, full T x T per sequence and local head (PaLM's count)
    attn_flops = 4.0 * b_mb * seq * q * heads_local
    attn_f = attn_flops / (peak * _pad(q, mxu) * _pad(seq, mxu))
    logits_f = _matmul_s(b_mb, d, vocab / t, peak, hbm, mxu)

    # ---- vector (HBM-bound) work of one layer, forward, per microbatch
    vec_dense_tok = COMPUTE_BYTES * (
        n_norm * 2 * d / t  # norms: read + write the sharded residual stream
        + (4 if parallel else 6) * d / t  # residual adds
        + (n_in + 1) * ff / t  # activation: read inputs, write output
        + (2 * (hq / t + q * kv_local) if m_.position == "rope" else 0.0)  # rotary on q, k
    )
    # materialised scores: fp32 written by QK^T, read by softmax, bf16 probs written, read by AV
    vec_attn_tok = (12.0 * heads_local * seq) if m_.attention == "materialized" else 0.0
    vec_f = (vec_dense_tok + vec_attn_tok) * b_mb / hbm
    vec_remat = (r_dense * vec_dense_tok + r_attn * vec_attn_tok) * b_mb / hbm
    vec_layer = 3 * vec_f + vec_remat  # backward touches about twice the forward bytes
    vec_logits = 3 * FP32_BYTES * vocab / t * b_mb / hbm

    compute_layer = 3 * (dense_f + attn_f)  # forward + backward (2x)
    remat_layer = r_dense * dense_f + r_attn * attn_f

    # ---- tensor-parallel collectives (exposed)
    tp_bytes = COMPUTE_BYTES * b_mb * d
    tp_one = np.where(t > 1, all_gather_s(tp_bytes, t, comm["tensor_bw"], comm["tensor_lat"]) + launch, 0.0)
    per_pass = 2 if parallel else 4
    tp_count_f = per_pass
    tp_count_b = per_pass
    tp_count_r = np.where(r_dense > 0, per_pass // 2, 0)
    tp_layer = tp_one * (tp_count_f + tp_count_b + tp_count_r)
    tp_logits = 2 * tp_one

    # ---- FSDP collectives (overlapped with the layer's own work)
    layer_params_local = inp.params.per_layer / t
    fs_ag = np.where(
        f > 1,
        all_gather_s(COMPUTE_BYTES * layer_params_local, f, comm["fsdp_bw"], comm["fsdp_lat"]) + launch,
        0.0,
    )
    fs_rs = np.where(
        f > 1,
        all_gather_s(grad_bytes * layer_params_local, f, comm["fsdp_bw"], comm["fsdp_lat"]) + launch,
        0.0,
    )
    fwd_window = dense_f + attn_f + vec_f + tp_one * tp_count_f
    bwd_window = (
        2 * (dense_f + attn_f) + remat_layer + (vec_layer - vec_f) + tp_one * (tp_count_b + tp_count_r)
    )
    if tr.async_all_gather:
        fs_layer = np.maximum(0.0, fs_ag - fwd_window) + np.maximum(0.0, fs_ag - bwd_window) + fs_rs
    else:  # synchronous all-gathers: each one waits on the critical path
        fs_layer = 2 * fs_ag + fs_rs
    emb_local = inp.params.embedding / t
    emb_ag = np.where(
        f > 1, all_gather_s(COMPUTE_BYTES * emb_local, f, comm["fsdp_bw"], comm["fsdp_lat"]), 0.0
    )
    emb_rs = np.where(f > 1, all_gather_s(grad_bytes * emb_local, f, comm["fsdp_bw"], comm["fsdp_lat"]), 0.0)
    fs_emb = (np.maximum(0.0, 2 * emb_ag - 3 * logits_f) if tr.async_all_gather else 2 * emb_ag) + emb_rs
    fs_startup = fs_ag  # the step's first gather has nothing to hide behind

    # ---- pipeline sends
    pp_bytes = COMPUTE_BYTES * b_mb * d
    sends = np.where(
        p > 1, 2 * point_to_point_s(pp_bytes, comm["pipeline_bw"], 1, chip.ici_hop_latency_s), 0.0
    )

    per_mb_stage = (
        layers_stage * (compute_layer + remat_layer + vec_layer + tp_layer + fs_layer)
        + 3 * logits_f
        + vec_logits
        + tp_logits
        + fs_emb
        + sends
    )
    bubble = (p - 1) * per_mb_stage

    # ---- gradient reduction and optimizer
    n_total = inp.params.total
    n_local = n_total / (f * t * p)  # each data replica holds this shard
    dp_ar = np.where(
        dpi > 1, all_reduce_s(grad_bytes * n_local, dpi, comm["data_bw"], comm["data_lat"]) + launch, 0.0
    )
    last_bwd = layers_stage * (2 * (dense_f + attn_f) + remat_layer)
    dp_exposed = np.maximum(0.0, dp_ar - last_bwd)
    dcn = dcn_all_reduce_s(
        grad_bytes * n_local / dpi,
        inp.slices,
        chip.dcn_bytes_per_s_per_chip,
        chip.pcie_bytes_per_s,
        eff.dcn_fraction,
        eff.dcn_latency_s,
    )
    opt_state = OPTIMIZER_STATE_BYTES[tr.optimizer] + (
        MASTER_COPY_BYTES[tr.optimizer] if tr.param_bytes == 2 else 0
    )
    optimizer = n_local * (2 * tr.param_bytes + grad_bytes + 2 * opt_state) / hbm

    breakdown = {
        "compute": mb * (layers_stage * compute_layer + 3 * logits_f),
        "remat": mb * layers_stage * remat_layer,
        "vector": mb * (layers_stage * vec_layer + vec_logits),
        "optimizer": optimizer,
        "tensor_collectives": mb * (layers_stage * tp_layer + tp_logits),
        "fsdp_collectives": mb * (layers_stage * fs_layer + fs_emb) + fs_startup,
        "data_collectives": dp_exposed,
        "dcn": dcn,
        "pipeline_sends": mb * sends,
        "pipeline_bubble": bubble,
    }
    step = sum(breakdown.values())

    # ---- memory per chip
    # per token and layer, sharded over tensor: the layer input (always kept), the outputs of the
    # projection matmuls (kept unless remat recomputes them; JAX's checkpoint_dots policy keeps
    # exactly these), and the elementwise / attention-core results (kept only without remat)
    input_saved = COMPUTE_BYTES * d / t
    dense_saved = COMPUTE_BYTES * (hq / t + 2 * q * kv_local + 2 * d / t + n_in * ff / t)
    elementwise_saved = COMPUTE_BYTES * (n_norm * d / t + ff / t + hq / t)
    attn_saved = (
        COMPUTE_BYTES * heads_local * seq if m_.attention == "materialized" else 0.0
    ) + FP32_BYTES * heads_local
    saved_tok_layer = (
        input_saved + (1 - r_dense) * dense_saved + (1 - r_attn) * (elementwise_saved + attn_saved)
    )
    largest_matrix = np.maximum(d * ff / t, d * (hq / t + 2 * q * kv_local))
    in_flight = np.where(p > 1, np.minimum(p, mb), 1.0)
    memory = {
        "params": n_local * tr.param_bytes,
        "gradients": n_local * grad_bytes,
        "optimizer_state": n_local * opt_state,
        "activations": layers_stage * saved_tok_layer * b_mb * in_flight,
        # one layer being recomputed/differentiated: its input plus the larger of its
        # attention part (q, k, v, output; fp32 scores if materialised) and its MLP hidden part
        "working_activations": (
            input_saved
            + np.maximum(
                COMPUTE_BYTES * (2 * hq / t + 2 * q * kv_local)
                + attn_saved
                + (2 * FP32_BYTES * heads_local * seq if m_.attention == "materialized" else 0.0),
                COMPUTE_BYTES * (n_in + 1) * ff / t,
            )
        )
        * b_mb,
        # gathered per weight matrix: the one in use and the one being prefetched (bf16), and
        # the unreduced gradient of one matrix, for the largest matrix of a layer
        "gathered_weights": np.where(f > 1, (2 * COMPUTE_BYTES + grad_bytes) * largest_matrix, 0.0),
        "logits": FP32_BYTES * vocab / t * b_mb,  # fp32 logits; their gradient overwrites them
    }
    out = {"step_time_s": step, "memory_per_chip_bytes": sum(memory.values())}
    out.update({f"breakdown.{k}": v for k, v in breakdown.items()})
    out.update({f"memory.{k}": v for k, v in memory.items()})
    return out
