"""Remat policies as JAX runs them (tpusim/workloads/remat.py): invariants of the plans."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations

import pytest

from tpusim.workloads import load_workload
from tpusim.workloads.config import REMATS
from tpusim.workloads.remat import (
    MATMULS,
    OFFLOADED,
    POLICY_NAMES,
    distinct_policies,
    layer_graph,
    remat_plan,
)

MODELS = {
    "parallel-materialized": load_workload("maxtext-v4-22b").model,  # + qk norm, relative positions
    "parallel-mqa": load_workload("palm-540b").model,
    "serial-gqa-flash": load_workload("llama3-70b").model,
    "serial-gelu-flash": load_workload("gpt3-175b").model,
}


@pytest.fixture(params=sorted(MODELS))
def model(request):
    return MODELS[request.param]


def test_none_saves_every_residual_and_recomputes_nothing(model):
    plan = remat_plan(model, "none")
    assert plan.matmul_recompute == (0.0,) * 4 and plan.attention_recompute == 0
    assert not plan.recomputed and not plan.offloaded and plan.tp_collectives == 0
    # the backward reads every matmul's input: all saved (the layer input is kept apart)
    inputs = {n.inputs[0] for n in layer_graph(model) if n.op == "matmul"} - {"x"}
    assert inputs <= plan.saved


def test_full_recomputes_only_what_the_backward_reads(model):
    plan = remat_plan(model, "full")
    qkv, out, mlp_in, mlp_out = plan.matmul_recompute
    assert not plan.saved and qkv == mlp_in == 1.0 and plan.attention_recompute == 1.0
    assert mlp_out == 0.0  # the MLP output only feeds the residual add: dead, never recomputed
    # the out-projection is recomputed only in a serial block (its output feeds the second norm)
    assert out == (1.0 if model.block == "serial" else 0.0)
    # tensor-parallel collectives on the recompute path: 3 serial (gather, scatter, gather), 1 parallel
    assert plan.tp_collectives == (3 if model.block == "serial" else 1)


def test_the_mlp_down_projection_is_never_recomputed(model):
    for policy in REMATS:
        if policy != "palm":  # palm: the paper's fraction of every matmul
            assert remat_plan(model, policy).matmul_recompute[MATMULS.index("mlp_out")] == 0.0


def test_saving_more_never_recomputes_more(model):
    named = [p for p in REMATS if p != "palm" and POLICY_NAMES[p] is not None]
    for a, b in combinations(named, 2):
        sa, sb = set(POLICY_NAMES[a]), set(POLICY_NAMES[b])
        if sa == sb or not (sa <= sb or sb <= sa):
            continue
        small, big = (a, b) if sa <= sb else (b, a)
        ps, pb = remat_plan(model, small), remat_plan(model, big)
        assert pb.recomputed <= ps.recomputed
        assert all(x <= y for x, y in zip(pb.matmul_recompute, ps.matmul_recompute, strict=True))
        assert pb.attention_recompute <= ps.attention_recompute


def test_minimal_is_checkpoint_dots_and_context_saves_attention(model):
    minimal = remat_plan(model, "minimal")
    assert minimal.matmul_recompute == (0.0,) * 4  # every projection output saved
    assert minimal.attention_recompute == 1.0  # attention's own dots have batch dimensions
    ctx = remat_plan(model, "minimal_with_context")
    if model.attention == "flash":
        assert ctx.attention_recompute == 0.0  # output and log-sum-exp saved: no kernel rerun
    else:
        assert ctx.attention_recompute == 0.5  # P still recomputed (QK^T and softmax), not PV


def test_offloaded_policies_move_what_their_twins_save(model):
    for off, twin in (("minimal_offloaded", "minimal"), ("qkv_proj_offloaded", "save_qkv_proj")):
        a, b = remat_plan(model, off), remat_plan(model, twin)
        assert off in OFFLOADED and not a.saved and a.offloaded == b.saved
        assert a.matmul_recompute == b.matmul_recompute and a.recomputed == b.recomputed


def test_palm_keeps_the_papers_fraction(model):
    plan = remat_plan(model, "palm")
    assert plan.matmul_recompute == (0.75,) * 4 and plan.attention_recompute == 1.0
    assert not plan.saved  # PaLM sec. 4: one fully sharded activation (the layer input) per layer


def test_distinct_policies_drop_equal_plans():
    m = MODELS["serial-gqa-flash"]
    kept = distinct_policies(m, REMATS)
    # the MLP output is never read back, so saving it (mlpwo) changes nothing: the later equal
    # policy is dropped
    assert "save_dot_except_mlpwi" in kept and "save_dot_except_mlp" not in kept
    assert len({remat_plan(m, p).key() for p in kept}) == len(kept)
    assert {remat_plan(m, p).key() for p in kept} == {remat_plan(m, p).key() for p in REMATS}


def test_qk_norm_and_rotary_nodes_follow_the_model():
    m = MODELS["serial-gqa-flash"]
    names = {n.name for n in layer_graph(m)}
    assert "rot" in names and "qkn" not in names and "probs" not in names
    names = {n.name for n in layer_graph(replace(m, qk_norm=True, attention="materialized"))}
    assert {"rot", "qkn", "probs"} <= names
