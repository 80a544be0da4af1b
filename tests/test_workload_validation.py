"""The model against published training throughput and memory.

Every number below is a published measurement used only to check the model; none is an input.
One set of efficiency constants (topologies/efficiency.toml) serves every case. Each published
MFU is compared in the convention of its table (`Estimate.mfu_by_convention`, flops.py).
"""

from __future__ import annotations

import math

import pytest

from tpusim.workloads import Parallelism, estimate, load_workload
from tpusim.workloads.config import Model, System, Training, Workload


@pytest.fixture(scope="module")
def palm():
    return estimate(load_workload("palm-540b"))


def test_palm_540b_mfu(palm):
    # PaLM (arXiv:2204.02311) sec. 4.1 Table 3 / App. B: MFU 46.2% counting 6N + 12LHQT (the
    # `palm` convention, also the top-level `mfu`). Tolerance: 2.5 points.
    assert palm.mfu == palm.mfu_by_convention["palm"]
    assert palm.mfu == pytest.approx(0.462, abs=0.025)


def test_palm_540b_hfu(palm):
    # PaLM App. B: HFU 57.8% (analytic, including rematerialisation). Tolerance: 3 points.
    assert palm.hfu == pytest.approx(0.578, abs=0.03)


def test_palm_540b_tokens_per_s(palm):
    # PaLM sec. 4.1: 238.3K tokens/s at batch 2048 on 6144 TPU v4 chips. Tolerance: 6%.
    assert palm.tokens_per_s == pytest.approx(238.3e3, rel=0.06)


def test_palm_540b_two_slice_scaling(palm):
    # PaLM sec. 4: two pods give ~1.95x the throughput of one pod (weak scaling: the batch
    # doubles with the second pod). Tolerance: 0.03.
    one = estimate(load_workload("palm-540b"), slices=1, global_batch_seqs=1024)
    assert palm.tokens_per_s / one.tokens_per_s == pytest.approx(1.95, abs=0.03)


def test_palm_540b_as_trained_layout(palm):
    # 2 x 3072 chips; 12-way model parallel x 256-way FSDP; fits in 32 GiB HBM
    assert palm.slice_shape == "12x16x16" and palm.fits_in_hbm
    assert palm.mapping["tensor"] == "x12(ring)"


def _maxtext_v4(name: str, slices: int):
    wl = load_workload(name)
    return estimate(wl, slices=slices, global_batch_seqs=wl.training.global_batch_seqs * slices)


@pytest.mark.parametrize(
    ("slices", "mfu"),
    [(1, 0.567), (2, 0.552), (4, 0.543), (8, 0.532)],
)
def test_maxtext_v4_22b(slices, mfu):
    # AI-Hypercomputer/maxtext README at commit 281e04bf (2023-04-27): 22B (configs 1xv4-128.sh
    # ... 4xv4-128.sh: scale 3, FSDP 64, per-device batch 16, remat full, 2023 model with
    # query/key norms), 1x..8x v4-128 (64 chips per slice): 56.7 / 55.2 / 54.3 / 53.2% MFU, counted
    # as 6 x N_total x tokens/s / peak (train.py of that commit: `params_only`).
    # Tolerance: 3 points (issue 12).
    est = _maxtext_v4("maxtext-v4-22b", slices)
    assert est.fits_in_hbm
    assert est.mfu_by_convention["params_only"] == pytest.approx(mfu, abs=0.03)


@pytest.mark.parametrize(
    ("qk_norm", "published"),
    [(True, (0.567, 0.552, 0.543, 0.532)), (False, (0.600, 0.574, 0.571))],
)
def test_maxtext_v4_22b_slice_scaling(qk_norm, published):
    # The same READMEs (281e04bf with query/key norms, 1x..8x; e286533d8 without, 1x..4x): the
    # MFU on n slices relative to one slice (dcn_data_parallelism n, the gradient exchange over the
    # data-center network). Checked as n-slice MFU = published 1x MFU x the model's ratio.
    # Tolerance: 1 point.
    from dataclasses import replace

    wl = load_workload("maxtext-v4-22b")
    wl = replace(wl, model=replace(wl.model, qk_norm=qk_norm))
    mfu = [estimate(wl, slices=n, global_batch_seqs=wl.training.global_batch_seqs * n)
           .mfu_by_convention["params_only"] for n in (1, 2, 4, 8)[: len(published)]]
    for n_mfu, pub in zip(mfu[1:], published[1:], strict=True):
        assert published[0] * n_mfu / mfu[0] == pytest.approx(pub, abs=0.01)


