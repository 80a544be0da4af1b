"""Hardware catalog: every chip and pod loads, every value has a source, published figures."""

from __future__ import annotations

import math

import pytest

from tpusim.errors import TpusimError
from tpusim.hardware import (
    all_chips,
    all_pods,
    chip_from_dict,
    find_pod,
    load_chip,
    load_pod,
    pod_from_dict,
)
from tpusim.inputs import load_toml

EXPECTED_CHIPS = {"v2", "v3", "v4", "v5e", "v5p", "v6e", "v7"}
EXPECTED_PODS = {"tpu-v4-4096", "tpu-v5p-8960", "tpu-v7-9216", "tpu-v3-1024", "tpu-v5e-256",
                 "tpu-v6e-256"}


def test_catalog_has_every_generation_and_pod():
    assert {c.name for c in all_chips()} >= EXPECTED_CHIPS
    assert {p.name for p in all_pods()} >= EXPECTED_PODS


@pytest.mark.parametrize("chip", sorted(EXPECTED_CHIPS))
def test_every_chip_value_cites_a_source(chip):
    c = load_chip(chip)
    doc = load_toml(next(iter([p for p in _chip_files() if p.stem == f"chip-{chip}"])))
    for key in doc["chip"]:
        if key != "name":
            assert key in c.sources and c.sources[key].strip(), key
    # every assumption names a value that exists
    for key in c.assumptions:
        assert key in doc["chip"], key


def _chip_files():
    from tpusim.data import data_dir

    return sorted(data_dir("topologies").glob("chip-*.toml"))


def test_v4_published_figures():
    # https://cloud.google.com/tpu/docs/v4: 275 TFLOP/s bf16, 32 GiB HBM at 1200 GB/s
    c = load_chip("v4")
    assert c.peak_bf16_flops_per_s == 275e12
    assert c.hbm_bytes == 32 * 2**30
    assert c.hbm_bytes_per_s == 1.2e12
    assert c.hosts_per_cube == 16  # 64 chips / 4 chips per host (NSDI'24 via glennklockwood)
    # MXU arithmetic reproduces the peak: 8 MXUs x 128x128 MACs x 2 FLOP x 1.05 GHz = 275 TFLOP/s
    mxus = c.tensorcores_per_chip * c.mxus_per_tensorcore
    assert math.isclose(mxus * c.mxu_dim**2 * 2 * c.clock_hz, c.peak_bf16_flops_per_s, rel_tol=0.01)


def test_pod_counts():
    v4 = load_pod("tpu-v4-4096")
    assert (v4.chips, v4.hosts, v4.cubes) == (4096, 1024, 64)
    assert load_pod("tpu-v7-9216").cubes == 144
    assert load_pod("tpu-v5p-8960").cubes == 140


def test_name_aliases_and_suggestions():
    assert load_chip("TPU-v4").name == "v4"
    assert load_chip("ironwood").name == "v7"
    with pytest.raises(TpusimError, match="did you mean 'v4'"):
        load_chip("v44")
    with pytest.raises(TpusimError, match="tpu-v4-4096"):
        load_pod("tpu-v4-4095")


def test_find_pod():
    assert find_pod(4096).name == "tpu-v4-4096"
    assert find_pod(256, "v5e").name == "tpu-v5e-256"
    with pytest.raises(TpusimError, match="choose one with generation") as info:
        find_pod(256)  # the library names the parameter; the CLI shows it as --generation
    assert info.value.params == ("generation",)
    with pytest.raises(TpusimError, match="known pods"):
        find_pod(1000)


