"""The published figures the models are checked against: one table, read by `tpusim validate`
and by the validation tests (tests/test_workload_validation.py, test_workload_int8.py,
test_workload_flops.py, test_dlrm_model.py, test_dlrm_tables.py, test_planner_availability.py,
test_sim_palm.py, test_sim_literature.py), so the two cannot disagree.

Every number below is a published measurement (or a figure derived from one, the derivation
stated) used only to check the model; none is an input, and no model constant was set from one.
Each row: id, area, what it is, the published value and unit, the source, the tolerance, the
recipe that computes the model's value (tpusim/validation/recipes.py), and, for a figure the
model is known to miss, the reason. Tolerances are the ones the tests have always used; a known
miss stays a strict xfail in the tests.
"""

from __future__ import annotations

from tpusim.validation import recipes as r
from tpusim.validation.figure import Figure, absolute, bounds, margin, relative

AREAS = ("estimate", "embeddings", "plan", "simulate")

PALM = "PaLM (Chowdhery et al. 2022, arXiv:2204.02311)"
MAXTEXT_APRIL_2023 = ("AI-Hypercomputer/maxtext README at commit 281e04bf (2023-04-27), configs "
                      "1xv4-128.sh ... 4xv4-128.sh: scale 3, FSDP 64, per-device batch 16, remat "
                      "full, the 2023 model with query/key norms")
MAXTEXT_MARCH_2023 = ("AI-Hypercomputer/maxtext README at commit e286533d8 (2023-03-14, jax 0.4.6), "
                      "before query/key norms (added in a91860e9)")
MAXTEXT_V5P = ("AI-Hypercomputer/maxtext MaxText/configs/v5p/README.md at commit 76bd53b0f "
               "(2023-12-15), recipe configs/v5p/<size>.sh of that commit")
MAXTEXT_V5E = ("AI-Hypercomputer/maxtext README.md at commit 9bc243c95 (2023-10-27), recipe "
               "configs/largest_job/<size>.sh of that commit")
MLPERF_GPT3 = ("mlcommons/training_results_v4.0 Google/benchmarks/gpt3/implementations/maxtext "
               "(v5p-N.sh) and Google/results/cloud-tpu-v5p-N-maxtext/gpt3/result_{0,1,2}.txt: "
               "median block_start..block_stop time over the three runs")
TPU_V4 = "Jouppi et al., TPU v4, ISCA 2023 (arXiv:2304.01433), availability model"

V4_22B_APRIL = (0.567, 0.552, 0.543, 0.532)  # MFU on 1x, 2x, 4x, 8x v4-128
V4_22B_MARCH = (0.600, 0.574, 0.571)  # 1x, 2x, 4x v4-128

MAXTEXT_52B_MISS = (
    "model 65.2% against 56.0% (the same recipe on 2 slices: 64.0% against 58.9%, which the "
    "README calls a compiler quirk). Checked on the program JAX's SPMD partitioner compiles from "
    "layers.py/train.py of e286533d8 on 192 devices, and ruled out: fp32 weight all-gathers (bf16, "
    "cast on the shard), recompute beyond the model's (dot FLOPs per token 3.7395e11 = the "
    "model's), fp32 logits (compute-bound), the fp32 Adam update (10 ms); modelled: mask and relative "
    "bias reads, the softmax's exponential written and read back, the q/k/v rows the attention "
    "matmuls read and write, the bias-gradient all-reduce, fp32 layer-norm passes, bf16 gradient "
    "reductions. "
    "No documented mechanism found for the rest (docs/estimate.md, Validation)"
)
V5P_2023_MISS = "v5p README miss, no documented mechanism found (docs/estimate.md, Validation): "