@pytest.mark.parametrize(("slices", "mfu"), [(1, 0.600), (2, 0.574), (4, 0.571)])
def test_maxtext_v4_22b_before_query_key_norms(slices, mfu):
    # The same README at commit e286533d8 (2023-03-14, jax 0.4.6), before query/key norms were
    # added (commit a91860e9): 60.0 / 57.4 / 57.1% MFU (6 N_total) on 1x / 2x / 4x v4-128.
    # Tolerance: 3 points.
    wl = load_workload("maxtext-v4-22b")
    from dataclasses import replace

    wl = replace(wl, model=replace(wl.model, qk_norm=False))
    est = estimate(wl, slices=slices, global_batch_seqs=wl.training.global_batch_seqs * slices)
    assert est.mfu_by_convention["params_only"] == pytest.approx(mfu, abs=0.03)


@pytest.mark.xfail(
    strict=True,
    reason="model 65.2% against 56.0% (the same recipe on 2 slices: 64.0% against 58.9%, which the "
    "README calls a compiler quirk). Checked on the program JAX's SPMD partitioner compiles from "
    "layers.py/train.py of e286533d8 on 192 devices, and ruled out: fp32 weight all-gathers (bf16, "
    "cast on the shard), recompute beyond the model's (dot FLOPs per token 3.7395e11 = the "
    "model's), fp32 logits (compute-bound), the fp32 Adam update (10 ms); modelled: mask and relative "
    "bias reads, the softmax's exponential written and read back, the q/k/v rows the attention "
    "matmuls read and write, the bias-gradient all-reduce, fp32 layer-norm passes, bf16 gradient "
    "reductions. "
    "No documented mechanism found for the rest (docs/estimate.md, Validation)",
)
def test_maxtext_v4_52b():
    # MaxText README (52B row dated 2023-03-14, commit e286533d8, unchanged at 281e04bf):
    # 1xv4-384.sh, FSDP 192, per-device batch 10, remat full: 154 TFLOP/s = 56.0% (6 N_total).
    # Tolerance: 4 points (issue 12).
    est = estimate(load_workload("maxtext-v4-52b"))
    assert est.mfu_by_convention["params_only"] == pytest.approx(0.560, abs=0.04)


@pytest.mark.parametrize("name", ["maxtext-v4-22b", "maxtext-v4-52b"])
def test_maxtext_v4_within_the_models_known_error(name):
    # Regression guard while the cases above miss issue 12's tolerance: the model stays within
    # 10 points of the published 1x figures (22B 56.7%, 52B 56.0%), above them.
    published = {"maxtext-v4-22b": 0.567, "maxtext-v4-52b": 0.560}[name]
    got = _maxtext_v4(name, 1).mfu_by_convention["params_only"]
    assert published < got < published + 0.10


# ---- memory at the edge -------------------------------------------------------------------

