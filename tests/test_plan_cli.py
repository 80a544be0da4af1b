"""`tpusim plan` end to end: the JSON contract (docs/contract.md), CSV, table, chart files, concrete
assignments, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import assert_clean_error, run_cli, run_main

ROW_KEYS = {"slice_chips", "slice_cubes", "shape", "p_schedulable_ocs", "p_schedulable_static",
            "goodput_ocs", "goodput_static"}


def test_json_contract():
    r = run_cli("plan", "--chips", "4096", "--availability", "0.995", "--samples", "60", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"pod", "cube_availability", "rows"} <= set(data)
    assert data["pod"]["name"] == "tpu-v4-4096" and data["pod"]["cubes"] == 64
    assert data["cube_availability"] == pytest.approx(0.9229, abs=5e-5)
    assert [row["slice_chips"] for row in data["rows"]] == [64, 128, 256, 512, 1024, 2048, 3072, 4096]
    for row in data["rows"]:
        assert set(row) >= ROW_KEYS
        for key in ("p_schedulable_ocs", "p_schedulable_static", "goodput_ocs", "goodput_static"):
            assert 0 <= row[key] <= 1
    assert "assignment" not in data


def test_readable_table_states_pod_and_p_cube():
    r = run_cli("plan", "--chips", "4096", "--availability", "0.99", "--samples", "40", "--target", "0.98")
    assert r.returncode == 0, r.stderr
    assert "tpu-v4-4096" in r.stdout and "p_cube 0.8515" in r.stdout
    assert "12x16x16" in r.stdout and "static" in r.stdout and "OCS" in r.stdout
    assert "target 0.98: largest slice with OCS: 3072 chips" in r.stdout
    # the static answer is judged on the 95% lower end, which 40 patterns cap at 0.912: say so
    flat = " ".join(r.stdout.split())
    assert "lower end of their 95% interval reaches 0.98; with 40 patterns it is at most 0.912" in flat


def test_csv_rows():
    r = run_cli("plan", "--availability", "0.999", "--samples", "30", "--csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 8 and set(rows[0]) >= ROW_KEYS


def test_faulty_cubes_assignment_and_reform():
    r = run_cli("plan", "--availability", "0.995", "--samples", "20", "--slice", "8x8x16", "--slices", "2",
                "--faulty-cubes", "3,17,42", "--then-fail", "0", "--json")
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)["assignment"]
    assert a["faulty_cubes"] == [3, 17, 42] and a["n_slices"] == 2
    used = [c for s in a["ocs"] for c in json.dumps(s["cubes"]).replace("[", "").replace("]", "").split(",")]
    ids = [int(c) for c in used]
    assert len(ids) == 32 and len(set(ids)) == 32 and not {3, 17, 42} & set(ids)
    assert a["ocs"][0]["cross_connect_count"] == 16 * 48
    assert a["reform"]["failed_cube"] == 0 and a["reform"]["spare_cube"] not in ids
    assert len(a["reform"]["removed"]) == len(a["reform"]["added"]) > 0


def test_faulty_hosts_map_to_cubes():
    r = run_cli("plan", "--samples", "20", "--slice", "4x4x4", "--faulty-hosts", "0,16", "--json")
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)["assignment"]
    assert len(a["faulty_cubes"]) >= 1
    assert all(0 <= c < 64 for c in a["faulty_cubes"])


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_chart_file(tmp_path, suffix):
    out = tmp_path / f"goodput{suffix}"
    r = run_cli("plan", "--availability", "0.995", "--samples", "20", "--chart", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.exists() and out.stat().st_size > 1000


def test_ironwood_and_v5p_pods():
    for chips, cubes in (("9216", 144), ("8960", 140)):
        r = run_cli("plan", "--chips", chips, "--availability", "0.9999", "--samples", "3", "--json")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert data["pod"]["cubes"] == cubes
        assert data["rows"][-1]["slice_cubes"] == cubes


@pytest.mark.parametrize(("args", "needles"), [
    (("--chips", "4000"), ("4000", "known pods")),
    (("--availability", "1.5"), ("availability",)),
    (("--availability", "0"), ("availability",)),
    (("--generation", "v9"), ("v9",)),
    (("--chips", "256", "--generation", "v5e"), ("cubes",)),
    (("--slice", "4x4x6"), ("4x4x6",)),
    (("--slice", "2x2x2"), ("whole",)),
    (("--faulty-cubes", "3,x"), ("faulty-cubes",)),
    (("--faulty-cubes", "99"), ("99",)),
    (("--chart", "out.txt"), (".png",)),
    (("--chip-availability", "0"), ("--chip-availability", "(0, 1]")),
    (("--domain-cubes", "2", "--domain-availability", "0"), ("--domain-availability", "(0, 1]")),
    (("--ocs-availability", "0"), ("--ocs-availability", "(0, 1]")),
])
def test_errors_are_one_line(args, needles):
    assert_clean_error(run_cli("plan", "--samples", "5", *args), *needles)


@pytest.mark.parametrize(("args", "flag"), [
    (("--availability", "1.5"), "--availability"), (("--target", "2"), "--target"),
    (("--chip-availability", "2"), "--chip-availability"),
    (("--ocs-availability", "0"), "--ocs-availability"),
    (("--domain-availability", "2", "--domain-cubes", "4"), "--domain-availability"),
    (("--domain-cubes", "3"), "--domain-cubes"),
])
def test_out_of_range_options_are_named_as_flags(args, flag):
    """The planner's checks name tpusim.plan's parameters; the CLI shows the flag the user typed
    (it said 'availability: p_chip must be ...' for --chip-availability 2)."""
    r = run_main("plan", *args)
    assert_clean_error(r, flag)
    assert "p_chip" not in r.stderr and "p_domain" not in r.stderr


def test_json_and_csv_together_is_an_error():
    """Both print to stdout; --csv was silently dropped for the JSON."""
    r = run_main("plan", "--samples", "5", "--json", "--csv")
    assert_clean_error(r, "--json", "--csv")
    assert r.stdout == ""


@pytest.mark.parametrize(("args", "shown", "hidden"), [
    # whole pod at 99% hosts: p_cube^64 = 3.39e-5, not 0.000 (the paper's 3.4e-5)
    (("--availability", "0.99", "--slice", "16x16x16"), "3.4e-05", "0.000"),
    # 3072 chips with OCS at 99.5%: P(>= 48 of 64) = 1 - 4.8e-6, not a bare 1.0000
    (("--availability", "0.995", "--slice", "12x16x16"), ">0.9999", "1.0000"),
    # 512 chips at 99%: 1 up to floating-point rounding (0.9999999999999999) is 1.000
    (("--availability", "0.99", "--slice", "8x8x8"), "1.000", "1.0000"),
])
def test_table_probabilities_say_what_they_are(args, shown, hidden):
    r = run_main("plan", "--samples", "5", *args)
    assert r.returncode == 0, r.stderr
    shape = args[-1]
    row = next(line for line in r.stdout.splitlines() if f"│ {shape} " in line)
    assert shown in row and hidden not in row, row


def test_target_with_failure_domains_says_why_there_are_no_spares():
    """With correlated domains every spare is None; the table's '-' read as 'no number of spares
    reaches the target' (a 1-cube slice at 99% hosts needs 2 without domains)."""
    r = run_main("plan", "--samples", "5", "--slice", "4x4x4", "--availability", "0.99",
                 "--target", "0.99", "--domain-cubes", "4", "--domain-availability", "0.9999")
    assert r.returncode == 0, r.stderr
    assert "spares are not computed with correlated failure domains" in " ".join(r.stdout.split())
    plain = run_main("plan", "--samples", "5", "--slice", "4x4x4", "--availability", "0.99",
                     "--target", "0.99")
    assert "correlated" not in plain.stdout


@pytest.mark.parametrize(("args", "needles"), [
    # host 5 of the v7 pod sits in cube 1 (hosts are 2x2x1 trays in C order over 16x24x24 chips)
    (("--chips", "9216", "--faulty-hosts", "5", "--slice", "8x8x8", "--then-fail", "1"),
     ("cube 1 is faulty already", "--then-fail", "its cubes: 0, 2-8")),
    (("--faulty-cubes", "1,2", "--slice", "8x8x8", "--then-fail", "60"),
     ("cube 60 is not in the first slice", "its cubes: 0, 3-9")),
])
def test_then_fail_outside_the_slice_names_the_slice(args, needles):
    """It said 'cube 1 is not part of this slice' without saying why or which cubes are."""
    assert_clean_error(run_main("plan", "--samples", "5", *args), *needles)


def test_no_limits_help_names_both_limits():
    """docs/contract.md: --no-limits allows more --samples OR a pod of more than 256 cubes; the
    help named only the samples."""
    from tpusim import limits

    r = run_main("plan", "--help")
    flat = " ".join(r.stdout.replace("│", " ").split())
    assert f"a pod of more than {limits.PLAN_STATIC_CUBES} cubes" in flat