def _estimate() -> list[Figure]:
    rows = [
        Figure("palm-540b-mfu", "estimate", "MFU", "PaLM 540B", "2 x 3072 v4 chips, batch 2048",
               "palm: 6N + 12LHQT", 0.462, "fraction", PALM + ", sec. 4.1 Table 3 / App. B",
               absolute(0.025), r.palm_540b_attribute("mfu")),
        Figure("palm-540b-hfu", "estimate", "HFU", "PaLM 540B", "2 x 3072 v4 chips, batch 2048",
               "analytic, with rematerialisation", 0.578, "fraction", PALM + ", App. B",
               absolute(0.03), r.palm_540b_attribute("hfu")),
        Figure("palm-540b-tokens-per-s", "estimate", "throughput", "PaLM 540B",
               "2 x 3072 v4 chips, batch 2048", "", 238.3e3, "tokens/s", PALM + ", sec. 4.1",
               relative(0.06), r.palm_540b_attribute("tokens_per_s")),
        Figure("palm-540b-two-pod-scaling", "estimate", "two pods / one pod throughput",
               "PaLM 540B", "2 x 3072 vs 3072 v4 chips", "weak scaling: batch 2048 vs 1024", 1.95,
               "x", PALM + ", sec. 4", absolute(0.03), r.palm_540b_two_pod_scaling),
    ]
    for n, mfu in zip((1, 2, 4, 8), V4_22B_APRIL, strict=True):
        rows.append(Figure(
            f"maxtext-v4-22b-{n}x", "estimate", "MFU", "MaxText 22B (April 2023)",
            f"{n}x v4-128 (64 chips per slice)", "params_only: 6 x N_total (train.py)", mfu,
            "fraction", MAXTEXT_APRIL_2023, absolute(0.03), r.maxtext_v4_mfu("maxtext-v4-22b", n)))
    for n, mfu in zip((2, 4, 8), V4_22B_APRIL[1:], strict=True):
        rows.append(Figure(
            f"maxtext-v4-22b-{n}x-over-1x", "estimate", "MFU, n slices relative to one",
            "MaxText 22B (April 2023)", f"{n}x v4-128, dcn_data_parallelism {n}",
            "published 1x MFU x the model's n-slice / 1-slice ratio", mfu, "fraction",
            MAXTEXT_APRIL_2023, absolute(0.01),
            r.maxtext_v4_scaling("maxtext-v4-22b", n, V4_22B_APRIL[0], qk_norm=True)))
    for n, mfu in zip((1, 2, 4), V4_22B_MARCH, strict=True):
        rows.append(Figure(
            f"maxtext-v4-22b-march-{n}x", "estimate", "MFU", "MaxText 22B (March 2023)",
            f"{n}x v4-128", "params_only: 6 x N_total", mfu, "fraction", MAXTEXT_MARCH_2023,
            absolute(0.03), r.maxtext_v4_mfu("maxtext-v4-22b", n, qk_norm=False)))
    for n, mfu in zip((2, 4), V4_22B_MARCH[1:], strict=True):
        rows.append(Figure(
            f"maxtext-v4-22b-march-{n}x-over-1x", "estimate", "MFU, n slices relative to one",
            "MaxText 22B (March 2023)", f"{n}x v4-128, dcn_data_parallelism {n}",
            "published 1x MFU x the model's n-slice / 1-slice ratio", mfu, "fraction",
            MAXTEXT_MARCH_2023, absolute(0.01),
            r.maxtext_v4_scaling("maxtext-v4-22b", n, V4_22B_MARCH[0], qk_norm=False)))
    rows.append(Figure(
        "maxtext-v4-52b-1x", "estimate", "MFU", "MaxText 52B (March 2023)",
        "1x v4-384 (192 chips), FSDP 192, per-device batch 10, remat full",
        "params_only: 6 x N_total", 0.560, "fraction",
        "AI-Hypercomputer/maxtext README, 52B row dated 2023-03-14 (commit e286533d8, unchanged "
        "at 281e04bf), 1xv4-384.sh: 154 TFLOP/s", absolute(0.04),
        r.maxtext_v4_mfu("maxtext-v4-52b", 1), known_miss=MAXTEXT_52B_MISS))
    # configs/v5p/<size>.sh at 76bd53b0f: (scale, per-device batch, chips (v5p-N = N/2 chips),
    # ici_tensor_parallelism (fsdp the rest), remat); README MFU on one slice
    v5p = [
        ("32b-v5p-128", (32, 8, 64, 4, "minimal"), 0.7147, None),
        ("64b-v5p-128", (64, 4, 64, 4, "minimal"), 0.7031, None),
        ("128b-v5p-256", (128, 2, 128, 8, "minimal"), 0.6868, None),
        ("128b-v5p-512", (128, 2, 256, 8, "minimal"), 0.6883, None),
        ("256b-v5p-1024", (256, 2, 512, 8, "minimal"), 0.6709, V5P_2023_MISS + "model 73.3% against 67.1%"),
        ("512b-v5p-1024", (512, 2, 512, 16, "full"), 0.6399,
         V5P_2023_MISS + "model 59.2% against 64.0% (tensor 16 on an 8x8x8 slice)"),
        ("1024b-v5p-2048", (1024, 2, 1024, 16, "full"), 0.5535,
         V5P_2023_MISS + "model 61.6% against 55.4% (the same per-chip program on v5p-4096 "
         "published 64.8%)"),
        ("1024b-v5p-4096", (1024, 2, 2048, 16, "full"), 0.6480, None),
    ]
    for name, recipe, mfu, miss in v5p:
        scale, per_device, chips, tensor, remat = recipe
        rows.append(Figure(
            f"maxtext-v5p-dec2023-{name}", "estimate", "MFU",
            f"MaxText {scale}B (December 2023 model)",
            f"{chips} v5p chips, tensor {tensor}, per-device batch {per_device}, remat {remat}",
            "causal: 6 x params + 6LHQT (calculate_training_tflops)", mfu, "fraction",
            MAXTEXT_V5P, absolute(0.04), r.maxtext_2023_mfu(recipe, "v5p", "causal"),
            known_miss=miss))
    # configs/largest_job/<size>.sh at 9bc243c95 (v5e-256: 256 chips), README 1x v5e-256
    v5e = [("16b", (16, 6, 256, 1, "full"), 0.6110), ("32b", (32, 4, 256, 1, "full"), 0.6686),
           ("64b", (64, 2, 256, 1, "full"), 0.5990), ("128b", (128, 1, 256, 16, "full"), 0.5606)]
    for name, recipe, mfu in v5e:
        scale, per_device, chips, tensor, remat = recipe
        rows.append(Figure(
            f"maxtext-v5e-oct2023-{name}", "estimate", "MFU", f"MaxText {scale}B (October 2023 model)",
            f"{chips} v5e chips, tensor {tensor}, per-device batch {per_device}, remat {remat}",
            "palm: 6 x params + 12LHQT", mfu, "fraction", MAXTEXT_V5E, absolute(0.04),
            r.maxtext_2023_mfu(recipe, "v5e", "palm")))
    # chips, slice (systems/*.json), sequences, (data, fsdp, tensor), remat_policy, block seconds
    mlperf = [("v5p-1024", 512, "8x8x8", 2048, (1, 64, 8), "full", 285.77),
              ("v5p-2048", 1024, "8x8x16", 2048, (8, 16, 8), "save_dot_except_logits_ffn1", 141.76),
              ("v5p-3072", 1536, "8x12x16", 3072, (12, 16, 8), "save_dot_except_logits_ffn1", 95.61)]
    for name, chips, shape, seqs, par, remat, block_s in mlperf:
        rows.append(Figure(
            f"mlperf-gpt3-175b-int8-{name}", "estimate", "block time (training steps + eval)",
            "GPT-3 175B, int8 (AQT)", f"{name}: {chips} chips ({shape}), batch {seqs}, "
            f"data {par[0]} x fsdp {par[1]} x tensor {par[2]}, remat {remat}",
            "ceil(24567 / batch) steps + ceil(24567 / chips) forward passes", block_s, "s",
            MLPERF_GPT3, relative(0.10), r.mlperf_gpt3_block(chips, shape, seqs, par, remat)))
    # PaLM Table 22 (App. B) and Table 1: 3 significant figures, tolerance 0.5%
    for name, tflops, remat_tflops, params_b in (("palm-8b", 0.0550, 0.0561, 8.63),
                                                 ("palm-62b", 0.388, 0.392, 62.50),
                                                 ("palm-540b", 3.28, 4.10, 540.35)):
        size = name.removeprefix("palm-").upper()
        rows += [
            Figure(f"{name}-flops-per-token", "estimate", "model FLOPs per token", f"PaLM {size}",
                   "-", "palm: 6N + 12LHQT", tflops * 1e12, "FLOPs/token",
                   PALM + ", App. B Table 22", relative(0.005), r.flops_per_token(name, hardware=False)),
            Figure(f"{name}-hardware-flops-per-token", "estimate", "FLOPs per token with remat",
                   f"PaLM {size}", "-", "materialised attention, PaLM's remat policy",
                   remat_tflops * 1e12, "FLOPs/token", PALM + ", App. B Table 22", relative(0.005),
                   r.flops_per_token(name, hardware=True)),
            Figure(f"{name}-parameters", "estimate", "parameters", f"PaLM {size}", "-", "",
                   params_b * 1e9, "parameters", PALM + ", Table 1", relative(0.005),
                   r.parameters(name)),
        ]
    return rows


