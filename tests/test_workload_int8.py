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

from tpusim.workloads import Parallelism, estimate, load_workload
from tpusim.workloads.config import with_overrides

EVAL_SEQUENCES = 24567

CASES = [
    # chips, slice (systems/*.json), sequences, sharding, remat_policy, median block seconds
    pytest.param(512, "8x8x8", 2048, Parallelism(fsdp=64, tensor=8), "full", 285.77, id="v5p-1024"),
    pytest.param(1024, "8x8x16", 2048, Parallelism(data=8, fsdp=16, tensor=8),
                 "save_dot_except_logits_ffn1", 141.76, id="v5p-2048"),
    pytest.param(1536, "8x12x16", 3072, Parallelism(data=12, fsdp=16, tensor=8),
                 "save_dot_except_logits_ffn1", 95.61, id="v5p-3072"),
]


@pytest.mark.parametrize(("chips", "shape", "seqs", "par", "remat", "block_s"), CASES)
def test_mlperf_gpt3_block_time(chips, shape, seqs, par, remat, block_s):
    wl = with_overrides(load_workload("mlperf-gpt3-175b-v5p"), chips_per_slice=chips,
                        slice_shape=shape, global_batch_seqs=seqs, remat=remat)
    train = estimate(wl, parallelism=par)
    evaluation = estimate(wl, global_batch_seqs=chips, parallelism=par)
    assert train.fits_in_hbm and train.matmul_dtype == "int8"
    block = (math.ceil(EVAL_SEQUENCES / seqs) * train.step_time_s
             + math.ceil(EVAL_SEQUENCES / chips) * evaluation.forward_time_s)
    assert block == pytest.approx(block_s, rel=0.10)


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
