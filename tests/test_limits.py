"""Bounded resources (`tpusim.limits`, `tpusim.sim.budget`): work and memory are estimated
before a run starts; a runaway is one line naming the cause and the limit, and `--no-limits`
runs it anyway."""

from __future__ import annotations

import pytest
from conftest import REPO, assert_clean_error, run_main

from tpusim import limits
from tpusim.sim import load_scenario, scenario_from_dict
from tpusim.sim.budget import expected_events
from tpusim.sim.engine import run_replication
from tpusim.sim.jobs import plan_jobs
from tpusim.sim.replicate import replication_seeds

PALM = (REPO / "scenarios" / "palm-540b-50d.toml").read_text()


def _scenario(tmp_path, old: str, new: str) -> str:
    assert old in PALM
    path = tmp_path / "s.toml"
    path.write_text(PALM.replace(old, new))
    return str(path)


@pytest.mark.parametrize(("old", "new", "needles"), [
    ("mttr_hours = 48", "mttr_hours = 1e-300", ("[failures.host]", "mttr 1e-300 h", "limit of 1e+08")),
    ("[repair]", "[maintenance]\ncube_interval_hours = 1e-300\nduration_hours = 1\n\n[repair]",
     ("[maintenance] every 1e-300 h", "limit of 1e+08")),
    ("checkpoint_interval_s = \"auto\"", "checkpoint_interval_s = 1e-9", ("checkpoints every 1e-09 s",)),
])
def test_runaway_simulations_are_refused_up_front(tmp_path, old, new, needles):
    result = run_main("simulate", _scenario(tmp_path, old, new))
    assert_clean_error(result, *needles, "--no-limits")


def test_the_estimate_matches_the_events_a_run_counts():
    for name in ("palm-540b-50d", "multi-job-v4", "ironwood-9216"):
        sc = load_scenario(name)
        run = run_replication(sc, plan_jobs(sc), replication_seeds(sc.seed, 1)[0], log=False)
        expected = sum(expected_events(sc).values())
        assert expected / 2 < run.n_events < 2 * expected, (name, expected, run.n_events)


def test_events_scale_with_replications_and_days(monkeypatch):
    sc = load_scenario("palm-540b-50d")
    per_rep = sum(expected_events(sc).values())  # 2048 hosts x 1200 h / (9552 h + 48 h) x 2 = 512
    assert per_rep == pytest.approx(2 * 2048 * 1200 / (9552 + 48))
    monkeypatch.setattr(limits, "SIM_EVENTS", 50)  # 3 replications x 2 days: 3 x 512 x 2/50 = 61
    assert_clean_error(run_main("simulate", "palm-540b-50d", "-n", "3", "--days", "2"),
                       "over 3 replication(s)", "about 61.4", "limit of 50")
    ok = run_main("simulate", "palm-540b-50d", "-n", "3", "--days", "2", "--no-limits", "--workers", "1",
                  "--json")
    assert ok.returncode == 0, ok.stderr


def test_many_failure_processes_are_refused(monkeypatch):
    monkeypatch.setattr(limits, "SIM_PROCESSES", 100)
    assert_clean_error(run_main("simulate", "palm-540b-50d"), "failure processes", "host: 2048")


def test_plan_samples_ceiling(monkeypatch):
    assert_clean_error(run_main("plan", "--samples", "100000000000"), "--samples", "limit of 1e+05",
                       "--no-limits")
    monkeypatch.setattr(limits, "PLAN_SAMPLES", 10)
    args = ("plan", "--slice", "8x8x8", "--samples", "20", "--json")
    assert_clean_error(run_main(*args), "limit of 10")
    assert run_main(*args, "--no-limits").returncode == 0


def test_sweep_points_ceiling_and_workers(monkeypatch, tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nkind = "estimate"\nbase = "palm-8b"\n[grid]\nglobal_batch_seqs = [256, 512]\n')
    monkeypatch.setattr(limits, "SWEEP_POINTS", 1)
    out = tmp_path / "o.jsonl"
    assert_clean_error(run_main("sweep", str(sweep), "--out", str(out)), "grid points", "limit of 1")
    assert not out.exists()
    assert run_main("sweep", str(sweep), "--out", str(out), "--no-limits").returncode == 0
    assert_clean_error(run_main("sweep", str(sweep), "--out", str(tmp_path / "p.csv"), "--workers", "100000"),
                       "--workers", "per CPU")
    assert_clean_error(run_main("simulate", "palm-540b-50d", "--workers", "0"), "--workers")


def test_job_submitted_after_the_end_is_an_error_not_a_crash():
    doc = {"pod": {"name": "tpu-v4-4096"}, "run": {"days": 2},
           "jobs": [{"name": "late", "slice": "8x8x8", "mfu": 0.5, "step_time_s": 1, "submit_hours": 100}]}
    with pytest.raises(Exception, match="submitted at 100 h, after the run ends"):
        scenario_from_dict(doc, "t.toml")