def _embeddings() -> list[Figure]:
    dcnv2 = "mlcommons/training recommendation_v2/torchrec_dlrm/README.MD"
    v1 = "mlcommons/training_results_v1.0 Google run_and_time.sh (--vocab_sizes_embed)"
    return [
        Figure("dlrm-dcnv2-table-bytes", "embeddings", "embedding table bytes (fp32)",
               "DLRM DCNv2 (26 tables, dim 128)", "-", "204,184,588 rows x 128 x 4 B", 104.5e9,
               "bytes", dcnv2, absolute(0.05e9), r.dlrm_table_bytes("dlrm-dcnv2")),
        Figure("dlrm-mlperf-v1-table-bytes", "embeddings", "embedding table bytes (fp32)",
               "DLRM MLPerf v1.0 (26 one-hot tables)", "-", "187,767,399 rows x 128 x 4 B",
               96.14e9, "bytes", v1, absolute(0.01e9), r.dlrm_table_bytes("dlrm-mlperf-v1")),
        Figure("dlrm-mlperf-v1-dense-macs", "embeddings", "dense forward MACs per sample",
               "DLRM MLPerf v1.0", "-", "bottom MLP + dot interaction over 27 vectors + top MLP",
               2.46e6, "MACs/sample", v1, relative(0.005), r.dlrm_dense_macs("dlrm-mlperf-v1")),
        Figure("dlrm-dcnv2-dense-macs", "embeddings", "dense forward MACs per sample", "DLRM DCNv2",
               "-", "3 cross layers of rank 512 on x0 = 3456", 16.0e6, "MACs/sample", dcnv2,
               relative(0.005), r.dlrm_dense_macs("dlrm-dcnv2")),
        Figure("dlrm-mlperf-v1-step-time", "embeddings", "training step time",
               "DLRM MLPerf v1.0 (batch 55,296, SGD, 15 tables on SparseCores)",
               "tpu-v4-128 (64 v4 chips)",
               "2.48 s per training block of 3794 steps (evaluation alongside)", 0.654e-3, "s",
               "mlcommons/training_results_v1.0 Google/results/tpu-v4-128-TF/dlrm/result_0.txt",
               relative(0.35), r.dlrm_mlperf_v1_step),
        Figure("dlrm-sparsecore-over-host", "embeddings",
               "step time, tables in host memory / on SparseCores",
               "DLRM DCNv2 (public stand-in for the production DLRM0)", "128 v4 chips",
               "each placement with its best sharding; embedding-bound (>= 70% of the step)", 5.0,
               "x", "Jouppi et al., TPU v4, ISCA 2023 (arXiv:2304.01433), abstract and Fig. 9: "
               "5x-7x", bounds(3.0, 10.0), r.dlrm_sparsecore_over_host, published_high=7.0),
    ]


