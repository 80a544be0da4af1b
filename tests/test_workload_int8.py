"""int8 training (AQT) against Google's MLPerf Training v4.0 GPT-3 175B results on TPU v5p.

Source: github.com/mlcommons/training_results_v4.0, Google/benchmarks/gpt3/implementations/maxtext
(v5p-1024.sh, v5p-2048.sh, v5p-3072.sh: MaxText fork f586e43f, quantization=int8, flash
attention, per-device batch, sharding and remat below) and Google/results/cloud-tpu-v5p-*-maxtext/
gpt3/result_{0,1,2}.txt (MLPerf logs).

Derivation of the measured figure. The logs carry no step times; they carry block_start /
block_stop times around each evaluation interval. The fork runs eval_interval =
ceil(24567 / global batch) training steps per block, then evaluates 24567 sequences of 2048
tokens at eval_per_device_batch_size 1 (one sequence per chip per eval step) before logging
block_stop (train.py, mllog_utils.early_stop_check). So one block =
eval_interval x (training step) + ceil(24567 / chips) x (forward pass at one sequence per chip).
Median block time over the three runs' blocks: v5p-1024 (512 chips) 285.77 s, v5p-2048 (1024
chips) 141.76 s, v5p-3072 (1536 chips) 95.61 s (run-to-run spread < 0.5%).

The model's block = eval_interval x `step_time_s` + eval steps x `forward_time_s` of the same
sharding at the eval batch. Tolerance: 10% (int8 matmuls at the chip's int8 peak with their
quantisation traffic, and the collective-matmul overlap, both modelled from their mechanisms;
no constant of the model was set from these logs).
"""

from __future__ import annotations

import math

import pytest

from tpusim.validation import check, figure
from tpusim.validation.recipes import MLPERF_EVAL_SEQUENCES
from tpusim.workloads import Parallelism, estimate, load_workload
from tpusim.workloads.config import with_overrides

EVAL_SEQUENCES = 24567

# The published block times, sources and the 10% tolerance: tpusim/validation/published.py
# (`tpusim validate` reads the same rows); the recipe: tpusim.validation.recipes.mlperf_gpt3_block.
CASES = ["mlperf-gpt3-175b-int8-v5p-1024", "mlperf-gpt3-175b-int8-v5p-2048",
         "mlperf-gpt3-175b-int8-v5p-3072"]


@pytest.mark.parametrize("figure_id", CASES)
def test_mlperf_gpt3_block_time(figure_id):
    c = check(figure(figure_id))
    train, evaluation = c.measured.result
    assert train.fits_in_hbm and train.matmul_dtype == "int8"
    assert evaluation.tokens_per_step == train.chips * 2048  # one sequence per chip
    seqs = train.tokens_per_step // 2048
    block = (math.ceil(EVAL_SEQUENCES / seqs) * train.step_time_s
             + math.ceil(EVAL_SEQUENCES / train.chips) * evaluation.forward_time_s)
    assert c.measured.value == pytest.approx(block, rel=1e-12)
    assert c.figure.tolerance.kind == "rel" and c.figure.tolerance.value == 0.10
    assert c.within, (c.measured.value, c.figure.published)


def test_eval_set_size():
    assert MLPERF_EVAL_SEQUENCES == EVAL_SEQUENCES


def test_int8_uses_the_int8_peak():
    # v5p: int8 at 2x the bf16 rate; v4: the same rate, so int8 buys nothing there but costs the
    # quantisation traffic
    wl = load_workload("mlperf-gpt3-175b-v5p")
    par = Parallelism(fsdp=64, tensor=8)
    bf16 = estimate(with_overrides(wl, matmul_dtype="bf16"), parallelism=par)
    int8 = estimate(wl, parallelism=par)
    assert int8.breakdown["compute"] < 0.75 * bf16.breakdown["compute"]
    assert int8.breakdown["vector"] > bf16.breakdown["vector"]  # operand quantisation
    assert int8.step_time_s < bf16.step_time_s
    v4 = {"chip": "v4", "chips_per_slice": 512, "slice_shape": "8x8x8"}
    v4_bf16 = estimate(with_overrides(wl, matmul_dtype="bf16", **v4), parallelism=par)
    v4_int8 = estimate(with_overrides(wl, **v4), parallelism=par)
    assert v4_int8.step_time_s > v4_bf16.step_time_s
