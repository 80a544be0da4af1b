"""Rematerialisation as JAX executes it: what each policy saves, offloads and recomputes.

A transformer layer is a small dataflow graph (below, per block kind). `jax.checkpoint` with a
policy saves, for the backward pass, the values the policy allows ("saveable") and recomputes the
rest from the layer input (the scan carry, always kept). JAX's partial evaluation
(`jax/_src/ad_checkpoint.py`: `remat_partial_eval` runs `dce_jaxpr` on the recompute) only
recomputes what the backward pass reads, so a value nobody reads back is neither saved nor
recomputed. What the backward pass reads ("residuals", by op):

- a matmul: its input (dW = X^T dY; the weight is a parameter, not an activation);
- a norm or the MLP activation: its input;
- flash attention (the Pallas kernels): q, k, v, its own output and the log-sum-exp;
- materialised attention: q, k, the softmax probabilities P and v;
- rotary embedding and residual adds: nothing (linear).

So under `full` (nothing saveable) the last matmul of each residual branch is not recomputed:
the MLP down-projection always, and the attention out-projection in a parallel block (in a
serial block its output feeds the second norm, so it is). Invariants (tested): `none` recomputes
nothing; a policy that saves more never recomputes more; `full` saves nothing but the input.

Tensor-parallel collectives on the recompute path (Megatron/GSPMD layout): one all-gather per
distinct norm output feeding a recomputed column-parallel matmul (qkv, MLP input), one
reduce-scatter per recomputed row-parallel matmul (out-projection, MLP down). Full remat: 3 for
a serial block (gather n1, scatter o, gather n2), 1 for a parallel block.

`palm` is PaLM's own measured policy (Chowdhery et al. 2022, App. B / Table 22): 75% of the
non-attention forward matmuls and all attention recomputed, one fully sharded activation saved
per layer (sec. 4); it is kept as the paper's fraction, not derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from tpusim.workloads.config import REMATS, Model

MATMULS = ("qkv", "out", "mlp_in", "mlp_out")  # the layer's weight matmuls, in forward order
COLUMN_PARALLEL = ("qkv", "mlp_in")  # input gathered over the tensor axis
ROW_PARALLEL = ("out", "mlp_out")  # output reduce-scattered over the tensor axis
PALM_DENSE_FRACTION = 0.75  # PaLM App. B: 75% of the non-attention forward FLOPs recomputed

# Checkpoint names of each graph node (MaxText layers: checkpoint_name(...); praxis names in the
# MLPerf GPT-3 fork: ffn1 = activation output, ffn2 = MLP output, wv_prod = materialised PV).
NODE_NAMES = {
    "qkv": ("query_proj", "key_proj", "value_proj", "kv_proj", "qkv_proj"),
    "ctx": ("context",),
    "out": ("out_proj",),
    "mlp_in": ("mlpwi", "mlpwi_0", "mlpwi_1"),
    "act": ("ffn1",),
    "mlp_out": ("mlpwo", "ffn2"),
}

# Saveable checkpoint names of each policy (MaxText decoders.py get_remat_policy); None = all
# (no remat). `minimal` is jax.checkpoint_policies.checkpoint_dots_with_no_batch_dims: the
# projection matmuls' outputs (attention's own dots have batch dimensions, a kernel is no dot).
_MINIMAL = NODE_NAMES["qkv"] + NODE_NAMES["out"] + NODE_NAMES["mlp_in"] + ("mlpwo",)
POLICY_NAMES: dict[str, tuple[str, ...] | None] = {
    "none": None,
    "minimal": _MINIMAL,
    "full": (),
    "palm": (),
    "minimal_with_context": _MINIMAL + ("context",),
    "save_dot_except_mlpwi": NODE_NAMES["qkv"] + NODE_NAMES["out"] + ("mlpwo",),
    "save_dot_except_mlp": NODE_NAMES["qkv"] + NODE_NAMES["out"],
    "save_qkv_proj": NODE_NAMES["qkv"],
    "save_out_proj": NODE_NAMES["out"],
    "save_dot_except_logits": NODE_NAMES["qkv"] + NODE_NAMES["out"] + ("ffn1", "ffn2", "wv_prod"),
    "save_dot_except_logits_ffn1": NODE_NAMES["qkv"] + NODE_NAMES["out"] + ("ffn2", "wv_prod"),
    "minimal_offloaded": _MINIMAL,
    "qkv_proj_offloaded": ("query_proj", "value_proj", "key_proj", "kv_proj"),
}
OFFLOADED = frozenset({"minimal_offloaded", "qkv_proj_offloaded"})  # saved to pinned host memory


@dataclass(frozen=True)
class Node:
    name: str
    op: str  # input, norm, matmul, rotary, flash, scores, pv, act, add
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RematPlan:
    """What one policy does to one layer of one model. `matmul_recompute` holds the recomputed
    fraction of each of MATMULS; node sets name graph nodes (see `layer_graph`)."""

    policy: str
    matmul_recompute: tuple[float, float, float, float]
    attention_recompute: float  # fraction of the attention forward matmuls recomputed
    recomputed: frozenset[str]  # non-matmul nodes recomputed (vector work, attention)
    saved: frozenset[str]  # kept in HBM (besides the layer input)
    offloaded: frozenset[str]  # kept in host memory
    tp_gathers: int  # tensor-parallel all-gathers on the recompute path
    tp_scatters: int  # tensor-parallel reduce-scatters on the recompute path

    @property
    def tp_collectives(self) -> int:
        return self.tp_gathers + self.tp_scatters

    def key(self) -> tuple:
        """Equal keys = the same work and memory (policies that coincide on this model)."""
        return (self.matmul_recompute, self.attention_recompute, self.recomputed, self.saved,
                self.offloaded, self.tp_gathers, self.tp_scatters)


@cache
def layer_graph(model: Model) -> tuple[Node, ...]:
    """The layer's dataflow in forward order (x = layer input, y = layer output)."""
    nodes = [Node("x", "input"), Node("n1", "norm", ("x",)), Node("qkv", "matmul", ("n1",))]
    attn_in = "qkv"
    if model.qk_norm:
        nodes.append(Node("qkn", "norm", ("qkv",)))
        attn_in = "qkn"
    if model.position == "rope":
        nodes.append(Node("rot", "rotary", (attn_in,)))
        attn_in = "rot"
    if model.attention == "flash":
        nodes.append(Node("ctx", "flash", (attn_in,)))
    else:
        nodes += [Node("probs", "scores", (attn_in,)), Node("ctx", "pv", ("probs", "qkv"))]
    nodes.append(Node("out", "matmul", ("ctx",)))
    if model.block == "serial":
        nodes += [Node("h", "add", ("x", "out")), Node("n2", "norm", ("h",)),
                  Node("mlp_in", "matmul", ("n2",))]
        last = "h"
    else:
        nodes.append(Node("mlp_in", "matmul", ("n1",)))
        last = "x"
    nodes += [Node("act", "act", ("mlp_in",)), Node("mlp_out", "matmul", ("act",)),
              Node("y", "add", (last, "out", "mlp_out") if last == "x" else (last, "mlp_out"))]
    return tuple(nodes)