def _plan() -> list[Figure]:
    rows = []
    for p_host, published in ((0.990, 0.8515), (0.995, 0.9229), (0.999, 0.9841)):
        rows.append(Figure(
            f"v4-cube-availability-{p_host:.3f}", "plan", "cube availability p_host^16",
            "-", f"TPU v4 cube (16 hosts), host availability {p_host:.1%}", "", published,
            "probability", TPU_V4 + " (4 digits quoted)", absolute(5e-5),
            r.cube_availability(p_host)))
    rows.append(Figure(
        "v4-ocs-48-of-64-0.990", "plan", "P(>= 48 of 64 cubes healthy)", "-",
        "TPU v4 pod with OCS, host availability 99.0%", "", 0.989, "probability",
        TPU_V4 + " (3 digits quoted)", absolute(5e-4), r.p_at_least(64, 48, 0.990)))
    for p_host, published in ((0.990, 3.4e-5), (0.995, 5.9e-3), (0.999, 0.359)):
        rows.append(Figure(
            f"v4-full-pod-{p_host:.3f}", "plan", "P(all 64 cubes healthy)", "-",
            f"TPU v4 pod, host availability {p_host:.1%}", "both models: the full pod", published,
            "probability", TPU_V4, relative(0.02), r.p_at_least(64, 64, p_host)))
    rows.append(Figure(
        "ironwood-130-of-144", "plan", "cube availability for 130 of 144 cubes at 95%", "-",
        "Ironwood (TPU v7) pod of 144 cubes", "", 0.935, "probability",
        "Google Cloud blog 2026, 'Cluster-level reliability for trillion-parameter models on "
        "TPUs' (a weak source read through summaries)", absolute(0.003),
        r.cube_availability_for(144, 130, 0.95)))
    return rows


