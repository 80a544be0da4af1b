"""Workload TOML loading and input checks (bad input -> TpusimError with a useful message)."""

from __future__ import annotations

import pytest

from tpusim.errors import TpusimError
from tpusim.workloads import estimate, load_workload
from tpusim.workloads.config import Parallelism

SHIPPED = ["palm-8b", "palm-62b", "palm-540b", "maxtext-v4-22b", "maxtext-v4-52b", "gpt3-175b"]

BASE = """
[model]
kind = "dense_llm"
layers = 4
d_model = 1024
heads = 8
head_dim = 128
kv_heads = 8
d_ff = 4096
vocab = 32000
seq_len = 1024
mlp = "swiglu"

[training]
global_batch_seqs = 64
remat = "full"
optimizer = "adam"
param_dtype = "bf16"

[system]
chip = "v4"
chips_per_slice = 64
slices = 1
"""


def write(tmp_path, text, name="w.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_workloads_load_and_estimate(name):
    wl = load_workload(name)
    est = estimate(wl)
    assert est.step_time_s > 0 and 0 < est.mfu < 1 and est.hfu >= est.mfu
    assert est.fits_in_hbm
    assert sum(est.breakdown.values()) == pytest.approx(est.step_time_s)


def test_path_and_bare_name_are_the_same_workload():
    assert load_workload("workloads/palm-540b.toml") == load_workload("palm-540b")


def test_defaults_for_optional_keys(tmp_path):
    wl = load_workload(write(tmp_path, BASE))
    assert wl.model.block == "serial" and wl.model.tie_embeddings and wl.model.attention == "flash"
    assert wl.parallelism is None  # absent: the estimate searches
    assert wl.training.async_all_gather


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("layers = 4", "layers = -4", "layers"),
        ("d_model = 1024", "d_model = 0", "d_model"),
        ('mlp = "swiglu"', 'mlp = "tanh"', "mlp"),
        ('remat = "full"', 'remat = "some"', "remat"),
        ("kv_heads = 8", "kv_heads = 3", "kv_heads"),
        ('chip = "v4"', "chip = 4", "chip"),
        ("[model]", "[modle]", "[model]"),
        ('remat = "full"', 'remat = "minimal_offload"', "minimal_offloaded"),  # did-you-mean
        ('remat = "full"', 'remat = "full"\nmatmul_dtype = "fp8"', "matmul_dtype"),
        ('remat = "full"', 'remat = "full"\noffload_optimiser = true', "offload_optimizer"),
        ("d_model = 1024", 'd_model = 1024\ncausal = "yes"', "causal"),
        ("d_model = 1024", 'd_model = 1024\nposition = "alibi"', "position"),
    ],
)
def test_bad_fields_are_rejected(tmp_path, old, new, needle):
    with pytest.raises(TpusimError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_workload(write(tmp_path, BASE.replace(old, new)))


def test_unknown_chip(tmp_path):
    wl = load_workload(write(tmp_path, BASE.replace('chip = "v4"', 'chip = "v9"')))
    with pytest.raises(TpusimError, match="unknown chip"):
        estimate(wl)


def test_malformed_toml(tmp_path):
    with pytest.raises(TpusimError, match="malformed TOML"):
        load_workload(write(tmp_path, BASE + "\n[[[broken"))


def test_missing_file():
    with pytest.raises(TpusimError, match="not found"):
        load_workload("no-such-workload")


@pytest.mark.parametrize(
    ("par", "needle"),
    [
        (Parallelism(data=1, fsdp=32, tensor=1), "chips per slice"),  # product != chips
        (Parallelism(data=1, fsdp=4, tensor=16), "heads"),  # tensor > heads
        (Parallelism(data=1, fsdp=64, tensor=1, microbatches=3), "microbatches"),
        (Parallelism(data=1, fsdp=16, tensor=1, pipeline=4, microbatches=2), "microbatches"),
        (Parallelism(data=1, fsdp=8, tensor=1, pipeline=8, microbatches=8), "layers"),
    ],
)
def test_bad_sharding(tmp_path, par, needle):
    wl = load_workload(write(tmp_path, BASE))
    with pytest.raises(TpusimError, match=needle):
        estimate(wl, parallelism=par)


def test_data_must_cover_the_slices(tmp_path):
    wl = load_workload(write(tmp_path, BASE))
    with pytest.raises(TpusimError, match="multiple of the 2 slices"):
        estimate(wl, slices=2, parallelism=Parallelism(data=1, fsdp=64))
    # data 2 inside one slice is in-slice data parallelism: legal
    assert estimate(wl, parallelism=Parallelism(data=2, fsdp=32)).parallelism["data"] == 2


def test_batch_not_divisible(tmp_path):
    wl = load_workload(write(tmp_path, BASE.replace("global_batch_seqs = 64", "global_batch_seqs = 50")))
    with pytest.raises(TpusimError, match="not divisible"):
        estimate(wl, parallelism=Parallelism(data=1, fsdp=64))


def test_fixed_axes_mapping(tmp_path):
    text = (
        BASE.replace("chips_per_slice = 64", "chips_per_slice = 128")
        + """
[parallelism]
fsdp = 16
tensor = 8
axes = {tensor = [2], fsdp = [0, 1]}
"""
    )
    est = estimate(load_workload(write(tmp_path, text)))
    assert est.slice_shape == "4x4x8"
    assert est.mapping["tensor"].startswith("z8")
    bad = text.replace("tensor = [2], fsdp = [0, 1]", "tensor = [0], fsdp = [1, 2]")
    with pytest.raises(TpusimError, match="axes.tensor"):
        estimate(load_workload(write(tmp_path, bad, "bad.toml")))


def test_bad_overrides():
    wl = load_workload("palm-540b")
    with pytest.raises(TpusimError, match="slices"):
        estimate(wl, slices=0)
    with pytest.raises(TpusimError, match="no legal v4 slice"):
        estimate(wl, chips_per_slice=100)
    with pytest.raises(TpusimError, match="exceed"):
        estimate(wl, chips_per_slice=8192)


def test_not_fitting_is_a_result_not_an_error(tmp_path):
    # 540B on 64 chips without sharding tricks cannot fit: reported, not raised
    wl = load_workload("palm-540b")
    est = estimate(
        wl, chips_per_slice=64, slices=1, global_batch_seqs=64, parallelism=Parallelism(data=1, fsdp=64)
    )
    assert not est.fits_in_hbm
    assert est.memory_per_chip_bytes > est.hbm_bytes
    assert est.memory_breakdown["params"] > 0
