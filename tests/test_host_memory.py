"""Host memory of the newer chips (v5e, v5p, v6e, v7): the chip files give each host's memory, so
host offload and the DLRM host placement say whether they fit (`fits_in_host_dram` true/false)
instead of null.

Sources (cited in the chip TOMLs): the VM's RAM per Google Cloud's TPU pages,
https://docs.cloud.google.com/tpu/docs/tpu7x (4-chip VM: v5p 448 GB, v6e 720 GB, TPU7x 960 GB),
https://docs.cloud.google.com/tpu/docs/v5e (ct5lp-hightpu-8t: 384 GB),
https://docs.cloud.google.com/tpu/docs/v6e (8 chips a host, two 4-chip VMs)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tpusim
from tpusim.hardware import load_chip
from tpusim.workloads import estimate, load_workload
from tpusim.workloads.config import with_overrides

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("chip", "per_host_bytes", "chips_per_host"), [
    ("v5e", 384e9, 8), ("v5p", 448e9, 4), ("v6e", 2 * 720e9, 8), ("v7", 960e9, 4),
])
def test_catalogue_gives_each_hosts_memory(chip, per_host_bytes, chips_per_host):
    c = load_chip(chip)
    assert (c.host_dram_bytes, c.chips_per_host) == (per_host_bytes, chips_per_host)
    assert "docs.cloud.google.com/tpu/docs" in c.sources["host_dram_bytes"]
    assert "host_dram_bytes" not in c.assumptions  # a documented value, not an assumption


def test_offload_on_v5p_fits_or_not_by_the_hosts_memory():
    """LLaMA-3-70B with Adam, optimizer state offloaded: on 4 v5p chips (one host) the host holds
    ~825 GB, more than the VM's 448 GB; on 8 chips half that (~413 GB), which fits."""
    wl = with_overrides(load_workload("llama3-70b"), offload_optimizer=True)
    one_host = estimate(wl, chip="v5p", chips_per_slice=4)
    two_hosts = estimate(wl, chip="v5p", chips_per_slice=8)
    assert one_host.host_memory_per_chip_bytes * 4 > 448e9 and one_host.fits_in_host_dram is False
    assert 0 < two_hosts.host_memory_per_chip_bytes * 4 <= 448e9 and two_hosts.fits_in_host_dram is True


def test_a_chip_file_without_host_memory_still_reports_null(tmp_path):
    text = (REPO / "topologies" / "chip-v5p.toml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.startswith("host_dram_bytes")]
    path = tmp_path / "chip-v5p-nohost.toml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    wl = with_overrides(load_workload("llama3-70b"), offload_optimizer=True)
    assert estimate(wl, chip=str(path), chips_per_slice=8).fits_in_host_dram is None


def test_dlrm_host_placement_on_v6e_says_whether_the_tables_fit(tmp_path):
    """DCNv2's tables (209 GB with Adagrad) over 8 v6e hosts fit; a 2e9-row table (~2 TiB with
    Adagrad) on one 8-chip host (1440 GB) does not."""
    est = tpusim.estimate("dlrm-dcnv2", chip="v6e", chips=64, placement="host")
    assert est.fits_in_host_dram is True and est.host_memory_per_host_bytes <= 1440e9
    big = (REPO / "workloads" / "dlrm-dcnv2.toml").read_text(encoding="utf-8").replace(
        "rows = 40_000_000\nlookups = 100", "rows = 2_000_000_000\nlookups = 100")
    path = tmp_path / "big.toml"
    path.write_text(big, encoding="utf-8")
    one = tpusim.estimate(str(path), chip="v6e", chips=8, placement="host")
    assert one.host_memory_per_host_bytes > 1440e9 and one.fits_in_host_dram is False
