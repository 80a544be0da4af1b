"""`tpusim catalog` and `tpusim topology` as a user runs them, including every input error."""

from __future__ import annotations

import json

import pytest
from conftest import assert_clean_error


def test_catalog_table_and_json(cli):
    table = cli("catalog")
    assert table.returncode == 0, table.stderr
    for name in ("v4", "v5p", "tpu-v4-4096", "tpu-v7-9216", "SparseCores"):
        assert name in table.stdout
    v3_row = next(line for line in table.stdout.splitlines() if line.startswith("│ v3 "))
    assert [cell.strip() for cell in v3_row.split("│")][-3] == "2"  # SparseCores per v3 chip
    # one host's memory (decimal GB, as Google Cloud's TPU pages give it); none known for v3
    assert [cell.strip() for cell in v3_row.split("│")][-5] == "-"
    v5e_row = next(line for line in table.stdout.splitlines() if line.startswith("│ v5e "))
    assert [cell.strip() for cell in v5e_row.split("│")][-5] == "384.0 GB"
    data = json.loads(cli("catalog", "--json").stdout)
    chip = next(c for c in data["chips"] if c["name"] == "v4")
    assert chip["peak_bf16_flops_per_s"] == 275e12
    assert {"name", "hbm_bytes", "hbm_bytes_per_s"} <= set(chip)
    assert any(p["name"] == "tpu-v4-4096" and p["cubes"] == 64 for p in data["pods"])


def test_topology_pod_json_keys(cli):
    result = cli("topology", "--pod", "tpu-v4-4096", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    keys = {"chips", "hosts", "cubes", "ocs_count", "ocs_ports_used", "optical_links", "ici_links",
            "bisection_bytes_per_s", "allreduce_bytes_per_s", "diameter_hops", "wraparound", "twisted",
            "all_to_all_bytes_per_s"}
    assert keys <= set(data)
    assert data["chips"] == 4096 and data["ocs_count"] == 48


def test_topology_twisted_slice(cli):
    plain = json.loads(cli("topology", "--slice", "4x4x8", "--json").stdout)
    twisted = json.loads(cli("topology", "--slice", "4x4x8", "--twisted", "--json").stdout)
    assert twisted["twisted"] is True
    assert twisted["bisection_bytes_per_s"] > plain["bisection_bytes_per_s"]
    gain = twisted["all_to_all_bytes_per_s"] / plain["all_to_all_bytes_per_s"]
    assert 1.0 < gain < 2.0  # busiest link, not the bisection ratio


def test_topology_readable(cli):
    result = cli("topology", "--pod", "tpu-v5e-256")
    assert result.returncode == 0
    assert "bisection" in result.stdout and "1.6 TB/s" in result.stdout


def test_pod_from_file(cli, tmp_path):
    pod = tmp_path / "pod-mini.toml"
    pod.write_text('[pod]\nname = "mini"\nchip = "v4"\nshape = "8x8x8"\nocs = true\nocs_ports = 136\n'
                   'ocs_spare_ports = 8\n[sources]\nshape = "test"\nocs = "test"\nocs_ports = "test"\n'
                   'ocs_spare_ports = "test"\n')
    data = json.loads(cli("topology", "--pod", str(pod), "--json").stdout)
    assert data["cubes"] == 8 and data["chips"] == 512


@pytest.mark.parametrize(("args", "needles"), [
    (("topology", "--pod", "tpu-v4-4069"), ("unknown pod", "tpu-v4-4096")),
    (("topology", "--slice", "8x4x4"), ("4x4x8",)),
    (("topology", "--slice", "4x6x8"), ("multiples of 4",)),
    (("topology", "--slice", "4x4x4", "--twisted"), ("cannot be twisted",)),
    (("topology", "--slice", "-4x4x4"), ("shape",)),
    (("topology", "--pod", "tpu-v5e-256", "--slice", "4x16"), ("legal shapes",)),
    (("topology", "--pod", "nonexistent/pod.toml"), ("not found",)),
])
def test_topology_errors(cli, args, needles):
    assert_clean_error(cli(*args), *needles)


def test_malformed_pod_file(cli, tmp_path):
    bad = tmp_path / "pod-bad.toml"
    bad.write_text('[pod]\nname = "bad"\nshape = 16x16x16\n')
    assert_clean_error(cli("topology", "--pod", str(bad)), "pod-bad.toml", "line 3")


@pytest.mark.parametrize(("body", "needle"), [
    ('[pod]\nname = "m"\nchip = "v4"\nocs = false\n[sources]\n', "missing key 'shape'"),
    ('[pod]\nname = "m"\nchip = "v4"\nshape = "16x16x16"\nocs = true\nocs_ports = -1\n'
     'ocs_spare_ports = 0\n[sources]\n', "ocs_ports must be a positive"),
    ('[pod]\nname = "m"\nchip = "v9"\nshape = "16x16x16"\nocs = false\n[sources]\n', "unknown chip"),
])
def test_bad_pod_fields(cli, tmp_path, body, needle):
    bad = tmp_path / "pod-x.toml"
    bad.write_text(body)
    assert_clean_error(cli("topology", "--pod", str(bad)), needle)


def test_unknown_option_is_usage_error(cli):
    result = cli("topology", "--slices-typo", "3")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_usage_errors_are_one_line(cli):
    assert_clean_error(cli("catalogg"), "no such command", "catalog")
    assert_clean_error(cli("plan", "--availability", "abc"), "--availability")


def test_unwritable_output_is_a_clean_error(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory is needed
    assert_clean_error(cli("simulate", "palm-540b-50d", "--days", "2", "--out", str(blocker / "x.csv")),
                       "cannot access")
