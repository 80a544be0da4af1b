"""`tpusim estimate` on DLRM workloads: the readable view, JSON keys, overrides, placements side
by side, search, and one clean error line for every kind of bad input."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, assert_clean_error

ISSUE_KEYS = {"kind", "step_time_s", "samples_per_s", "breakdown_s", "placement", "bottleneck",
              "sparsecore_busy_fraction", "tensorcore_busy_fraction", "hbm_utilization",
              "ici_utilization", "mfu", "memory_per_chip_bytes", "fits_in_hbm", "chips", "slice_shape",
              "twisted"}
PHASES = {"host", "sc_forward", "sc_backward", "all_to_all_forward", "all_to_all_backward", "tensorcore",
          "dense_allreduce", "fixed"}


def test_readable_summary(cli):
    result = cli("estimate", "workloads/dlrm-dcnv2.toml")
    assert result.returncode == 0, result.stderr
    for needle in ("samples / s", "where the step goes", "all-to-all forward", "memory per chip",
                   "busy: SparseCore / TensorCore", "fits"):
        assert needle in result.stdout, needle


def test_json_keys_and_overrides(cli):
    result = cli("estimate", "dlrm-dcnv2", "--chip", "v4", "--chips", "128", "--twisted",
                 "--placement", "tensorcore", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= ISSUE_KEYS
    assert set(data["breakdown_s"]) == PHASES
    assert (data["kind"], data["placement"], data["chips"], data["slice_shape"], data["twisted"]) == (
        "dlrm", "tensorcore", 128, "4x4x8", True)
    assert sum(data["breakdown_s"].values()) == pytest.approx(data["step_time_s"])
    alone = json.loads(cli("estimate", "dlrm-dcnv2", "--slice", "4x4x16", "--json").stdout)
    assert (alone["chips"], alone["slice_shape"], alone["twisted"]) == (256, "4x4x16", False)


def test_compare_placements_and_search(cli):
    result = cli("estimate", "dlrm-dcnv2", "--chip", "v4", "--chips", "128", "--compare-placements", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["placement"] for r in data["rows"]] == ["sparsecore", "tensorcore", "host"]
    assert data["sparsecore_over_host"] > 1
    table = cli("estimate", "dlrm-dcnv2", "--chip", "v4", "--chips", "128", "--compare-placements")
    assert "SparseCore over host" in table.stdout
    found = json.loads(cli("estimate", "dlrm-dcnv2", "--search", "--top", "3", "--json").stdout)
    assert len(found["rows"]) == 3 and found["evaluated"] >= found["feasible"] >= 3
    assert found["step_time_s"] == found["rows"][0]["step_time_s"]


GOOD = (REPO / "workloads" / "dlrm-mlperf-v1.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("edit", "needles"), [
    (("placement = \"sparsecore\"", "placement = \"cpu\""), ("placement", "sparsecore")),
    (("skew = 1.0", "skew = 1.0\nskeww = 2"), ("skeww", "skew")),
    (("rows = 39_884_406", "rows = -5"), ("rows",)),
    (("dim = 128", "dim = 0"), ("dim",)),
    (("unique_fraction = 1.0", "unique_fraction = 1.5"), ("unique_fraction",)),
    (("global_batch = 55296", "global_batch = 1000"), ("global_batch", "multiple")),
    (("interaction = \"dot\"", "interaction = \"dot\"\ndcn_layers = 3"), ("dcn_layers",)),
    (("kind = \"dlrm\"", "kind = \"dlrmm\""), ("kind", "dlrm")),
    (("chip = \"v4\"", "chip = \"v5e\""), ("SparseCores",)),
    (("[[embedding.tables]]\nname = \"cat_0\"\nrows = 39_884_406\nlookups = 1",
      "[[embedding.tables]]\nname = \"cat_0\"\nrows = 39_884_406\nlookups = 1\ndim = 64"), ("dim",)),
])
def test_bad_files_give_one_line(cli, tmp_path, edit, needles):
    old, new = edit
    assert old in GOOD, old
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    assert_clean_error(cli("estimate", str(path)), *needles)


def test_bad_options_give_one_line(cli, tmp_path):
    assert_clean_error(cli("estimate", "dlrm-dcnv2", "--placement", "gpu"), "placement")
    assert_clean_error(cli("estimate", "dlrm-dcnv2", "--chip", "v4", "--chips", "512", "--twisted"),
                       "twisted")
    assert_clean_error(cli("estimate", "palm-540b", "--compare-placements"), "dlrm")
    # an illegal slice is named as such (not as a batch that does not divide among its 80 chips)
    assert_clean_error(cli("estimate", "dlrm-mlperf-v1", "--slice", "4x4x5"), "slice 4x4x5", "multiples of 4")
    utf16 = tmp_path / "utf16.toml"
    utf16.write_bytes(GOOD.encode("utf-16"))
    assert_clean_error(cli("estimate", str(utf16)), "UTF")


def _dlrm_sweep(tmp_path, grid: str):
    from tpusim.sweeps import load_sweep

    path = tmp_path / "sweep.toml"
    path.write_text(f'[sweep]\nkind = "estimate"\nbase = "workloads/dlrm-dcnv2.toml"\n[grid]\n{grid}\n',
                    encoding="utf-8")
    return load_sweep(path)


def test_sweep_dotted_keys_reach_embedding_values(tmp_path):
    from tpusim.sweeps import read_rows, run_sweep

    spec = _dlrm_sweep(tmp_path, 'chip = ["v4"]\nchips = [128]\nplacement = ["sparsecore", "host"]\n'
                                 '"embedding.skew" = [1.0, 2.0]')
    out = tmp_path / "out.jsonl"
    result = run_sweep(spec, out)
    assert (result.ran_points, result.errors) == (4, 0)
    rows = {(r["placement"], r["embedding.skew"]): r for r in read_rows(out)}
    for placement in ("sparsecore", "host"):
        assert rows[(placement, 2.0)]["step_time_s"] > rows[(placement, 1.0)]["step_time_s"]
    assert rows[("sparsecore", 1.0)]["kind"] == "dlrm"


def test_sweep_refuses_unknown_embedding_key_and_llm_only_runner_keys(tmp_path):
    from tpusim.errors import TpusimError
    from tpusim.sweeps import run_sweep

    with pytest.raises(TpusimError, match="skeww"):
        run_sweep(_dlrm_sweep(tmp_path, '"embedding.skeww" = [2.0]'), tmp_path / "o.jsonl")
    with pytest.raises(TpusimError, match="remat"):
        run_sweep(_dlrm_sweep(tmp_path, 'remat = ["full"]'), tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_python_api_dispatches_on_kind():
    import tpusim

    est = tpusim.estimate("dlrm-dcnv2", chip="v4", chips=128)
    assert (est.kind, est.chips, est.slice_shape) == ("dlrm", 128, "4x4x8")
    assert est.to_frame().loc[0, "step_time_s"] == est.step_time_s
    found = tpusim.estimate("dlrm-dcnv2", search=True, top=2)
    assert len(found.to_frame()) == 2


def test_python_api_takes_the_dlrm_options_of_the_cli():
    """`tpusim.estimate` takes the CLI's DLRM flags: a slice shape alone sets the chips,
    placement / sharding / twisted override the file, compare_placements gives the comparison
    with `.to_frame()`; on a dense LLM the DLRM options are refused."""
    import tpusim
    from tpusim.errors import TpusimError

    alone = tpusim.estimate("dlrm-dcnv2", chip="v4", slice="4x4x16")
    assert (alone.chips, alone.slice_shape, alone.twisted) == (256, "4x4x16", False)
    est = tpusim.estimate("dlrm-dcnv2", chip="v4", chips=128, twisted=True, placement="host", sharding="mod")
    assert (est.twisted, est.placement, est.sharding) == (True, "host", "mod")
    cmp = tpusim.estimate("dlrm-dcnv2", chip="v4", chips=128, compare_placements=True)
    frame = cmp.to_frame()
    assert list(frame["placement"]) == ["sparsecore", "tensorcore", "host"]
    assert cmp.sparsecore_over_host == pytest.approx(frame["step_time_s"][2] / frame["step_time_s"][0])
    with pytest.raises(TpusimError, match="dlrm"):
        tpusim.estimate("palm-8b", placement="host")


def test_search_holds_the_given_choices_fixed(cli):
    """--search with --placement / --sharding / --twisted ranks only candidates with those values
    (it used to rank every placement whatever was asked); a pinned placement the chip lacks is
    an error, not an empty table."""
    base = ("estimate", "dlrm-dcnv2", "--chip", "v4", "--chips", "128", "--search", "--json")
    host = json.loads(cli(*base, "--placement", "host").stdout)
    assert {r["placement"] for r in host["rows"]} == {"host"} and host["placement"] == "host"
    twisted = json.loads(cli(*base, "--twisted", "--sharding", "mod").stdout)
    assert {(r["twisted"], r["sharding"]) for r in twisted["rows"]} == {(True, "mod")}
    assert_clean_error(cli("estimate", "dlrm-dcnv2", "--chip", "v7", "--search", "--placement", "host"),
                       "host_dram_bytes_per_s")


def test_compare_placements_names_what_is_missing_and_refuses_a_placement(cli):
    table = cli("estimate", "dlrm-dcnv2", "--chip", "v3", "--chips", "128", "--compare-placements")
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "host not available" in text and "host_dram_bytes_per_s" in text and "1 x 8x16" in text
    data = json.loads(cli("estimate", "dlrm-dcnv2", "--chip", "v3", "--chips", "128", "--compare-placements",
                          "--json").stdout)
    assert list(data["skipped_placements"]) == ["host"] and data["sparsecore_over_host"] is None
    assert_clean_error(cli("estimate", "dlrm-dcnv2", "--compare-placements", "--placement", "host"),
                       "remove --placement")


def test_sweep_slice_shape_alone_sets_the_chips(tmp_path):
    """A DLRM sweep over slice_shape alone: each shape sets the chips (it used to fail at every
    point whose shape did not hold the file's 256 chips)."""
    from tpusim.sweeps import read_rows, run_sweep

    out = tmp_path / "out.jsonl"
    result = run_sweep(_dlrm_sweep(tmp_path, 'chip = ["v4"]\nslice_shape = ["4x4x8", "4x8x8"]'), out)
    assert result.errors == 0
    assert sorted((r["slice_shape"], r["chips"]) for r in read_rows(out)) == [("4x4x8", 128), ("4x8x8", 256)]


def test_sweep_unknown_runner_key_suggests_a_dlrm_dotted_key(tmp_path):
    from tpusim.errors import TpusimError
    from tpusim.sweeps import run_sweep

    with pytest.raises(TpusimError, match="embedding.skew") as err:
        run_sweep(_dlrm_sweep(tmp_path, 'remat = ["full"]'), tmp_path / "o.jsonl")
    assert "global_batch_seqs" not in str(err.value)


def test_cli_sweep_table_shows_dlrm_throughput(cli, tmp_path):
    """The sweep's summary table of a DLRM estimate sweep shows samples/s and the bottleneck
    (it showed only the dense-only MFU and the step time)."""
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\nkind = "estimate"\nbase = "dlrm-dcnv2"\n'
                    '[grid]\n"embedding.skew" = [1.0, 2.0]\n', encoding="utf-8")
    result = cli("sweep", str(spec), "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 0, result.stderr
    assert "samples_per_s" in result.stdout and "bottleneck" in result.stdout


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"twisted": "yes"}, "twisted must be true or false"),
    ({"slice": 448}, "slice must be a shape"),
    ({"chips": "128"}, "chips must be a positive integer"),
    ({"chips": True}, "chips must be a positive integer"),
])
def test_python_api_refuses_mistyped_options(kwargs, needle):
    """tpusim.estimate(twisted="yes") used to run and report twisted = 'yes'; slice=448 raised an
    AttributeError, chips="128" a TypeError and chips=True ran one chip (dense LLM): each is a
    TpusimError naming the option."""
    import tpusim
    from tpusim.errors import TpusimError

    with pytest.raises(TpusimError, match=needle):
        tpusim.estimate("dlrm-dcnv2", **kwargs)
    with pytest.raises(TpusimError, match=needle):  # the dense-LLM path checks them too
        tpusim.estimate("palm-8b", **kwargs)


def test_compare_placements_flags_tables_too_big_for_host_dram(cli, tmp_path):
    """A 2e9-row table (2 TiB with Adagrad) on one v4 host (512 GB of DRAM): the host placement
    does not fit, and the comparison says so (its 'fits' column showed only HBM: 'yes')."""
    big = (REPO / "workloads" / "dlrm-dcnv2.toml").read_text(encoding="utf-8").replace(
        "rows = 40_000_000\nlookups = 100", "rows = 2_000_000_000\nlookups = 100")
    path = tmp_path / "big.toml"
    path.write_text(big, encoding="utf-8")
    result = cli("estimate", str(path), "--chip", "v4", "--chips", "4", "--compare-placements")
    assert result.returncode == 0, result.stderr
    host = next(line for line in result.stdout.splitlines() if line.startswith("│ host "))
    assert "NO (host DRAM)" in host
