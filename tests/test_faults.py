"""Crash safety of result files and determinism: torn writes, SIGKILL and SIGINT during
`simulate` and `sweep`, resume, column-stable CSV, parquet in parts, byte-identical JSON."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import REPO, assert_clean_error, run_main

from tpusim.errors import TpusimError
from tpusim.rows import open_sink, parts_dir, read_rows
from tpusim.sweeps import load_sweep, run_sweep

GROUPS = [[{"point_id": "a", "x": 1, "point_rows": 2}, {"point_id": "a", "x": 2, "point_rows": 2}],
          [{"point_id": "b", "x": 3, "point_rows": 1, "error": "bad [model] value"}],
          [{"point_id": "c", "x": 4, "y": "new column", "point_rows": 3},
           {"point_id": "c", "x": 5, "point_rows": 3}, {"point_id": "c", "x": 6, "point_rows": 3}]]


def _written(path):
    with open_sink(path) as sink:
        for group in GROUPS:
            sink.write(group)
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_cut_at_any_byte_keeps_exactly_the_complete_groups(tmp_path, suffix):
    full = _written(tmp_path / f"full{suffix}")
    rows = read_rows(tmp_path / f"full{suffix}")
    xs = [1, 2, 3, 4, 5, 6]
    assert [r["x"] for r in rows] == ([str(x) for x in xs] if suffix == ".csv" else xs)
    path = tmp_path / f"cut{suffix}"
    for cut in range(len(full) + 1):
        path.write_bytes(full[:cut])
        with open_sink(path, resume=True, group_key="point_id", group_size="point_rows") as sink:
            kept = [r["point_id"] for r in sink.existing]
        # whole groups only, in order: a, a | b | c, c, c
        assert kept in ([], ["a", "a"], ["a", "a", "b"], ["a", "a", "b", "c", "c", "c"]), (cut, kept)
        assert read_rows(path) == sink.existing  # the file was cut back to exactly those rows


def test_csv_header_is_the_union_of_every_row(tmp_path):
    """bug (issue 11): a first error row fixed the header without the result columns, and the
    results of every later point were dropped."""
    path = tmp_path / "u.csv"
    _written(path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["point_id", "x", "point_rows", "error", "y"]
    assert frame["x"].tolist() == [1, 2, 3, 4, 5, 6] and frame.loc[3, "y"] == "new column"
    assert frame.loc[2, "error"] == "bad [model] value"


def test_parquet_parts_survive_and_merge(tmp_path):
    path = tmp_path / "p.parquet"
    sink = open_sink(path)
    sink.write(GROUPS[0])
    sink.write(GROUPS[2])  # not closed: as after a SIGKILL
    assert not path.exists() and len(list(parts_dir(path).glob("*.parquet"))) == 2
    assert [r["x"] for r in read_rows(path)] == [1, 2, 4, 5, 6]
    with open_sink(path, resume=True) as again:
        assert len(again.existing) == 5
        again.write(GROUPS[1])
    assert not parts_dir(path).exists()
    assert sorted(pd.read_parquet(path)["x"]) == [1, 2, 3, 4, 5, 6]


def test_parquet_without_pyarrow_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = tmp_path / "x.parquet"
    assert_clean_error(run_main("simulate", "palm-540b-50d", "-n", "2", "--days", "1", "--out", str(out)),
                       "--out", "pip install pyarrow", ".csv")


# --- sweeps -------------------------------------------------------------------------------------

def _sweep(tmp_path, grid: str, kind: str = "estimate", base: str = "workloads/palm-8b.toml"):
    path = tmp_path / "sweep.toml"
    head = f'[sweep]\nkind = "{kind}"\n' + (f'base = "{base}"\n' if base else "")
    path.write_text(head + f"[grid]\n{grid}\n")
    return load_sweep(path)


def _table(path, key: list[str]) -> pd.DataFrame:
    """Rows sorted by `key`, columns by name (points finish, and columns first appear, in any order)."""
    frame = pd.DataFrame(read_rows(path))
    return frame[sorted(frame.columns)].sort_values(key).reset_index(drop=True)


def _cut_last_line(path, keep_bytes: int) -> None:
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last + keep_bytes])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_resume_after_a_torn_write_equals_an_uninterrupted_run(tmp_path, suffix):
    spec = _sweep(tmp_path, "global_batch_seqs = [128, 256, 512, 1024]\nchip = ['v4', 'v9']")
    whole = tmp_path / f"whole{suffix}"
    run_sweep(spec, whole)
    cut = tmp_path / f"cut{suffix}"
    run_sweep(spec, cut)
    if suffix == ".parquet":  # a SIGKILL before close: the parts of 5 points, no merged file
        frame = pd.read_parquet(cut)
        cut.unlink()
        parts = parts_dir(cut)
        parts.mkdir()
        for i in range(5):
            frame.iloc[i:i + 1].to_parquet(parts / f"part-{i:06d}.parquet", index=False)
        (parts / "part-000005.parquet.tmp").write_bytes(b"PAR1 torn")
    else:
        _cut_last_line(cut, 17)  # a crash in the middle of the last row
    result = run_sweep(spec, cut, resume=True)
    assert result.ran_points == (3 if suffix == ".parquet" else 1)
    a, b = (_table(p, ["point_id"]) for p in (whole, cut))
    pd.testing.assert_frame_equal(a, b)
    assert b["point_id"].is_unique and len(b) == 8


def test_a_point_cut_short_runs_again(tmp_path):
    """A plan point writes one row per slice size; a crash between them leaves a partial point,
    which resume drops and runs again (point_rows says how many rows a point has)."""
    spec = _sweep(tmp_path, "availability = [0.99, 0.995]\nsamples = [5]\nchips = [4096]", kind="plan",
                  base="")
    out = tmp_path / "plan.csv"
    run_sweep(spec, out)
    lines = out.read_text().splitlines(keepends=True)
    per_point = int(pd.read_csv(out)["point_rows"].iloc[0])
    assert per_point > 2 and len(lines) == 1 + 2 * per_point
    out.write_text("".join(lines[:-2]))  # the last point lost its last two rows
    assert run_sweep(spec, out, resume=True).ran_points == 1
    frame = pd.read_csv(out)
    assert len(frame) == 2 * per_point and frame.groupby("point_id").size().tolist() == [per_point] * 2


def test_resume_into_another_sweeps_file_is_refused(tmp_path):
    out = tmp_path / "o.jsonl"
    run_sweep(_sweep(tmp_path, "global_batch_seqs = [256]"), out)
    assert run_sweep(_sweep(tmp_path, "global_batch_seqs = [256, 512]"), out, resume=True).ran_points == 1
    for other in (_sweep(tmp_path, "slices = [1]"),
                  _sweep(tmp_path, "global_batch_seqs = [256]", base="workloads/palm-62b.toml")):
        with pytest.raises(TpusimError, match="holds rows of a different sweep"):
            run_sweep(other, out, resume=True)
    assert len(read_rows(out)) == 2  # nothing written by the refused runs


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("o.csv", b'name,"value\n', "not a file this command wrote (no point_id column)"),  # was appended to
    ("o.jsonl", b'{"a": 1}\n', "not a file this command wrote (no point_id column)"),
    ("o.parquet", b"PAR1 not really", "not a readable parquet file"),  # was a pyarrow traceback
])
def test_resume_into_a_file_tpusim_did_not_write_is_refused(tmp_path, name, content, needle):
    out = tmp_path / name
    out.write_bytes(content)
    sweep = _sweep(tmp_path, "global_batch_seqs = [256]")
    with pytest.raises(TpusimError, match=re.escape(needle)):
        run_sweep(sweep, out, resume=True)
    assert out.read_bytes() == content  # left as it was


def test_resume_into_a_simulate_table_is_refused(tmp_path):
    out = tmp_path / "reps.jsonl"
    out.write_text('{"replication": 0, "job": "*", "goodput": 0.5, "point_id": "x"}\n')
    with pytest.raises(TpusimError, match="not a sweep's results file"):  # was "sweep_id None here"
        run_sweep(_sweep(tmp_path, "global_batch_seqs = [256]"), out, resume=True)


def test_a_sweep_whose_points_all_fail_exits_non_zero(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nkind = "estimate"\nbase = "workloads/palm-8b.toml"\n'
                     '[grid]\nchip = ["v9", "v8"]\n')
    result = run_main("sweep", str(sweep), "--out", str(tmp_path / "o.csv"))
    assert result.returncode != 0
    assert "unknown chip" in result.stdout  # the error column is shown, its text intact


# --- signals (subprocesses, the way a user's terminal or a scheduler sends them) -------------------

def _start(*args, cwd=REPO):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.Popen([sys.executable, "-m", "tpusim", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _wait_for(predicate, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    assert predicate(), "timed out"


def test_sigkill_during_a_parquet_simulation_keeps_finished_replications(tmp_path):
    out = tmp_path / "reps.parquet"
    proc = _start("simulate", "palm-540b-50d", "-n", "400", "--workers", "1", "--out", str(out))
    parts = parts_dir(out)
    _wait_for(lambda: parts.is_dir() and len(list(parts.glob("part-*.parquet"))) >= 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    rows = pd.DataFrame(read_rows(out))
    reps = sorted(rows["replication"].unique())
    assert reps == list(range(len(reps))) and len(reps) >= 2  # replications 0..k, each complete
    assert (rows.groupby("replication").size() == 2).all()  # the job row and the all-jobs row


def test_sigint_during_simulate_exits_130_and_keeps_rows(tmp_path):
    out = tmp_path / "reps.csv"
    proc = _start("simulate", "palm-540b-50d", "-n", "400", "--workers", "2", "--out", str(out))
    _wait_for(lambda: out.exists() and len(out.read_text().splitlines()) > 5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["tpusim: interrupted; results already written are kept"]
    table = pd.read_csv(out)
    assert len(table) >= 4 and (table.groupby("replication").size() == 2).all()


def test_workers_end_quietly_when_their_parent_is_killed(tmp_path):
    """`kill -9` of the tpusim process alone (the OOM killer, a scheduler) used to leave its
    workers running, each printing a BrokenPipeError traceback when it finished its task."""
    out = tmp_path / "reps.csv"
    proc = _start("simulate", "palm-540b-50d", "-n", "400", "--workers", "2", "--out", str(out))
    _wait_for(lambda: out.exists() and len(out.read_text().splitlines()) > 3)
    proc.kill()  # the parent only, not its process group
    proc.wait(timeout=30)  # reaped: what is left in its process group are its workers

    def workers_gone() -> bool:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    _wait_for(workers_gone, timeout=20)
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err


def test_sigkill_during_a_sweep_then_resume_equals_an_uninterrupted_run(tmp_path):
    sweep = tmp_path / "sim.toml"
    sweep.write_text('[sweep]\nkind = "simulate"\nbase = "scenarios/palm-540b-50d.toml"\n[grid]\n'
                     '"recovery.checkpoint_save_s" = [10, 20, 30, 40, 50]\nreplications = [3]\n'
                     'days = [10]\n')
    out = tmp_path / "out.jsonl"
    proc = _start("sweep", str(sweep), "--out", str(out), "--workers", "2")
    _wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    spec = load_sweep(sweep)
    resumed = run_sweep(spec, out, resume=True, workers=1)
    assert resumed.skipped_points >= 1
    whole = tmp_path / "whole.jsonl"
    run_sweep(spec, whole, workers=2)
    pd.testing.assert_frame_equal(_table(whole, ["point_id", "job"]), _table(out, ["point_id", "job"]))


# --- determinism --------------------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_json_across_workers_and_threads(monkeypatch):
    args = ("simulate", "palm-540b-50d", "-n", "4", "--days", "10", "--seed", "3", "--json")
    one = run_main(*args, "--workers", "1")
    two = run_main(*args, "--workers", "2")
    assert one.returncode == 0 and one.stdout == two.stdout
    plan = ("plan", "--chips", "4096", "--samples", "30", "--seed", "5", "--json")
    monkeypatch.setenv("TPUSIM_THREADS", "1")
    single = run_main(*plan)
    monkeypatch.setenv("TPUSIM_THREADS", "2")
    assert single.returncode == 0 and run_main(*plan).stdout == single.stdout
    assert json.loads(single.stdout)["seed"] == 5
