"""Monotonic sanity of the step model (issue 4): physics that must hold whatever the constants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tpusim.hardware import load_chip
from tpusim.workloads import Parallelism, estimate, load_workload
from tpusim.workloads.config import with_overrides
from tpusim.workloads.efficiency import load_efficiency
from tpusim.workloads.mapping import mapping_candidates
from tpusim.workloads.remat import remat_plan
from tpusim.workloads.sharding import comm_params, in_slice_sizes, step_inputs
from tpusim.workloads.step import evaluate, plan_columns

REPO = Path(__file__).resolve().parent.parent


def _chip_file(tmp_path, factor: float) -> str:
    text = (REPO / "topologies" / "chip-v4.toml").read_text()
    text = text.replace(
        "ici_link_one_way_bytes_per_s = 4.5e10", f"ici_link_one_way_bytes_per_s = {4.5e10 * factor}"
    )
    path = tmp_path / f"chip-v4-x{factor}.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name", ["palm-540b", "maxtext-v4-22b", "gpt3-175b"])
def test_more_link_bandwidth_never_slows_a_step(tmp_path, name):
    wl = load_workload(name)
    base = estimate(wl)
    par = Parallelism(**dict(base.parallelism.items()))
    wl = with_overrides(wl, remat=base.remat)
    times = [
        estimate(wl, chip=_chip_file(tmp_path, f), parallelism=par).step_time_s for f in (0.5, 1.0, 2.0, 4.0)
    ]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(times, times[1:], strict=False))
    assert times[0] > times[-1]  # links matter for these shardings


def _step(wl, par, shape, wrap):
    chip = load_chip("v4")
    eff = load_efficiency()
    maps = mapping_candidates(
        shape,
        wrap,
        in_slice_sizes(par, wl.system.slices),
        chip.ici_link_one_way_bytes_per_s,
        chip.ici_hop_latency_s,
        eff.ici_link_fraction,
    )
    plan = plan_columns([remat_plan(wl.model, wl.training.remat)], [False], 1)
    res = evaluate(
        step_inputs(wl, chip),
        par.tensor,
        par.fsdp,
        par.data // wl.system.slices,
        par.pipeline,
        par.microbatches,
        plan,
        comm_params(maps, chip, eff.ici_link_fraction),
    )
    return float(np.min(res["step_time_s"]))


@pytest.mark.parametrize(("tensor", "fsdp"), [(1, 128), (4, 32), (8, 16), (16, 8)])
def test_wraparound_never_slower(tensor, fsdp):
    wl = with_overrides(load_workload("maxtext-v4-22b"), chips_per_slice=128, global_batch_seqs=128)
    par = Parallelism(data=1, fsdp=fsdp, tensor=tensor)
    ring = _step(wl, par, (4, 4, 8), (True, True, True))
    line = _step(wl, par, (4, 4, 8), (False, False, False))
    assert ring <= line


@pytest.mark.parametrize("name", ["maxtext-v4-22b", "palm-540b"])
def test_more_chips_at_fixed_per_chip_batch_never_raise_mfu(name):
    # weak scaling: the model-parallel layout of one replica stays, replicas are added inside
    # the slice (data over ICI) or as more slices (data over DCN), the batch grows with them
    wl = load_workload(name)
    base = estimate(wl)
    seqs_per_replica = wl.training.global_batch_seqs // base.parallelism["data"]
    par = base.parallelism
    mfus = []
    for slices in (1, 2, 4, 8):
        est = estimate(
            wl,
            slices=slices,
            global_batch_seqs=seqs_per_replica * slices,
            parallelism=Parallelism(data=slices, fsdp=par["fsdp"], tensor=par["tensor"]),
        )
        mfus.append(est.mfu)
    assert all(b <= a + 1e-12 for a, b in zip(mfus, mfus[1:], strict=False)), mfus
    if name == "maxtext-v4-22b":  # replicas inside a bigger slice, then across slices
        mfus = []
        for chips, slices in ((64, 1), (128, 1), (256, 1), (256, 2)):
            replicas = chips // 64 * slices
            est = estimate(
                wl,
                chips_per_slice=chips,
                slices=slices,
                global_batch_seqs=seqs_per_replica * replicas,
                parallelism=Parallelism(data=replicas, fsdp=64),
            )
            mfus.append(est.mfu)
        assert all(b <= a + 1e-12 for a, b in zip(mfus, mfus[1:], strict=False)), mfus


def test_remat_trades_memory_for_time():
    # saving less costs more recompute time and less memory: none < minimal < full in time, the
    # reverse in memory. PaLM's fraction (palm, 75% of every dense matmul) is slower than JAX's
    # full remat on this parallel block (which recomputes only qkv and the MLP input, 58% of the
    # dense forward) and saves the same (the layer input only, PaLM sec. 4).
    wl = load_workload("maxtext-v4-22b")
    par = Parallelism(fsdp=64)
    ests = {r: estimate(wl, remat=r, parallelism=par) for r in ("none", "minimal", "full", "palm")}
    t = {r: e.step_time_s for r, e in ests.items()}
    mem = {r: e.memory_breakdown["activations"] for r, e in ests.items()}
    assert t["none"] < t["minimal"] < t["full"] < t["palm"]
    assert mem["none"] > mem["minimal"] > mem["full"] == mem["palm"]


def test_pipeline_bubble_shrinks_with_microbatches():
    wl = with_overrides(load_workload("gpt3-175b"), global_batch_seqs=1536)
    bubbles = []
    for mb in (4, 8, 16):
        est = estimate(wl, parallelism=Parallelism(data=1, fsdp=32, tensor=8, pipeline=4, microbatches=mb))
        bubbles.append(est.breakdown["pipeline_bubble"] / est.step_time_s)
    assert bubbles[0] > bubbles[1] > bubbles[2] > 0


def test_dcn_only_with_several_slices():
    wl = load_workload("palm-540b")
    assert estimate(wl).breakdown["dcn"] > 0
    assert estimate(wl, slices=1, global_batch_seqs=1024).breakdown["dcn"] == 0


def test_mxu_padding_costs_efficiency(tmp_path):
    # d_ff = 24576 fills 128-wide MXU tiles; 24600 pads to 24704 -> lower hardware efficiency
    text = (REPO / "workloads" / "maxtext-v4-22b.toml").read_text()
    padded = tmp_path / "padded.toml"
    padded.write_text(text.replace("d_ff = 24576", "d_ff = 24600"))
    base = estimate(load_workload("maxtext-v4-22b"))
    worse = estimate(load_workload(padded))
    assert worse.hfu < base.hfu


def test_memory_scales_with_sharding_and_optimizer():
    wl = load_workload("maxtext-v4-22b")
    a = estimate(wl, chips_per_slice=64, parallelism=Parallelism(fsdp=64))
    b = estimate(wl, chips_per_slice=128, global_batch_seqs=2048, parallelism=Parallelism(fsdp=128))
    assert b.memory_breakdown["params"] == pytest.approx(a.memory_breakdown["params"] / 2)
    assert b.memory_breakdown["activations"] == pytest.approx(a.memory_breakdown["activations"])
    # adam keeps two fp32 moments per parameter: 2x the fp32 weights
    assert a.memory_breakdown["optimizer_state"] == pytest.approx(2 * a.memory_breakdown["params"])



def test_query_key_norm_traffic_exact():
    # Query/key layer norms under `full` remat (recomputed in the backward): per token and layer,
    # 3 passes over q and k in the forward, 3 again in the recompute, 7 in the backward (step.py),
    # bf16. 22B on one v4-128: q and k are 24 x 256 = 6144 elements each, 16 x 1024 tokens per chip.
    wl = load_workload("maxtext-v4-22b")
    with_norms = estimate(wl)
    without = estimate(replace(wl, model=replace(wl.model, qk_norm=False)))
    passes, bytes_el, elements, tokens, layers = 3 + 3 + 7, 2, 2 * 6144, 16 * 1024, 48
    hbm = load_chip("v4").hbm_bytes_per_s * load_efficiency().hbm_fraction
    expected = passes * bytes_el * elements * tokens * layers / hbm
    got = with_norms.breakdown["vector"] - without.breakdown["vector"]
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("slices", [1, 2])
def test_attention_bias_costs_time(slices):
    # Materialised attention with T5 relative positions reads the [heads, T, T] bias with every
    # score and all-reduces its gradient in each layer's backward (in the slice, and over DCN
    # between slices): slower than the same model with learned positions.
    wl = load_workload("maxtext-v4-22b")
    kw = {"slices": slices, "global_batch_seqs": wl.training.global_batch_seqs * slices}
    rel = estimate(wl, **kw)
    learned = estimate(replace(wl, model=replace(wl.model, position="learned")), **kw)
    assert rel.breakdown["compute"] > learned.breakdown["compute"]
    assert rel.breakdown["fsdp_collectives"] > learned.breakdown["fsdp_collectives"]
    assert (rel.breakdown["dcn"] > learned.breakdown["dcn"]) == (slices > 1)


def _with_async_reduce_scatter(wl, on: bool):
    return replace(wl, training=replace(wl.training, async_reduce_scatter=on))


@pytest.mark.parametrize(
    ("name", "par"),
    [
        ("maxtext-v4-22b", None),  # FSDP 64, reduce-scatters partly hidden
        ("gpt3-175b", Parallelism(fsdp=256, tensor=4)),
        ("palm-540b", None),  # synchronous all-gathers: only the reduce-scatters overlap
        ("mlperf-gpt3-175b-v5p", Parallelism(fsdp=64, tensor=8)),
        ("gpt3-175b", Parallelism(fsdp=256, tensor=4, microbatches=2)),  # gradient accumulation
    ],
)
def test_async_reduce_scatter_never_slows_a_step(name, par):
    # overlapping the gradient reduce-scatters with the next layer's backward can only hide
    # time: the window is shared with the weight gather, never counted twice
    wl = load_workload(name)
    off = estimate(_with_async_reduce_scatter(wl, False), parallelism=par)
    on = estimate(_with_async_reduce_scatter(wl, True), parallelism=par)
    assert on.step_time_s <= off.step_time_s * (1 + 1e-12)
    assert on.breakdown["fsdp_collectives"] < off.breakdown["fsdp_collectives"]
    for key in set(on.breakdown) - {"fsdp_collectives"}:
        assert on.breakdown[key] == pytest.approx(off.breakdown[key], rel=1e-12)
    # the last reduce-scatter of the backward pass has nothing to hide behind
    assert on.breakdown["fsdp_collectives"] > 0
    assert on.forward_time_s == pytest.approx(off.forward_time_s, rel=1e-12)


@pytest.mark.parametrize(
    "par", [Parallelism(), Parallelism(tensor=8), Parallelism(data=8)], ids=["1-chip", "tensor", "data"]
)
def test_async_reduce_scatter_changes_nothing_without_fsdp(par):
    # no FSDP axis (one chip, or only tensor / data parallelism): no gradient reduce-scatter
    wl = with_overrides(load_workload("palm-8b"), chip="v5e", chips_per_slice=par.chips, global_batch_seqs=16)
    off = estimate(_with_async_reduce_scatter(wl, False), parallelism=par)
    on = estimate(_with_async_reduce_scatter(wl, True), parallelism=par)
    assert on.step_time_s == off.step_time_s
    assert on.breakdown == off.breakdown