def _residuals(graph: tuple[Node, ...]) -> set[str]:
    """Values the backward pass of each op reads (module docstring)."""
    need: set[str] = set()
    for n in graph:
        if n.op in ("norm", "matmul", "act", "pv"):
            need.update(n.inputs)
        elif n.op in ("flash", "scores"):  # the kernel's output and LSE / the probabilities P
            need.update(n.inputs)
            need.add(n.name)
    return need


def _saveable(node: Node, policy: str, model: Model) -> bool:
    names = POLICY_NAMES[policy]
    if names is None:
        return True
    own = NODE_NAMES.get(node.name, ())
    if node.name == "ctx" and model.attention == "materialized":
        own = own + ("wv_prod",)
    return any(n in names for n in own)


@cache
def remat_plan(model: Model, policy: str) -> RematPlan:
    """The plan of `policy` for a layer of `model` (see the module docstring)."""
    if policy not in REMATS:
        raise ValueError(f"unknown remat policy {policy!r}")
    graph = layer_graph(model)
    by_name = {n.name: n for n in graph}
    stored: set[str] = set()
    recomputed: set[str] = set()
    todo = sorted(_residuals(graph))
    while todo:
        name = todo.pop()
        node = by_name[name]
        if name == "x" or name in stored or name in recomputed:
            continue
        if _saveable(node, policy, model):
            stored.add(name)
        else:
            recomputed.add(name)
            todo.extend(node.inputs)
    if policy == "palm":
        dense = (PALM_DENSE_FRACTION,) * 4
        recomputed |= {n.name for n in graph if n.op not in ("input", "add", "matmul")} - {"y"}
        stored = set()
    else:
        dense = tuple(1.0 if m in recomputed else 0.0 for m in MATMULS)
    if model.attention == "flash":  # one kernel: its output and log-sum-exp come together
        attention = 1.0 if "ctx" in recomputed else 0.0
    else:  # QK^T + softmax give P, P @ V gives the context: half the attention matmuls each
        attention = 0.5 * ("probs" in recomputed) + 0.5 * ("ctx" in recomputed)
    gathered = {by_name[m].inputs[0] for m, f in zip(MATMULS, dense, strict=True)
                if f > 0 and m in COLUMN_PARALLEL}
    scatters = sum(1 for m, f in zip(MATMULS, dense, strict=True) if f > 0 and m in ROW_PARALLEL)
    if policy == "palm":  # the paper's fraction: the collectives of a full recompute
        full = remat_plan(model, "full")
        gathers, scatters = full.tp_gathers, full.tp_scatters
    else:
        gathers = len(gathered)
    offload = policy in OFFLOADED
    return RematPlan(
        policy=policy,
        matmul_recompute=dense,  # type: ignore[arg-type]
        attention_recompute=attention,
        recomputed=frozenset(recomputed - set(MATMULS)),
        saved=frozenset() if offload else frozenset(stored),
        offloaded=frozenset(stored) if offload else frozenset(),
        tp_gathers=gathers,
        tp_scatters=scatters,
    )


def distinct_policies(model: Model, policies: tuple[str, ...]) -> tuple[str, ...]:
    """`policies` without those whose plan on `model` equals an earlier one's (same work and
    memory), in order; e.g. for a flash model `minimal_with_context` differs from `minimal`,
    but `save_dot_except_mlpwi` equals `save_dot_except_mlp` (the MLP output is never read)."""
    seen: set[tuple] = set()
    out = []
    for p in policies:
        key = remat_plan(model, p).key()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return tuple(out)
