"""Parameters and FLOPs of a dense decoder-only transformer (PaLM Appendix B conventions).

- Parameters: attention (q and output projections H*Q*d each, k and v 2*kv*Q*d), MLP
  (2 or 3 matrices of d*d_ff), one (parallel block) or two (serial) norm scales per layer, a
  final norm, the token embedding (shared with the output projection when tied, else twice) and
  learned position embeddings if any.
- Model FLOPs per token = 6 N + 12 L H Q T (PaLM App. B): 2 FLOPs per multiply-add, backward
  twice the forward; N counts the parameters that take part in matmuls (an untied input
  embedding is a lookup, not a matmul, so it is left out; tied, it is the output projection).
- Hardware FLOPs add the rematerialised forward work:
  none 0; minimal (recompute inside attention) + 4 L H Q T; full + 2 N + 4 L H Q T;
  palm (75% of the non-attention forward + all attention forward) + 1.5 N + 4 L H Q T.
  This reproduces PaLM Table 22 (540B: 3.28 -> 4.10 TFLOPs per token).
"""

from __future__ import annotations

from dataclasses import dataclass

from tpusim.workloads.config import Model

# Fraction of the non-attention forward matmuls, and of the attention forward (QK^T and AV),
# recomputed in the backward pass under each remat policy.
REMAT_FRACTIONS: dict[str, tuple[float, float]] = {
    "none": (0.0, 0.0),
    "minimal": (0.0, 1.0),
    "palm": (0.75, 1.0),
    "full": (1.0, 1.0),
}


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

    @property
    def per_layer(self) -> int:
        return self.attention_per_layer + self.mlp_per_layer + self.norms_per_layer

    @property
    def total(self) -> int:
        return self.layers * self.per_layer + self.embedding + self.final_norm

    @property
    def matmul(self) -> int:
        """Parameters that take part in matmuls (N in 6N)."""
        return self.total - self.input_lookup


def param_counts(model: Model) -> ParamCounts:
    d, hq, kvq = model.d_model, model.heads * model.head_dim, model.kv_heads * model.head_dim
    attention = 2 * d * hq + 2 * d * kvq
    mlp = (model.mlp_in_matrices + 1) * d * model.d_ff
    norms = d * (1 if model.block == "parallel" else 2)
    table = model.vocab * d
    positions = model.seq_len * d if model.position == "learned" else 0
    embedding = table * (1 if model.tie_embeddings else 2) + positions
    lookup = positions + (0 if model.tie_embeddings else table)
    return ParamCounts(
        attention_per_layer=attention,
        mlp_per_layer=mlp,
        norms_per_layer=norms,
        embedding=embedding,
        final_norm=d,
        layers=model.layers,
        output_projection=table,
        input_lookup=lookup,
    )


def attention_flops_per_token(model: Model) -> float:
    """12 L H Q T: QK^T and AV, forward and backward, full (unmasked) attention as PaLM counts it."""
    return 12.0 * model.layers * model.heads * model.head_dim * model.seq_len


def model_flops_per_token(model: Model) -> float:
    """6 N + 12 L H Q T (PaLM Appendix B); the FLOPs MFU counts."""
    return 6.0 * param_counts(model).matmul + attention_flops_per_token(model)


def hardware_flops_per_token(model: Model, remat: str) -> float:
    """Model FLOPs plus the rematerialised forward FLOPs of `remat` (what HFU counts)."""
    dense_frac, attn_frac = REMAT_FRACTIONS[remat]
    n = param_counts(model).matmul
    extra = dense_frac * 2.0 * n + attn_frac * attention_flops_per_token(model) / 3.0
    return model_flops_per_token(model) + extra
