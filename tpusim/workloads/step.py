"""Step time and memory of one training step, vectorised over candidate shardings and policies.

Per chip, per microbatch and per layer (a pipeline stage holds L/p layers):

- Layer matmuls (per-op roofline): time = max(FLOPs / (peak x mxu_fraction x padding),
  bytes / (HBM x hbm_fraction)); padding = the fraction of the MXU tile a weight dimension fills
  (d / (ceil(d/128) x 128) for both weight dims). Backward = 2 x forward (dX and dW). With
  `matmul_dtype = "int8"` (AQT: forward, dlhs and drhs matmuls in int8) they run at the chip's
  int8 peak on 1-byte operands, and each operand is quantised from bf16 in HBM first (read
  2 bytes, write 1, per element: X in the forward, dY for dX, X and dY for dW).
- Attention core: flash runs at the MXU peak on the blocks it computes (causal: the blocks on
  or below the diagonal), backward 3.5x forward (flops.py). Materialised attention writes the
  scores to HBM: QK^T and PV are rooflines of 2TQ FLOPs against 2T bytes (bf16 S written, P read)
  per token and head plus the Q-wide rows of their other operand and result (q and k; v and the
  context: 2Q bytes per query head and per key/value head), the backward's four matmuls likewise
  (2x: dP from dO and V, dV from P and dO, dQ from dS and K, dK from dS and Q); QK^T also reads
  the bias it adds to each score (the [batch, 1, T, T] mask, broadcast over heads, and with T5
  relative positions the layer's [heads, T, T] bias, broadcast over the batch: 2 bytes each);
  the softmax (10 bytes per score) reads S for the row max, reads S again and writes
  E = exp(S - max) while summing it, then reads E and writes P = E / sum (XLA does not duplicate
  the exponential into its two consumers, below); its backward reads dP and P twice and writes dS
  (10 bytes). With relative positions each layer's backward all-reduces the [heads, T, T] bias
  gradient (a reduction of dS over the sharded batch) over every batch shard, synchronously.
- Remat (remat.py): the recomputed matmuls, attention and vector work of the policy, and its
  tensor-parallel collectives on the recompute path.
- Vector work (residual adds, activation, rotary): HBM-bound, backward 2x forward. A layer norm
  (fp32 inside, bf16 in and out: a reduction, then the scaling) makes 3 passes over its tensor in
  the forward (reduction reads x; scaling reads x, writes y) and 7 in the backward (row reduction
  and dx read dy and x, dx is written, the scale's gradient reduces dy and x over the tokens).
- Tensor-parallel collectives (GSPMD/Megatron layout: all-gather of the layer input over the
  tensor axis and reduce-scatter of its output, per attention and MLP for a serial block, once
  for a parallel block; the same again in backward): on the critical path, fully exposed.
  With `collective_matmul = true` (XLA's decomposition of an all-gather or reduce-scatter and
  the einsum it feeds into a loop of collective-permutes overlapped with partial matmuls,
  Wang et al., ASPLOS 2023; `--xla_tpu_decompose_all_gather_einsum` in MaxText recipes) only
  what outlasts the matmul, plus the first of the t chunks, is exposed.
- FSDP collectives: the all-gathers of each layer's bf16 weights (before forward and backward)
  do not depend on the current layer's results, so an asynchronous all-gather (the MaxText v4
  recipes enable `--xla_enable_async_all_gather`) prefetches them behind the previous layer's
  work: exposed only where they outlast it, plus the step's first gather. The gradient
  reduce-scatters are synchronous (their reduction runs on the TensorCore): exposed. Every
  gradient collective moves bf16 (GRADIENT_COMM_BYTES), whatever the parameter dtype. With
  `async_all_gather = false` (XLA before that flag, e.g. PaLM's 2022 stack) the gathers are too.
  With `async_reduce_scatter = true` (asynchronous reduce-scatters continued inside the compute
  fusions scheduled between their start and done: `--xla_enable_async_reduce_scatter_fusion`,
  `--xla_tpu_enable_async_collective_fusion_fuse_reduce_scatter` with
  `--xla_tpu_enable_async_collective_fusion` and `--xla_tpu_overlap_compute_collective_tc`,
  MaxText configs/README.md "XLA flags used by MaxText") layer i's gradient reduce-scatter runs
  during layer i-1's backward, the scaling book's FSDP schedule (training.md: the gradient
  ReduceScatter is "not on critical path, can be done async", a layer's time the max of its
  FLOPs and its AllGather + ReduceScatter): it shares the FSDP links with the weight gather
  prefetched in the same window, so only what the two together leave over the window is
  exposed, plus the last reduce-scatter of the backward pass, which has no window after it.
- In-slice data-parallel gradient all-reduce: overlapped with the last microbatch's backward.
- Cross-slice (DCN) gradient exchange: after the backward pass, not overlapped (PaLM sec. 4).
- Pipeline: activation sends between stages; bubble (p-1) x stage time (GPipe/1F1B).
- Optimizer: HBM-bound update of the chip's parameter shard.
- Host offload (PCIe, each direction at the chip's rate): offloaded activations go out during
  their layer's forward and come back during its backward, an offloaded optimizer state comes
  in during the backward pass and goes out during the next forward (asynchronous copies that
  the compiler overlaps with compute); only the excess over that window is exposed.

Memory per chip: parameters, gradients, optimizer state, the saved activations of the policy
(the layer input always; remat.py's saved set), one layer's working set (what the policy
recomputes or brings back, plus the largest gradient buffer of an op: the MLP hidden gradient,
or P/dP/dS of materialised attention), fp32 logits, the largest gathered weight matrix (in use +
prefetched) and its unreduced gradient, the mask and relative biases of materialised attention.
Offloaded activations keep two layers in HBM (one in transfer, one in use); an offloaded
optimizer state keeps two layers' share (streamed).

All arrays broadcast; a single configuration is an array of one element.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tpusim.collectives import all_gather_s, all_reduce_s, dcn_all_reduce_s, point_to_point_s
from tpusim.hardware import Chip
from tpusim.workloads.config import Model, Training
from tpusim.workloads.efficiency import Efficiency
from tpusim.workloads.flops import ParamCounts, attention_backward_ratio, attention_executed_fraction
from tpusim.workloads.remat import MATMULS, RematPlan, layer_graph

COMPUTE_BYTES = 2  # bf16 activations, gathered weights and matmul operands
# Gradients cross the network in the compute dtype: a weight is cast to bf16 before its matmul,
# so its gradient is the bf16 output of the dW matmul, partial over the batch shards, and the
# reduction (reduce-scatter over FSDP, all-reduce over data, in the slice and across slices) acts
# on that bf16 array before the cast back to the parameter dtype (JAX's SPMD partitioner on
# MaxText's train step: bf16 all-reduce / reduce-scatter of every weight gradient, fp32 master
# weights or not).
GRADIENT_COMM_BYTES = 2
INT8_BYTES = 1
FP32_BYTES = 4
QUANTIZE_BYTES = 3  # AQT operand quantisation: read bf16 (2 bytes), write int8 (1 byte)
# Softmax of materialised scores, per score (jax.nn.softmax: E = exp(S - max(S)), P = E / sum(E)).
# E has two consumers, the row sum and the division, and the division needs the finished sum, so
# one fusion cannot produce P from S; XLA's fusion pass does not duplicate an expensive producer
# into several consumers (openxla/xla xla/service/instruction_fusion.cc, InstructionFusion::
# ShouldFuse: "don't duplicate expensive instructions"; IsExpensive lists kExp), so E is written
# once and read back instead of being recomputed from S. Forward: read S (max), read S and write
# E (exp and sum), read E and write P: 5 bf16 passes.
SOFTMAX_FORWARD_BYTES = 10
SOFTMAX_BACKWARD_BYTES = 10  # per score: read dP and P (row sum), again, write dS
# Materialised attention adds a bias to every score before the softmax (MaxText 2023 and T5X
# decoders, layers.py at AI-Hypercomputer/maxtext 281e04bf): the mask built once per step by
# make_decoder_mask as a [batch, 1, T, T] array in the compute dtype, broadcast over heads, and with
# T5 relative positions the layer's [heads, T, T] bias (one-hot contraction of the bucket table),
# broadcast over the batch: each read once per score the scores are computed (bf16).
ATTENTION_MASK_BYTES = 2
RELATIVE_BIAS_BYTES = 2
ATTENTION_WORKING_BYTES = 4
# Passes over a normalised tensor (the layer norm of MaxText / T5X, in fp32 inside, bf16 in and
# out: a reduction of x^2 over the features, then the scaling). Forward: the reduction reads x, the
# scaling reads x and writes y. Backward: the row reduction of dy*x reads dy and x, dx reads dy and
# x and writes dx, the scale's gradient (a reduction over the tokens) reads dy and x again.
NORM_FORWARD_PASSES = 3
NORM_BACKWARD_PASSES = 7  # per score beyond the saved P: dP and dS live together (bf16)
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
    "host_offload",
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


def plan_columns(plans: list[RematPlan], offload_optimizer: list[bool], repeat: int) -> dict[str, np.ndarray]:
    """The per-candidate arrays `evaluate` reads from remat plans: candidate group g (plan g,
    optimizer offload g) repeated `repeat` times, groups one after the other."""
    def col(values) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype=float), repeat)

    out = {f"mm.{m}": col([p.matmul_recompute[i] for p in plans]) for i, m in enumerate(MATMULS)}
    out["attn"] = col([p.attention_recompute for p in plans])
    out["tp_recompute"] = col([p.tp_collectives for p in plans])
    names = {n for p in plans for n in p.recomputed | p.saved | p.offloaded}
    for n in sorted(names):
        out[f"rec.{n}"] = col([n in p.recomputed for p in plans])
        out[f"save.{n}"] = col([n in p.saved for p in plans])
        out[f"off.{n}"] = col([n in p.offloaded for p in plans])
    out["offload_optimizer"] = col(offload_optimizer)
    return out


def _pad(dim, mxu: int):
    """Fraction of MXU tiles a dimension fills: dim / (ceil(dim / mxu) x mxu)."""
    return dim / np.ceil(dim / mxu) / mxu


def _matmul_s(m, k, n, peak, hbm, mxu: int, operand_bytes: int = COMPUTE_BYTES):
    """Roofline time of [m, k] @ [k, n] with MXU padding of k and n (bf16 result)."""
    flops = 2.0 * m * k * n
    t_compute = flops / (peak * _pad(k, mxu) * _pad(n, mxu))
    t_memory = (operand_bytes * (m * k + k * n) + COMPUTE_BYTES * m * n) / hbm
    return np.maximum(t_compute, t_memory)


def _bias_bytes(model: Model) -> float:
    """Bytes of attention bias read per materialised score (module docstring)."""
    relative = RELATIVE_BIAS_BYTES if model.position == "relative" else 0.0
    return ATTENTION_MASK_BYTES + relative


def _col(plan: dict[str, np.ndarray], key: str):
    return plan.get(key, 0.0)


def evaluate(
    inp: StepInputs,
    tensor,
    fsdp,
    data_in_slice,
    pipeline,
    microbatches,
    plan: dict[str, np.ndarray],
    comm: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Breakdown (seconds), step time, and memory (bytes) for each candidate (arrays).

    `plan` holds the remat policy's columns (`plan_columns`)."""
    m_, tr, chip, eff = inp.model, inp.training, inp.chip, inp.eff
    mxu = chip.mxu_dim
    t = np.asarray(tensor, dtype=float)
    f = np.asarray(fsdp, dtype=float)
    dpi = np.asarray(data_in_slice, dtype=float)
    p = np.asarray(pipeline, dtype=float)
    mb = np.asarray(microbatches, dtype=float)

    peak = chip.peak_bf16_flops_per_s * eff.mxu_fraction
    int8 = tr.matmul_dtype == "int8"
    peak_mm = (chip.peak_int8_ops_per_s if int8 else chip.peak_bf16_flops_per_s) * eff.mxu_fraction
    operand = INT8_BYTES if int8 else COMPUTE_BYTES
    hbm = chip.hbm_bytes_per_s * eff.hbm_fraction
    d, hq, q, ff, vocab, seq = m_.d_model, m_.heads * m_.head_dim, m_.head_dim, m_.d_ff, m_.vocab, m_.seq_len
    heads_local = m_.heads / t
    kv_local = np.maximum(m_.kv_heads / t, 1.0)  # fewer kv heads than tensor shards: replicated
    parallel = m_.block == "parallel"
    n_norm = 1 if parallel else 2
    n_in = m_.mlp_in_matrices
    grad_bytes = tr.param_bytes  # gradients accumulated and applied in the parameter dtype
    launch = eff.collective_launch_s
    flash = m_.attention == "flash"

    tokens = tr.global_batch_seqs * seq
    shards = inp.slices * dpi * f
    b = tokens / shards  # tokens per chip group per step
    b_mb = b / mb  # per microbatch
    layers_stage = m_.layers / p

    # ---- layer matmuls, forward, per microbatch; (k, n) per token on this chip
    dims = {
        "qkv": (d, hq / t + 2 * q * kv_local),
        "out": (hq / t, d),
        "mlp_in": (d, n_in * ff / t),
        "mlp_out": (ff / t, d),
    }
    mm_t = {name: _matmul_s(b_mb, k, n, peak_mm, hbm, mxu, operand) for name, (k, n) in dims.items()}
    dense_f = sum(mm_t.values())
    remat_dense = sum(_col(plan, f"mm.{name}") * mm_t[name] for name in MATMULS)
    if int8:  # operand quantisation traffic per token: forward X, backward dY, X and dY
        quant_f = sum(QUANTIZE_BYTES * k for k, _n in dims.values())
        quant_b = sum(QUANTIZE_BYTES * (k + 2 * n) for k, n in dims.values())
        quant_r = sum(_col(plan, f"mm.{name}") * QUANTIZE_BYTES * dims[name][0] for name in MATMULS)
    else:
        quant_f = quant_b = quant_r = 0.0

    # ---- attention core per microbatch and layer
    if flash:
        executed = attention_executed_fraction(m_, eff.attention_block_tokens)
        block = min(eff.attention_block_tokens, seq)
        attn_f = executed * 4.0 * b_mb * seq * q * heads_local / (peak * _pad(q, mxu) * _pad(block, mxu))
        vec_attn_f = vec_attn_b = 0.0
    else:  # QK^T and PV: 2TQ FLOPs per token and head against its T scores (bf16) and the
        # Q-wide rows of the other operand and the result: q and k, v and the context (one row
        # per query head and one per key/value head)
        score_flops_s = 2.0 * seq * q * heads_local / (peak * _pad(q, mxu) * _pad(seq, mxu))
        score_bytes_s = seq * heads_local / hbm  # one byte per score, per token
        rows_s = COMPUTE_BYTES * q * (heads_local + kv_local) / hbm
        pv = np.maximum(score_flops_s, COMPUTE_BYTES * score_bytes_s + rows_s) * b_mb
        # QK^T also adds the attention bias to each score it writes: the mask, and the relative
        # position biases when the model has them
        qk = np.maximum(score_flops_s, (COMPUTE_BYTES + _bias_bytes(m_)) * score_bytes_s + rows_s) * b_mb
        attn_f = qk + pv
        vec_attn_f = SOFTMAX_FORWARD_BYTES * heads_local * seq
        vec_attn_b = SOFTMAX_BACKWARD_BYTES * heads_local * seq
    # the backward's matmuls read no bias: ratio x (the forward without it)
    attn_b = attention_backward_ratio(m_) * (attn_f if flash else 2.0 * pv)
    r_attn = _col(plan, "attn")
    logits_f = _matmul_s(b_mb, d, vocab / t, peak, hbm, mxu)

    # ---- vector (HBM-bound) work per token of one layer
    q_el, kv_el = hq / t, q * kv_local
    norm_el = n_norm * d / t + ((q_el + kv_el) if m_.qk_norm else 0.0)  # normalised per token
    vec_other_tok = COMPUTE_BYTES * (
        (4 if parallel else 6) * d / t  # residual adds
        + (n_in + 1) * ff / t  # activation: read inputs, write output
        + (2 * (q_el + kv_el) if m_.position == "rope" else 0.0)  # rotary on q, k
    )
    vec_dense_f = vec_other_tok + NORM_FORWARD_PASSES * COMPUTE_BYTES * norm_el
    vec_dense_b = 2 * vec_other_tok + NORM_BACKWARD_PASSES * COMPUTE_BYTES * norm_el
    recompute_vec = {  # bytes per token to recompute each vector node
        "n1": NORM_FORWARD_PASSES * COMPUTE_BYTES * d / t,
        "n2": NORM_FORWARD_PASSES * COMPUTE_BYTES * d / t,
        "h": COMPUTE_BYTES * 3 * d / t,
        "rot": COMPUTE_BYTES * 2 * (q_el + kv_el),
        "qkn": NORM_FORWARD_PASSES * COMPUTE_BYTES * (q_el + kv_el),
        "act": COMPUTE_BYTES * (n_in + 1) * ff / t,
        "probs": SOFTMAX_FORWARD_BYTES * heads_local * seq if not flash else 0.0,
    }
    vec_remat_tok = sum(_col(plan, f"rec.{n}") * v for n, v in recompute_vec.items()) + quant_r
    vec_f = (vec_dense_f + vec_attn_f + quant_f) * b_mb / hbm
    vec_b = (vec_dense_b + vec_attn_b + quant_b) * b_mb / hbm
    vec_remat = vec_remat_tok * b_mb / hbm
    vec_layer = vec_f + vec_b + vec_remat
    vec_logits = 3 * FP32_BYTES * vocab / t * b_mb / hbm

    compute_layer = 3 * dense_f + attn_f + attn_b  # forward + backward
    remat_layer = remat_dense + r_attn * attn_f

    # ---- tensor-parallel collectives (exposed)
    tp_bytes = COMPUTE_BYTES * b_mb * d
    tp_one = np.where(t > 1, all_gather_s(tp_bytes, t, comm["tensor_bw"], comm["tensor_lat"]) + launch, 0.0)
    per_pass = 2 if parallel else 4
    tp_count_r = _col(plan, "tp_recompute")
    if tr.collective_matmul:  # each collective hidden behind the matmul it feeds or drains
        groups = [("qkv", "mlp_in"), ("out", "mlp_out")] if parallel else [(m,) for m in MATMULS]

        def hidden(work):
            return np.where(t > 1, np.maximum(0.0, tp_one - work) + tp_one / t, 0.0)

        tp_fwd = sum(hidden(sum(mm_t[m] for m in g)) for g in groups)
        tp_bwd = sum(hidden(2 * sum(mm_t[m] for m in g)) for g in groups)
        tp_rec = sum(
            np.where(sum(_col(plan, f"mm.{m}") for m in g) > 0,
                     hidden(sum(_col(plan, f"mm.{m}") * mm_t[m] for m in g)), 0.0)
            for g in groups
        )
        tp_layer = tp_fwd + tp_bwd + tp_rec
        tp_logits_f = hidden(logits_f)
        tp_logits = tp_logits_f + hidden(2 * logits_f)
    else:  # on the critical path: the next matmul waits for each one
        tp_fwd = tp_one * per_pass
        tp_rec = tp_one * tp_count_r
        tp_layer = tp_one * (2 * per_pass + tp_count_r)
        tp_logits_f = tp_one
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
        all_gather_s(GRADIENT_COMM_BYTES * layer_params_local, f, comm["fsdp_bw"], comm["fsdp_lat"]) + launch,
        0.0,
    )
    # T5 relative position biases: the gradient of a layer's [heads, T, T] bias is a reduction of
    # dS over the batch, which is sharded, so each layer's backward all-reduces it over every
    # batch shard (in the slice, then across slices), synchronously
    if m_.position == "relative":
        rel_bytes = COMPUTE_BYTES * heads_local * seq * seq
        rel_ar = np.where(
            f > 1, all_reduce_s(rel_bytes, f, comm["fsdp_bw"], comm["fsdp_lat"]) + launch, 0.0
        ) + np.where(
            dpi > 1, all_reduce_s(rel_bytes / f, dpi, comm["data_bw"], comm["data_lat"]) + launch, 0.0
        )
        rel_dcn = dcn_all_reduce_s(rel_bytes / (f * dpi), inp.slices, chip.dcn_bytes_per_s_per_chip,
                                   chip.pcie_bytes_per_s, eff.dcn_fraction, eff.dcn_latency_s)
    else:
        rel_ar = rel_dcn = 0.0
    fwd_window = dense_f + attn_f + vec_f + tp_fwd
    bwd_window = 2 * dense_f + attn_b + remat_layer + vec_b + vec_remat + (tp_layer - tp_fwd)
    if tr.async_all_gather:
        fs_fwd = np.maximum(0.0, fs_ag - fwd_window)
        ag_bwd = fs_ag  # the next layer's weights, prefetched over the FSDP links in this window
    else:  # synchronous all-gathers: each one waits on the critical path
        fs_fwd = fs_ag
        ag_bwd = 0.0
    sync_ag = fs_ag - ag_bwd  # backward gathers on the critical path
    if tr.async_reduce_scatter:
        # asynchronous gradient reduce-scatters: layer i's runs during layer i-1's backward,
        # on the same FSDP links as the weight gather prefetched there, so the window hides
        # both only while the two together fit in it; the last layer of the backward pass
        # has no window after it (its reduce-scatter is exposed: `fs_tail`, once per stage)
        fs_bwd = np.maximum(0.0, ag_bwd + fs_rs - bwd_window)
        fs_tail = np.maximum(0.0, ag_bwd - bwd_window) + fs_rs - fs_bwd
    else:  # synchronous reduce-scatters, exposed
        fs_bwd = np.maximum(0.0, ag_bwd - bwd_window) + fs_rs
        fs_tail = 0.0
    fs_layer = fs_fwd + sync_ag + fs_bwd + rel_ar
    emb_local = inp.params.embedding / t
    emb_ag = np.where(
        f > 1, all_gather_s(COMPUTE_BYTES * emb_local, f, comm["fsdp_bw"], comm["fsdp_lat"]), 0.0
    )
    emb_rs = np.where(
        f > 1, all_gather_s(GRADIENT_COMM_BYTES * emb_local, f, comm["fsdp_bw"], comm["fsdp_lat"]), 0.0
    )
    fs_emb = (np.maximum(0.0, 2 * emb_ag - 3 * logits_f) if tr.async_all_gather else 2 * emb_ag) + emb_rs
    fs_startup = fs_ag  # the step's first gather has nothing to hide behind

    # ---- node sizes (bytes per token, one layer, this chip) for memory and offload
    node_bytes = {
        "n1": COMPUTE_BYTES * d / t,
        "n2": COMPUTE_BYTES * d / t,
        "h": COMPUTE_BYTES * d / t,
        "out": COMPUTE_BYTES * d / t,
        "mlp_out": COMPUTE_BYTES * d / t,
        "qkv": COMPUTE_BYTES * (q_el + 2 * kv_el),
        "rot": COMPUTE_BYTES * (q_el + kv_el),
        "qkn": COMPUTE_BYTES * (q_el + kv_el),
        "ctx": COMPUTE_BYTES * q_el + (FP32_BYTES * heads_local if flash else 0.0),  # + log-sum-exp
        "probs": COMPUTE_BYTES * heads_local * seq,
        "mlp_in": COMPUTE_BYTES * n_in * ff / t,
        "act": COMPUTE_BYTES * ff / t,
    }
    graph_nodes = {n.name for n in layer_graph(m_)}
    node_bytes = {k: v for k, v in node_bytes.items() if k in graph_nodes}

    def set_bytes(prefix: str):
        return sum(_col(plan, f"{prefix}.{n}") * v for n, v in node_bytes.items())

    saved_tok = set_bytes("save")
    offloaded_tok = set_bytes("off")
    rebuilt_tok = set_bytes("rec") + offloaded_tok  # materialised again for the layer's backward

    # ---- host offload over PCIe (overlapped with the layer's forward / backward)
    pcie = chip.pcie_bytes_per_s
    off_s = offloaded_tok * b_mb / pcie
    host_act = np.maximum(0.0, off_s - fwd_window) + np.maximum(0.0, off_s - bwd_window)

    # ---- pipeline sends
    pp_bytes = COMPUTE_BYTES * b_mb * d
    sends = np.where(
        p > 1, 2 * point_to_point_s(pp_bytes, comm["pipeline_bw"], 1, chip.ici_hop_latency_s), 0.0
    )

    per_mb_stage = (
        layers_stage * (compute_layer + remat_layer + vec_layer + tp_layer + fs_layer + host_act)
        + 3 * logits_f
        + vec_logits
        + tp_logits
        + fs_emb
        + fs_tail
        + sends
    )
    bubble = (p - 1) * per_mb_stage

    # ---- gradient reduction and optimizer
    n_total = inp.params.total
    n_local = n_total / (f * t * p)  # each data replica holds this shard
    dp_ar = np.where(
        dpi > 1,
        all_reduce_s(GRADIENT_COMM_BYTES * n_local, dpi, comm["data_bw"], comm["data_lat"]) + launch,
        0.0,
    )
    last_bwd = layers_stage * (2 * dense_f + attn_b + remat_layer)
    dp_exposed = np.maximum(0.0, dp_ar - last_bwd)
    dcn = dcn_all_reduce_s(
        GRADIENT_COMM_BYTES * n_local / dpi,
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
    off_opt = _col(plan, "offload_optimizer")
    opt_transfer = off_opt * n_local * opt_state / pcie
    fwd_total = mb * layers_stage * fwd_window  # forward of every layer and microbatch
    bwd_total = mb * layers_stage * bwd_window
    host_opt = np.maximum(0.0, opt_transfer - bwd_total) + np.maximum(0.0, opt_transfer - fwd_total)

    breakdown = {
        "compute": mb * (layers_stage * compute_layer + 3 * logits_f),
        "remat": mb * layers_stage * remat_layer,
        "vector": mb * (layers_stage * vec_layer + vec_logits),
        "optimizer": optimizer,
        "tensor_collectives": mb * (layers_stage * tp_layer + tp_logits),
        "fsdp_collectives": mb * (layers_stage * fs_layer + fs_emb + fs_tail) + fs_startup,
        "data_collectives": dp_exposed,
        "dcn": dcn + mb * layers_stage * rel_dcn,
        "pipeline_sends": mb * sends,
        "pipeline_bubble": bubble,
        "host_offload": mb * layers_stage * host_act + host_opt,
    }
    step = sum(breakdown.values())
    # the forward pass alone (an evaluation step of the same batch): no backward, no optimizer
    fwd_mb_stage = layers_stage * (fwd_window + fs_fwd) + logits_f + vec_logits / 3 + tp_logits_f + sends / 2
    forward = (mb + p - 1) * fwd_mb_stage + fs_startup

    # ---- memory per chip
    input_saved = COMPUTE_BYTES * d / t
    largest_matrix = np.maximum(d * ff / t, d * (hq / t + 2 * q * kv_local))
    in_flight = np.where(p > 1, np.minimum(p, mb), 1.0)
    attn_transient = (0.0 if flash else ATTENTION_WORKING_BYTES * heads_local * seq)
    grad_transient = np.maximum(COMPUTE_BYTES * (n_in + 1) * ff / t, attn_transient)
    # materialised attention: the step's [batch, 1, T, T] mask; relative positions: a layer's
    # [heads, T, T] bias and its gradient (independent of the batch)
    bias_tok = 0.0 if flash else COMPUTE_BYTES * seq
    rel_resident = 2 * COMPUTE_BYTES * heads_local * seq * seq if m_.position == "relative" else 0.0
    opt_resident = np.where(off_opt > 0, 2.0 / m_.layers, 1.0)
    memory = {
        "params": n_local * tr.param_bytes,
        "gradients": n_local * grad_bytes,
        "optimizer_state": n_local * opt_state * opt_resident,
        "activations": (layers_stage * (input_saved + saved_tok) * in_flight + 2 * offloaded_tok) * b_mb,
        "working_activations": (rebuilt_tok + grad_transient + bias_tok) * b_mb + rel_resident,
        # gathered per weight matrix: the one in use and the one being prefetched (bf16), and
        # the unreduced gradient of one matrix, for the largest matrix of a layer
        "gathered_weights": np.where(f > 1, (2 * COMPUTE_BYTES + GRADIENT_COMM_BYTES) * largest_matrix, 0.0),
        "logits": FP32_BYTES * vocab / t * b_mb,  # fp32 logits; their gradient overwrites them
    }
    host = (layers_stage * offloaded_tok * in_flight * b_mb
            + n_local * opt_state * (1.0 - opt_resident) * (off_opt > 0))
    out = {"step_time_s": step, "memory_per_chip_bytes": sum(memory.values()),
           "host_memory_per_chip_bytes": host, "forward_time_s": forward}
    out.update({f"breakdown.{k}": v for k, v in breakdown.items()})
    out.update({f"memory.{k}": v for k, v in memory.items()})
    return out
