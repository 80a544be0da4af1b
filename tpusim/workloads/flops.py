"""Parameters and FLOPs of a dense decoder-only transformer; the MFU conventions in use.

- Parameters: attention (q and output projections H*Q*d each, k and v 2*kv*Q*d), MLP
  (1 input matrix for relu/gelu, 2 for swiglu, plus the output matrix, each d*d_ff), one
  (parallel block) or two (serial) norm scales per layer (plus a head_dim scale each for
  queries and keys with qk_norm), a final norm, the token embedding
  (shared with the output projection when tied, else twice), learned position embeddings if
  any, T5 relative position biases (RELATIVE_BUCKETS x heads per layer) if any.
- Model FLOPs per token, split (PaLM App. B convention, 2 FLOPs per multiply-add, backward
  twice the forward): dense = 6 x the layers' matmul parameters, logits = 6 x vocab x d
  (the output projection; an untied input embedding is a lookup, not a matmul),
  attention = 12 L H Q T (QK^T and AV, full T x T).
- Conventions (`mfu_by_convention`): `palm` = dense + logits + attention = 6N + 12LHQT (PaLM App.
  B, Table 22; MaxText Oct 2023 and mid-2024); `params_only` = 6 x every parameter
  (MaxText's April-2023 README tables: 6 N_total, no attention); `causal` = 6N + 6LHQT (attention
  halved for the causal mask: MaxText Dec 2023 - early 2024, MLPerf GPT-3 fork, mid-2025).
- Hardware FLOPs per token (what HFU counts, what the chip executes): the model's dense and
  logits FLOPs, the attention FLOPs the kernel executes (flash: causal blocks above the diagonal
  skipped, backward 3.5x its forward; materialised: full T x T, backward 2x) and the forward
  work the remat policy recomputes (remat.py). With `palm` and materialised attention this is
  6N + 12LHQT + 1.5N + 4LHQT, PaLM Table 22 (540B: 3.28 -> 4.10 TFLOPs per token).

Flash attention (jax `experimental/pallas/ops/tpu/flash_attention.py`, and the splash kernel
MaxText uses): the forward kernel does 2 block matmuls (QK^T, PV); the backward is two kernels,
dK/dV (QK^T, P^T dO, dO V^T, dS^T Q: 4) and dQ (QK^T, dO V^T, dS K: 3), 7 in all: 3.5x the
forward. With causal masking a block is skipped when it lies wholly above the diagonal
(`below_or_on_diag`): of n = ceil(T / block) blocks a side, n(n+1)/2 run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tpusim.workloads.config import Model
from tpusim.workloads.remat import MATMULS, remat_plan

RELATIVE_BUCKETS = 32  # T5 relative position buckets (MaxText 2023 layers.py: num_buckets=32)
FLASH_FORWARD_MATMULS = 2
FLASH_BACKWARD_MATMULS = 7
MATERIALIZED_BACKWARD_RATIO = 2.0  # dP = dO V^T, dQ, dK, dV: 4 matmuls against QK^T and PV
CONVENTIONS = ("palm", "params_only", "causal")


@dataclass(frozen=True)
class ParamCounts:
    attention_per_layer: int
    mlp_per_layer: int
    norms_per_layer: int
    embedding: int  # token embedding table(s) + position table
    final_norm: int
    layers: int
    output_projection: int  # params of the logits matmul (vocab x d)
    input_lookup: int  # params used only as a lookup (untied input embedding, positions)
    matmul_per_layer: tuple[int, int, int, int]  # qkv, out, mlp_in, mlp_out (remat.MATMULS)
    position_per_layer: int = 0  # relative position biases

    @property
    def per_layer(self) -> int:
        return self.attention_per_layer + self.mlp_per_layer + self.norms_per_layer + self.position_per_layer

    @property
    def total(self) -> int:
        return self.layers * self.per_layer + self.embedding + self.final_norm

    @property
    def matmul(self) -> int:
        """Parameters that take part in matmuls (N in 6N)."""
        return self.total - self.input_lookup


def param_counts(model: Model) -> ParamCounts:
    d, hq, kvq = model.d_model, model.heads * model.head_dim, model.kv_heads * model.head_dim
    qkv, out = d * (hq + 2 * kvq), hq * d
    mlp_in, mlp_out = model.mlp_in_matrices * d * model.d_ff, model.d_ff * d
    norms = d * (1 if model.block == "parallel" else 2) + (2 * model.head_dim if model.qk_norm else 0)
    table = model.vocab * d
    positions = model.seq_len * d if model.position == "learned" else 0
    relative = RELATIVE_BUCKETS * model.heads if model.position == "relative" else 0
    embedding = table * (1 if model.tie_embeddings else 2) + positions
    lookup = positions + (0 if model.tie_embeddings else table) + model.layers * relative
    return ParamCounts(
        attention_per_layer=qkv + out,
        mlp_per_layer=mlp_in + mlp_out,
        norms_per_layer=norms,
        embedding=embedding,
        final_norm=d,
        layers=model.layers,
        output_projection=table,
        input_lookup=lookup,
        matmul_per_layer=(qkv, out, mlp_in, mlp_out),
        position_per_layer=relative,
    )


def attention_flops_per_token(model: Model) -> float:
    """12 L H Q T: QK^T and AV, forward and backward, full (unmasked) attention as PaLM counts it."""
    return 12.0 * model.layers * model.heads * model.head_dim * model.seq_len


def flops_split(model: Model) -> dict[str, float]:
    """Model FLOPs per token by kind (PaLM convention): dense, attention, logits."""
    p = param_counts(model)
    return {
        "dense": 6.0 * (p.matmul - p.output_projection),
        "attention": attention_flops_per_token(model),
        "logits": 6.0 * p.output_projection,
    }


def model_flops_per_token(model: Model) -> float:
    """6 N + 12 L H Q T (PaLM Appendix B); the FLOPs MFU counts."""
    return sum(flops_split(model).values())


def convention_flops_per_token(model: Model) -> dict[str, float]:
    """Model FLOPs per token under each named MFU convention (CONVENTIONS)."""
    split = flops_split(model)
    return {
        "palm": split["dense"] + split["logits"] + split["attention"],
        "params_only": 6.0 * param_counts(model).total,
        "causal": split["dense"] + split["logits"] + split["attention"] / 2,
    }


def attention_executed_fraction(model: Model, block_tokens: int) -> float:
    """Fraction of the T x T attention blocks the kernel computes: causal flash skips the blocks
    above the diagonal (n = ceil(T / block) a side, n(n+1)/2 of n^2 run); materialised attention
    and non-causal flash compute them all."""
    if model.attention != "flash" or not model.causal:
        return 1.0
    n = math.ceil(model.seq_len / min(block_tokens, model.seq_len))
    return (n + 1) / (2 * n)


def attention_backward_ratio(model: Model) -> float:
    """Backward FLOPs of the attention core over its forward FLOPs (module docstring)."""
    if model.attention == "flash":
        return FLASH_BACKWARD_MATMULS / FLASH_FORWARD_MATMULS
    return MATERIALIZED_BACKWARD_RATIO


def hardware_flops_per_token(model: Model, remat: str, block_tokens: int) -> float:
    """FLOPs the chips execute per token: dense and logits (6 per parameter), the attention the
    kernel runs (forward, backward, recompute), the dense forward the policy recomputes; `palm`
    recomputes 75% of every non-attention forward matmul, the logits included (PaLM Table 22)."""
    p = param_counts(model)
    split = flops_split(model)
    plan = remat_plan(model, remat)
    attn_fwd = split["attention"] / 3.0 * attention_executed_fraction(model, block_tokens)
    attention = attn_fwd * (1.0 + attention_backward_ratio(model) + plan.attention_recompute)
    if remat == "palm":
        dense_recompute = plan.matmul_recompute[0] * 2.0 * p.matmul
    else:
        dense_recompute = 2.0 * model.layers * sum(
            f * n for f, n in zip(plan.matmul_recompute, p.matmul_per_layer, strict=True)
        )
    return split["dense"] + split["logits"] + attention + dense_recompute


__all__ = [
    "CONVENTIONS",
    "MATMULS",
    "ParamCounts",
    "attention_backward_ratio",
    "attention_executed_fraction",
    "attention_flops_per_token",
    "convention_flops_per_token",
    "flops_split",
    "hardware_flops_per_token",
    "model_flops_per_token",
    "param_counts",
]
