"""Host offload: saved activations (MaxText's *_offloaded remat policies) and optimizer state in
host memory over the chip's PCIe link (rate in the chip TOML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tpusim.workloads import Parallelism, estimate, load_workload
from tpusim.workloads.config import with_overrides
from tpusim.workloads.remat import OFFLOADED
from tpusim.workloads.search import search

REPO = Path(__file__).resolve().parent.parent
PAR = Parallelism(fsdp=64)


@pytest.fixture(scope="module")
def pair():
    wl = load_workload("maxtext-v4-22b")
    return (estimate(wl, remat="minimal", parallelism=PAR),
            estimate(wl, remat="minimal_offloaded", parallelism=PAR))


def test_offloaded_activations_leave_hbm(pair):
    kept, moved = pair
    layers = load_workload("maxtext-v4-22b").model.layers
    saved = kept.memory_breakdown["activations"]
    # the host holds what minimal keeps in HBM beyond the layer inputs (the scan carry, bf16 d per
    # token, 16K tokens a chip); two layers' worth stays in HBM (one in transfer, one in use)
    inputs = layers * 2 * 6144 * 16 * 1024
    host = saved - inputs
    assert moved.host_memory_per_chip_bytes == pytest.approx(host, rel=1e-9)
    assert moved.memory_breakdown["activations"] == pytest.approx(inputs + 2 * host / layers, rel=1e-9)
    assert kept.host_memory_per_chip_bytes == 0
    # the same recompute; transfers only add time
    assert moved.breakdown["remat"] == kept.breakdown["remat"]
    assert moved.step_time_s >= kept.step_time_s


def _chip_with_pcie(tmp_path, rate: float) -> str:
    text = (REPO / "topologies" / "chip-v4.toml").read_text()
    text = text.replace("pcie_bytes_per_s = 1.6e10", f"pcie_bytes_per_s = {rate}")
    path = tmp_path / f"chip-v4-pcie{rate:g}.toml"
    path.write_text(text)
    return str(path)


def test_transfers_are_exposed_only_beyond_the_layers_work(tmp_path):
    wl = with_overrides(load_workload("maxtext-v4-22b"), remat="minimal_offloaded")
    times = {rate: estimate(wl, chip=_chip_with_pcie(tmp_path, rate), parallelism=PAR)
             for rate in (1e9, 4e9, 1.6e10, 1e12)}
    exposed = [times[r].breakdown["host_offload"] for r in sorted(times)]
    assert exposed[0] > exposed[1] > 0  # a slow host link cannot keep up with the layers
    assert exposed[-1] == 0  # a fast one is hidden behind the layer's forward and backward
    assert all(a >= b for a, b in zip(exposed, exposed[1:], strict=False))


def test_optimizer_state_offload():
    wl = load_workload("maxtext-v4-22b")
    kept = estimate(wl, parallelism=PAR)
    moved = estimate(with_overrides(wl, offload_optimizer=True), parallelism=PAR)
    state = kept.memory_breakdown["optimizer_state"]
    layers = wl.model.layers
    # streamed layer by layer: two layers' share stays in HBM, the rest is on the host
    assert moved.memory_breakdown["optimizer_state"] == pytest.approx(2 * state / layers)
    assert moved.host_memory_per_chip_bytes == pytest.approx(state * (1 - 2 / layers))
    assert moved.step_time_s >= kept.step_time_s and moved.offload_optimizer


def test_search_offloads_only_when_nothing_fits_otherwise():
    wl = load_workload("llama3-70b")
    # 70B with Adam on 32 v5e chips (16 GiB): parameters, gradients and optimizer state alone
    # need 35 GB a chip, so only shardings that move state or activations to the host fit
    tight = search(wl, chip="v5e", chips_per_slice=32, global_batch_seqs=32, top=5)
    assert tight.rows and tight.best.fits_in_hbm
    assert all(r["offload_optimizer"] or r["remat"] in OFFLOADED for r in tight.rows)
    roomy = search(wl, chips_per_slice=1024, top=5)
    assert roomy.rows and not any(r["offload_optimizer"] or r["remat"] in OFFLOADED for r in roomy.rows)


def test_host_dram_bounds_what_a_host_can_hold():
    """A v4 host has 512 GB of DRAM for its 4 chips (chip-v4.toml). LLaMA-3-70B on 4 v4 chips
    offloads ~825 GB per host: fits_in_host_dram is False (it was not checked at all), and the
    search never ranks a row whose host bytes exceed the host's DRAM."""
    from tpusim.hardware import load_chip

    wl = load_workload("llama3-70b")
    tight = estimate(wl, chip="v4", chips_per_slice=4)
    assert tight.host_memory_per_chip_bytes * 4 > 512e9 and tight.fits_in_host_dram is False
    found = search(wl, chip="v4", chips_per_slice=16, top=50)
    per_host = load_chip("v4").chips_per_host
    assert found.rows and all(r["memory_per_chip_bytes"] <= 32 * 2**30 for r in found.rows)
    assert found.best.fits_in_host_dram is True
    assert found.best.host_memory_per_chip_bytes * per_host <= 512e9