def _maxtext_llama(scale: int, per_device: int, chips: int, tensor: int, remat: str, chip: str) -> Workload:
    """A MaxText recipe of the MLPerf v4.0 fork's configs/v5p and v5e (base llama2 decoder,
    global_parameter_scale `scale`: pyconfig.get_individual_scales)."""
    base, rem = divmod(int(math.log2(scale)), 3)
    heads = base + int(rem > 0)
    emb = base + int(rem > 1)
    model = Model(layers=16 * 2**base, d_model=2048 * 2**emb, heads=16 * 2**heads, head_dim=128,
                  kv_heads=16 * 2**heads, d_ff=7168 * 2**heads, vocab=32000, seq_len=2048,
                  mlp="swiglu", block="serial", tie_embeddings=False, attention="flash")
    return Workload(
        name=f"maxtext-{scale}b-{chip}", model=model,
        training=Training(global_batch_seqs=per_device * chips, remat=remat, optimizer="adam",
                          param_dtype="fp32"),
        system=System(chip=chip, chips_per_slice=chips),
        parallelism=Parallelism(fsdp=chips // tensor, tensor=tensor),
    )


@pytest.mark.parametrize(
    "wl",
    [
        pytest.param(load_workload("maxtext-v4-22b"), id="maxtext-v4-22b"),
        pytest.param(load_workload("maxtext-v4-52b"), id="maxtext-v4-52b"),
        pytest.param(load_workload("palm-540b"), id="palm-540b"),
        pytest.param(load_workload("mlperf-gpt3-175b-v5p"), id="mlperf-gpt3-v5p-1024"),
        # configs/v5p/32b.sh, 64b.sh: per-device batch 6 / 3, tensor 4, remat minimal, 64 chips
        pytest.param(_maxtext_llama(32, 6, 64, 4, "minimal", "v5p"), id="maxtext-v5p-32b"),
        pytest.param(_maxtext_llama(64, 3, 64, 4, "minimal", "v5p"), id="maxtext-v5p-64b"),
        # configs/v5e/16b.sh: per-device batch 6, FSDP 256, remat full
        pytest.param(_maxtext_llama(16, 6, 256, 1, "full", "v5e"), id="maxtext-v5e-16b"),
    ],
)
def test_configurations_that_ran_fit(wl):
    # Published runs (PaLM sec. 4; MaxText READMEs; MLPerf v4.0 logs) fit in HBM: 32 GiB v4,
    # 95 GiB v5p, 16 GiB v5e. docs/estimate.md lists each one's headroom.
    est = estimate(wl)
    assert est.fits_in_hbm, f"{est.memory_per_chip_bytes / 2**30:.1f} GiB"


@pytest.mark.parametrize(
    ("wl", "remat"),
    [
        (load_workload("maxtext-v4-22b"), "none"),
        (load_workload("maxtext-v4-52b"), "minimal"),
        (_maxtext_llama(32, 6, 64, 4, "none", "v5p"), "none"),
    ],
)
def test_impossible_configurations_do_not_fit(wl, remat):
    # Saving every residual of 48 layers at 16K tokens per chip (22B), or the projection outputs
    # of the 52B at 10K tokens, or every residual of the v5p 32B at 49K tokens per fsdp shard
    # does not fit, by more than the 10% the memory estimate may be off.
    est = estimate(wl, remat=remat)
    assert est.memory_per_chip_bytes > 1.1 * est.hbm_bytes


# ---- MaxText v5p (December 2023) and v5e (October 2023) README tables ----------------------
#
# The tables were measured on the code of their date, not on the later llama2 default: the v5p
# table entered MaxText/configs/v5p/README.md at commit 76bd53b0f (2023-12-15) and was never
# changed (the MLPerf v4.0 fork carries it unchanged); the v5e table entered README.md at commit
# 9bc243c95 (2023-10-27). Both predate the llama2 default of base.yml (3b2ac8113, 2024-02-14),
# and the recipes' per-device batches and the 512B tensor degree changed after them (e301755d4,
# 7081e2c0c). The model at those dates (configs/base.yml, layers.py / layers/models.py): base
# emb 2560, 8 heads of 256, mlp 8192 (one ReLU matrix), 16 layers, scaled by
# global_parameter_scale (pyconfig.get_individual_scales); parallel block; logits through the
# shared embedding, vocab 32768; sequence 2048; fp32 weights, AdamW; flash attention.
#   v5p (76bd53b0f): RoPE, RMS norms on queries, keys and values (the value norm is not modelled:
#   about 0.3% of a step), causal flash. MFU as train.py's calculate_training_tflops of that
#   commit: 6 x params + 6 LHQT (`causal`).
#   v5e (9bc243c95): no position encoding reaches the flash kernel (the relative biases are
#   computed but not passed to it), no query/key norms on the flash path, flash with
#   causal=False. MFU: 6 x params + 12 LHQT (`palm`).
# The recipes (LIBTPU_INIT_ARGS) enable asynchronous, continuation-fused all-gathers
# (--xla_enable_async_all_gather, --xla_tpu_enable_async_collective_fusion(_fuse_all_gather,
# _multiple_steps), --xla_tpu_overlap_compute_collective_tc) and the DCN data-parallel
# all-reduce optimisation, but not the reduce-scatter fusion (no
# --xla_tpu_enable_async_collective_fusion_fuse_reduce_scatter / --xla_enable_async_reduce_scatter
# _fusion): `async_reduce_scatter` stays false. Tolerance: 4 points (issue 12).

def _maxtext_2023(scale: int, per_device: int, chips: int, tensor: int, remat: str, chip: str) -> Workload:
    """A MaxText recipe on the 2023 default model (v5p: December, v5e: October; above)."""
    base, rem = divmod(int(math.log2(scale)), 3)
    heads = base + int(rem > 0)
    emb = base + int(rem > 1)
    december = chip == "v5p"
    model = Model(layers=16 * 2**base, d_model=2560 * 2**emb, heads=8 * 2**heads, head_dim=256,
                  kv_heads=8 * 2**heads, d_ff=8192 * 2**heads, vocab=32768, seq_len=2048, mlp="relu",
                  block="parallel", tie_embeddings=True, attention="flash",
                  position="rope" if december else "learned", causal=december, qk_norm=december)
    return Workload(
        name=f"maxtext-2023-{scale}b-{chip}", model=model,
        training=Training(global_batch_seqs=per_device * chips, remat=remat, optimizer="adam",
                          param_dtype="fp32"),
        system=System(chip=chip, chips_per_slice=chips),
        parallelism=Parallelism(fsdp=chips // tensor, tensor=tensor),
    )


_V5P_2023 = "v5p README miss, no documented mechanism found (docs/estimate.md, Validation): "


@pytest.mark.parametrize(
    ("recipe", "published"),
    [
        # configs/v5p/<size>.sh at 76bd53b0f: scale, per-device batch, chips (v5p-N = N/2 chips),
        # ici_tensor_parallelism (fsdp the rest), remat; README MFU on one slice
        pytest.param((32, 8, 64, 4, "minimal"), 0.7147, id="v5p-32b-v5p-128"),
        pytest.param((64, 4, 64, 4, "minimal"), 0.7031, id="v5p-64b-v5p-128"),
        pytest.param((128, 2, 128, 8, "minimal"), 0.6868, id="v5p-128b-v5p-256"),
        pytest.param((128, 2, 256, 8, "minimal"), 0.6883, id="v5p-128b-v5p-512"),
        pytest.param((256, 2, 512, 8, "minimal"), 0.6709, id="v5p-256b-v5p-1024", marks=pytest.mark.xfail(
            strict=True, reason=_V5P_2023 + "model 73.3% against 67.1%")),
        pytest.param((512, 2, 512, 16, "full"), 0.6399, id="v5p-512b-v5p-1024", marks=pytest.mark.xfail(
            strict=True, reason=_V5P_2023 + "model 59.2% against 64.0% (tensor 16 on an 8x8x8 slice)")),
        pytest.param((1024, 2, 1024, 16, "full"), 0.5535, id="v5p-1024b-v5p-2048", marks=pytest.mark.xfail(
            strict=True, reason=_V5P_2023 + "model 61.6% against 55.4% (the same per-chip program "
            "on v5p-4096 published 64.8%)")),
        pytest.param((1024, 2, 2048, 16, "full"), 0.6480, id="v5p-1024b-v5p-4096"),
    ],
)
def test_maxtext_v5p_december_2023(recipe, published):
    est = estimate(_maxtext_2023(*recipe, "v5p"))
    assert est.fits_in_hbm
    assert est.mfu_by_convention["causal"] == pytest.approx(published, abs=0.04)


@pytest.mark.parametrize(
    ("recipe", "published"),
    [
        # configs/largest_job/<size>.sh at 9bc243c95 (v5e-256: 256 chips), README 1x v5e-256
        pytest.param((16, 6, 256, 1, "full"), 0.6110, id="v5e-16b"),
        pytest.param((32, 4, 256, 1, "full"), 0.6686, id="v5e-32b"),
        pytest.param((64, 2, 256, 1, "full"), 0.5990, id="v5e-64b"),
        pytest.param((128, 1, 256, 16, "full"), 0.5606, id="v5e-128b"),  # fsdp 16 x tensor 16
    ],
)
def test_maxtext_v5e_october_2023(recipe, published):
    est = estimate(_maxtext_2023(*recipe, "v5e"))
    assert est.fits_in_hbm
    assert est.mfu_by_convention["palm"] == pytest.approx(published, abs=0.04)
