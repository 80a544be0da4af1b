"""Sweeps: grid expansion, overrides, streaming output, resume after an interrupt, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_clean_error

from tpusim.errors import TpusimError
from tpusim.sweeps import (
    SweepSpec,
    apply_overrides,
    as_spec,
    check_grid,
    load_sweep,
    point_id,
    points,
    read_rows,
    run_sweep,
    to_frame,
)


def _estimate_sweep(tmp_path: Path, grid: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(f'[sweep]\nkind = "estimate"\nbase = "workloads/palm-8b.toml"\n[grid]\n{grid}\n')
    return path


def test_points_and_ids(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, "chips_per_slice = [64, 128]\nremat = ['full', 'none']"))
    assert spec.size == 4
    grid = points(spec)
    assert grid[0] == {"chips_per_slice": 64, "remat": "full"}
    assert grid[1] == {"chips_per_slice": 64, "remat": "none"}
    assert point_id({"a": 1, "b": 2}) == point_id({"b": 2, "a": 1})
    assert len({point_id(p) for p in grid}) == 4


def test_apply_overrides_is_a_copy():
    doc = {"training": {"global_batch_seqs": 512}}
    new = apply_overrides(doc, {"training.global_batch_seqs": 256, "chip": "v4", "run.seed": 3})
    assert new["training"]["global_batch_seqs"] == 256 and new["run"]["seed"] == 3
    assert doc["training"]["global_batch_seqs"] == 512
    with pytest.raises(TpusimError, match="is a value"):
        apply_overrides(doc, {"training.global_batch_seqs.x": 1})


def test_estimate_sweep_rows_follow_the_model(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, '"training.global_batch_seqs" = [256, 512]'))
    out = tmp_path / "out.jsonl"
    result = run_sweep(spec, out)
    assert (result.ran_points, result.errors) == (2, 0)
    rows = sorted(read_rows(out), key=lambda r: r["training.global_batch_seqs"])  # finishing order
    assert [r["training.global_batch_seqs"] for r in rows] == [256, 512]
    # the override reached the model: twice the batch, twice the tokens per step
    assert rows[1]["tokens_per_step"] == 2 * rows[0]["tokens_per_step"]


def test_resume_after_interrupt_runs_only_missing_points(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, "global_batch_seqs = [128, 256, 512]"))
    out = tmp_path / "out.csv"
    calls = []

    def stop_after_first(done, total):
        calls.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, progress=stop_after_first)
    assert len(read_rows(out)) == 1  # the finished point was written before the interrupt
    with pytest.raises(TpusimError, match="pass resume"):
        run_sweep(spec, out)
    result = run_sweep(spec, out, resume=True)
    assert (result.skipped_points, result.ran_points) == (1, 2)
    frame = to_frame(out)
    assert sorted(frame["global_batch_seqs"]) == [128, 256, 512]
    assert frame["point_id"].is_unique


def test_bad_point_becomes_error_row(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, "chip = ['v4', 'v9']"))
    out = tmp_path / "out.jsonl"
    result = run_sweep(spec, out)
    assert result.errors == 1
    rows = {r["chip"]: r for r in read_rows(out)}
    assert "unknown chip 'v9'" in rows["v9"]["error"]


def test_unknown_grid_key_is_refused_before_any_point_runs(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, "chipz = ['v4']"))
    with pytest.raises(TpusimError, match="unknown grid key 'chipz'; did you mean 'chip'"):
        run_sweep(spec, tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_a_job_of_a_scenario_is_swept_by_index_or_name():
    doc = {"jobs": [{"name": "a", "slice": "4x4x4"}, {"name": "b", "slice": "4x4x8"}]}
    out = apply_overrides(doc, {"jobs.1.slice": "8x8x8", "jobs.a.priority": 2})
    assert out["jobs"] == [{"name": "a", "slice": "4x4x4", "priority": 2},
                           {"name": "b", "slice": "8x8x8"}]
    assert doc["jobs"][1]["slice"] == "4x4x8"  # the base document is left alone
    for key, needle in (("jobs.2.slice", "use an index 0 to 1 or a name: a, b"),
                        ("jobs.slice", "name one by index or name")):
        with pytest.raises(TpusimError, match=needle):
            apply_overrides(doc, {key: "8x8x8"})


@pytest.mark.parametrize(("body", "example"), [
    ('kind = "estimate"\nbase = "workloads/dlrm-dcnv2.toml"\n[grid]\nchips_per_slice = [64]',
     "such as 'embedding.skew'"),  # a DLRM file has no training.global_batch_seqs
    ('kind = "plan"\n[grid]\nchipz = [4096]', "use chips, generation, pod, availability, slice, "
     "slices, target, samples, seed$"),  # a plan sweep has no base file to dot into
])
def test_unknown_grid_key_suggests_keys_the_sweep_can_take(tmp_path, body, example):
    (tmp_path / "s.toml").write_text(f"[sweep]\n{body}\n")
    with pytest.raises(TpusimError, match=example):
        run_sweep(load_sweep(tmp_path / "s.toml"), tmp_path / "o.jsonl")


def test_a_plan_sweep_asks_the_question_tpusim_plan_asks():
    """The defaults and Cloud TPU names of `tpusim plan` (tpusim/defaults.py): no availability
    key means 0.995 (it was an error row per point), pod = "v5p-128" means that slice."""
    from tpusim import defaults
    from tpusim.api import plan
    from tpusim.sweeps import spec_from_dict

    spec = spec_from_dict({"kind": "plan", "grid": {"pod": ["v5p-128", "v4-8"], "samples": [5]}})
    rows = run_sweep(spec, None).rows
    one = plan(pod="v5p-128", samples=5)
    assert "error" not in rows[0] and rows[0]["slice_chips"] == 64
    assert rows[0]["goodput_static"] == one.rows[0].goodput_static
    assert rows[0]["cube_availability"] == one.cube_availability
    assert one.host_availability == defaults.HOST_AVAILABILITY
    assert "less than one 64-chip cube" in rows[1]["error"]
    # slice = "v5p-128" names the same pod and slice, as tpusim plan --slice v5p-128 does
    by_slice = run_sweep(spec_from_dict({"kind": "plan", "grid": {"slice": ["v5p-128"],
                                                                   "samples": [5]}}), None).rows
    assert by_slice[0]["pod_name"] == "tpu-v5p-8960" and by_slice[0]["slice_chips"] == 64


def test_process_pool_gives_same_rows(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, "global_batch_seqs = [256, 512]"))
    run_sweep(spec, tmp_path / "one.jsonl")
    run_sweep(spec, tmp_path / "two.jsonl", workers=2)
    one = sorted(read_rows(tmp_path / "one.jsonl"), key=lambda r: r["point_id"])
    two = sorted(read_rows(tmp_path / "two.jsonl"), key=lambda r: r["point_id"])
    assert [r["step_time_s"] for r in one] == [r["step_time_s"] for r in two]


def test_unknown_output_suffix(tmp_path):
    spec = load_sweep(_estimate_sweep(tmp_path, "global_batch_seqs = [256]"))
    with pytest.raises(TpusimError, match=".csv or .jsonl or .parquet"):
        run_sweep(spec, tmp_path / "x.txt")


def test_spec_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[sweep]\nkind = "fly"\n[grid]\nx = [1]\n')
    with pytest.raises(TpusimError, match="kind must be one of"):
        load_sweep(bad)
    bad.write_text('[sweep]\nkind = "estimate"\nbase = "workloads/palm-8b.toml"\n[grid]\nx = 3\n')
    with pytest.raises(TpusimError, match="non-empty array"):
        load_sweep(bad)
    assert isinstance(load_sweep(_estimate_sweep(tmp_path, "x = [1]")), SweepSpec)


def test_cli_sweep_and_errors(cli, tmp_path):
    sweep = _estimate_sweep(tmp_path, "global_batch_seqs = [256, 512]")
    out = tmp_path / "runs" / "r.csv"
    first = cli("sweep", str(sweep), "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["ran_points"] == 2
    assert_clean_error(cli("sweep", str(sweep), "--out", str(out)), "--resume")
    again = json.loads(cli("sweep", str(sweep), "--out", str(out), "--resume", "--json").stdout)
    assert again["skipped_points"] == 2 and again["ran_points"] == 0
    assert_clean_error(cli("sweep", str(sweep)), "no output file")
    assert_clean_error(cli("sweep", str(sweep), "--out", str(tmp_path / "x.csv"), "--backend", "mpi"),
                       "--backend 'mpi' is unknown")


def test_cli_sweep_table_is_in_grid_order_whatever_order_the_file_holds(cli, tmp_path):
    """Points are appended as they finish (any order with several workers); the table the
    command prints follows the grid, so the same sweep always shows the same table."""
    sweep = _estimate_sweep(tmp_path, "global_batch_seqs = [256, 512, 1024]")
    out = tmp_path / "r.csv"
    assert cli("sweep", str(sweep), "--out", str(out), "--workers", "1", "--json").returncode == 0
    header, *rows = out.read_text().splitlines()
    assert len(rows) == 3  # one row per point: reversing the lines keeps each point whole
    out.write_text("\n".join([header, *reversed(rows)]) + "\n")
    shown = cli("sweep", str(sweep), "--out", str(out), "--resume")
    assert shown.returncode == 0, shown.stderr
    first_cells = [line.split("│")[1].strip() for line in shown.stdout.splitlines()
                   if line.startswith("│")]
    assert first_cells == ["256", "512", "1024"]


def test_plan_sweep_rows(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text('[sweep]\nkind = "plan"\n[grid]\navailability = [0.99, 0.999]\nslice = ["12x16x16"]\n'
                    'samples = [200]\n')
    out = tmp_path / "plan.jsonl"
    run_sweep(load_sweep(path), out)
    rows = sorted(read_rows(out), key=lambda r: r["availability"])  # file order: finishing order
    assert [r["availability"] for r in rows] == [0.99, 0.999]
    # TPU v4 paper's availability model (Jouppi et al. ISCA 2023): P(at least 48 of 64 cubes
    # healthy) = 0.989 at 99.0% host availability
    assert rows[0]["p_schedulable_ocs"] == pytest.approx(0.989, abs=0.001)
    assert rows[1]["cube_availability"] > rows[0]["cube_availability"]


def test_simulate_sweep_applies_overrides(tmp_path):
    path = tmp_path / "sim.toml"
    path.write_text('[sweep]\nkind = "simulate"\nbase = "scenarios/palm-540b-50d.toml"\n[grid]\n'
                    '"recovery.checkpoint_save_s" = [30, 300]\ndays = [10]\nseed = [3]\n')
    out = tmp_path / "sim.jsonl"
    run_sweep(load_sweep(path), out)
    rows = read_rows(out)
    assert sorted(r["job"] for r in rows) == ["*", "*", "palm-540b", "palm-540b"]  # one row per job
    assert not any(k.startswith("jobs_") for r in rows for k in r)  # no job names in columns
    fast, slow = sorted((r for r in rows if r["job"] == "*"),
                        key=lambda r: r["recovery.checkpoint_save_s"])
    assert "error" not in fast, fast.get("error")
    assert slow["badput_checkpoint_save_s"] > fast["badput_checkpoint_save_s"]
    assert slow["runtime_goodput"] < fast["runtime_goodput"]


def test_ctrl_c_on_parallel_sweep_stops_and_keeps_rows(tmp_path):
    """Ctrl-C at a terminal signals the whole process group: the sweep must stop at once with
    exit code 130 and one line, keep the finished rows, leave no worker behind, and resume."""
    import os
    import signal
    import subprocess
    import sys
    import time

    sweep = tmp_path / "sim.toml"
    sweep.write_text('[sweep]\nkind = "simulate"\nbase = "scenarios/palm-540b-50d.toml"\n[grid]\n'
                     '"recovery.checkpoint_save_s" = [10, 20, 30, 40, 50, 60, 70, 80]\n'
                     'replications = [25]\n')
    out = tmp_path / "out.csv"
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "tpusim", "sweep", str(sweep), "--out", str(out),
                             "--workers", "2"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 2):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["tpusim: interrupted; results already written are kept"]
    kept = len({r["point_id"] for r in read_rows(out)})
    assert 1 <= kept < 8
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no worker of the group is left
    result = run_sweep(load_sweep(sweep), out, resume=True)
    assert result.skipped_points == kept and len({r["point_id"] for r in read_rows(out)}) == 8


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parent.parent / "scenarios" / "sweeps")
                                        .glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_sweep_loads_by_name_and_its_grid_checks(path):
    # run by name as the README says; check_grid reads the base file and refuses a key it
    # cannot take, so a shipped sweep that has drifted from its base fails here, not for a user
    spec = as_spec(path.stem)
    check_grid(spec)
    assert spec.size == len(points(spec)) > 0


def test_a_simulate_sweep_may_add_stragglers_to_a_scenario_without_them(tmp_path):
    # palm-straggler-detection's base has no [failures.straggler]; the grid's dotted keys make
    # the table, so a point's run has straggler badput and the slower one loses more
    base = {"failures.straggler.mtbf_hours": 2000, "failures.straggler.detection_hours": 12,
            "failures.straggler.mttr_hours": 24, "replications": 1, "days": 5, "seed": 3}
    spec = as_spec({"kind": "simulate", "base": "scenarios/palm-540b-50d.toml",
                    "grid": {"failures.straggler.slowdown": [1.1, 2.0]} | {k: [v] for k, v in base.items()}})
    rows = [r for r in run_sweep(spec, None, workers=1).rows if r["job"] == "*"]
    lost = {r["failures.straggler.slowdown"]: r["badput_straggler_s"] for r in rows}
    assert 0 < lost[1.1] < lost[2.0]


def test_cli_sweep_table_names_swept_keys_shortly_and_says_the_fixed_ones_once(cli, tmp_path):
    # two dotted keys share the prefix 'failures.straggler.', which a narrow column cut to the
    # same 'failures.straggl…': the headers are their endings, the one-value keys go under the
    # table, and a one-job scenario shows its job's rows only (the '*' rows repeat them)
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nkind = "simulate"\nbase = "scenarios/palm-540b-50d.toml"\n[grid]\n'
                     '"failures.straggler.slowdown" = [1.1, 2.0]\n'
                     '"failures.straggler.detection_hours" = [1, 12]\n'
                     '"failures.straggler.mtbf_hours" = [2000]\n"failures.straggler.mttr_hours" = [24]\n'
                     'replications = [1]\ndays = [2]\n')
    shown = cli("sweep", str(sweep), "--out", str(tmp_path / "r.csv"), "--workers", "1")
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")][:3] == ["slowdown", "detection_hours", "job"]
    rows = [line for line in shown.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 4 and all("palm-540b" in r for r in rows)
    said = " ".join(shown.stdout.split())
    assert "at every point: failures.straggler.mtbf_hours = 2000, failures.straggler.mttr_hours = 24" in said
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 8  # the file keeps the '*' rows