def _v4_doc():
    from tpusim.data import data_dir

    return load_toml(data_dir("topologies") / "chip-v4.toml")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["chip"].pop("hbm_bytes"), "missing key 'hbm_bytes'"),
        (lambda d: d["chip"].update(hbm_bytes=-1), "hbm_bytes must be a positive"),
        (lambda d: d["chip"].update(peak_bf16_flops_per_s="fast"), "must be a number"),
        (lambda d: d["sources"].pop("hbm_bytes"), "no source for hbm_bytes"),
        # a typo is named as one, not as a value without a source
        (lambda d: d["chip"].update(hbm_byte_per_s=5), "unknown key 'hbm_byte_per_s'; did you mean"),
        (lambda d: d["chip"].update(host_shape=[2, 2, 2]), "host_shape"),
        (lambda d: d["slices"].update(rule="any"), "rule must be one of"),
        (lambda d: d.pop("slices"), "missing [slices]"),
    ],
)
def test_chip_validation_errors(edit, message):
    doc = _v4_doc()
    edit(doc)
    with pytest.raises(TpusimError) as info:
        chip_from_dict(doc, "test.toml")
    assert message in str(info.value)


def test_pod_validation_errors():
    base = {"pod": {"name": "x", "chip": "v4", "shape": "16x16x16", "ocs": True, "ocs_ports": 136,
                    "ocs_spare_ports": 8},
            "sources": {"shape": "s", "ocs": "s", "ocs_ports": "s", "ocs_spare_ports": "s"}}
    assert pod_from_dict(base, "t").chips == 4096
    bad_shape = {**base, "pod": {**base["pod"], "shape": "16x16"}}
    with pytest.raises(TpusimError, match="2 axes but chip v4 is a 3D torus"):
        pod_from_dict(bad_shape, "t")
    not_cubes = {**base, "pod": {**base["pod"], "shape": "6x8x8"}}
    with pytest.raises(TpusimError, match="whole cubes"):
        pod_from_dict(not_cubes, "t")
    too_big = {**base, "pod": {**base["pod"], "shape": "16x16x32"}}
    with pytest.raises(TpusimError, match="exceeds the largest"):
        pod_from_dict(too_big, "t")
    static = {**base, "pod": {**base["pod"], "ocs": False}}  # its OCS ports were ignored
    with pytest.raises(TpusimError, match="belong to an OCS pod; remove them or set ocs = true"):
        pod_from_dict(static, "t")
    typo = {**base, "pod": {**base["pod"], "ocs_port": 3}}  # was "no source for ocs_port"
    with pytest.raises(TpusimError, match="unknown key 'ocs_port'; did you mean 'ocs_ports'"):
        pod_from_dict(typo, "t")


def test_malformed_toml_names_file_and_line(tmp_path):
    bad = tmp_path / "pod-bad.toml"
    bad.write_text('[pod]\nname = "x"\nshape = 16x16\n')
    with pytest.raises(TpusimError, match=r"pod-bad.toml.*line 3"):
        load_toml(bad)


@pytest.mark.parametrize(("chip", "sparsecores", "spmem_mib"), [
    ("v3", 2, 5), ("v4", 4, 10), ("v5p", 4, None), ("v6e", 2, None), ("v7", 4, None),
    ("v5e", 0, None),
])
def test_sparsecore_catalog(chip, sparsecores, spmem_mib):
    """SparseCores per chip and Spmem: v3 2 / 5 MiB (Jouppi et al., ISCA 2023, Table 4); v4 4 x
    2.5 MiB (openxla.org/xla/sparsecore); v5p 4 (Cloud v5p docs); v6e 2 (OpenXLA); TPU7x 4
    (Cloud tpu7x docs); v5e none documented. Published counts are not assumptions."""
    c = load_chip(chip)
    assert c.sparsecores_per_chip == sparsecores
    assert c.spmem_bytes_per_chip == (None if spmem_mib is None else spmem_mib * 2**20)
    if sparsecores:
        assert "sparsecores_per_chip" not in c.assumptions


def test_v4_pod_flat_embedding_memory():
    """v4 pod: SparseCores address all HBM as one 128 TiB space (4096 x 32 GiB)."""
    pod = load_pod("tpu-v4-4096")
    assert pod.chips * pod.chip.hbm_bytes == 128 * 2**40
    assert pod.chips * pod.chip.sparsecores_per_chip == 16384