def _simulate() -> list[Figure]:
    return [
        Figure("palm-540b-e2e-chip-hours", "simulate", "ideal / used chip-hours",
               "PaLM 540B, published batch schedule (scenarios/palm-540b-e2e.toml)",
               "2 x 3072 v4 chips, Llama 3 failure profile, 4 replications",
               "published figure includes downtime not modelled: a lower bound; ceiling: the "
               "failure-free ratio", 0.67, "fraction",
               PALM + ", sec. 5 and App. B: 1200 h x 6144 + 336 h x 3072 chips against 2.56e24 "
               "FLOPs at 46.2% MFU", margin(4), r.palm_e2e_chip_hours()),
        Figure("llama3-runtime-goodput", "simulate", "runtime goodput (effective training time)",
               "Llama-3-like job, one interruption every 3.09 h", "16x16x16 v4 slice, 54 days, 8 "
               "replications", "published '>90%': a lower bound; spread: the 95% half-width",
               0.90, "fraction", "Llama 3 (arXiv:2407.21783), sec. 3.3", margin(2),
               r.llama3_runtime_goodput),
        Figure("gemini-persistent-goodput", "simulate", "runtime goodput, persistent checkpoints",
               "Gemini-like 4-pod job", "4 x 3072 v4 chips, 30 days, 6 replications", "", 0.85,
               "fraction", "Gemini (arXiv:2312.11805): 85% before in-memory replicas",
               absolute(0.05), r.gemini_runtime_goodput(False)),
        Figure("gemini-replica-goodput", "simulate", "runtime goodput, in-memory replica",
               "Gemini-like 4-pod job", "4 x 3072 v4 chips, 30 days, 6 replications", "", 0.97,
               "fraction", "Gemini (arXiv:2312.11805): 97% with in-memory replicas",
               bounds(0.95, 1.0), r.gemini_runtime_goodput(True)),
        Figure("gemini-replica-gain", "simulate", "runtime goodput gain of in-memory replicas",
               "Gemini-like 4-pod job", "4 x 3072 v4 chips, 30 days, 6 replications", "", 0.12,
               "fraction", "Gemini (arXiv:2312.11805): 85% to 97%", absolute(0.06), r.gemini_gain),
    ]


FIGURES: tuple[Figure, ...] = (*_estimate(), *_embeddings(), *_plan(), *_simulate())
