"""Stragglers ([failures.straggler]): a slow host slows every synchronous step of the job that
holds it until it is found and drained. Exact traces (hand-computed timelines below, tolerance
1e-6 s) on test_sim_trace's tiny job: 10 h of work in 10 s steps on one v4 cube, checkpoints
every 3600 s of compute (60 s blocking saves, ending at wall 130 + k x 3660 s), restarts of
init 60 + start-up 60 + restore 60 s (+ 10 s OCS reconfiguration when a spare is wired in). A
convergence check against the closed form in tpusim.sim.analytic, the books, the keys a
scenario without stragglers keeps, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_clean_error, run_main
from test_sim_trace import run, tiny
from tomlwrite import dumps

from tpusim.sim import scenario_from_dict, simulate
from tpusim.sim.analytic import straggler_slowed_fraction
from tpusim.sim.budget import expected_events
from tpusim.sim.jobs import plan_jobs
from tpusim.sim.world import ALL_CATEGORIES, CATEGORIES

HOUR = 3600.0
# random stragglers practically never (16 hosts / 1e9 h): only the injected one
QUIET = {"mtbf_hours": 1e9, "slowdown": 2, "detection_hours": 1, "mttr_hours": 2}


def straggled(*inject, **recovery) -> dict:
    doc = tiny(inject=list(inject), **recovery)
    doc["failures"] = {"straggler": dict(QUIET)}
    return doc


def straggler_at(hours: float, found_after_h: float) -> dict:
    return {"at_hours": hours, "cause": "straggler", "job": "j", "duration_hours": found_after_h}


def total(job: dict) -> float:
    return sum(job[c] for c in ALL_CATEGORIES)


def test_a_straggler_slows_the_job_until_it_is_found_and_drained():
    # At 5.5 h = 19800 s the job has done 5 checkpoints (the 5th ends at 130 + 5 x 3660 =
    # 18430 s, holding 18000 s) and computed 1370 s more: progress 19370 s. From then on it
    # goes at half speed: the next checkpoint is 3600 - 1370 = 2230 s of progress away, 4460 s
    # of wall clock (past the drain). Found 1 h later, at 23400 s: 3600 s at half speed gave
    # 1800 s of progress (21170 s) and cost 1800 s of straggler badput. The drain interrupts
    # the job: back to 18000 s (3170 s wasted), a spare is wired in, restart 10 + 60 + 60 + 60
    # = 190 s, running again at 23590 s at full speed with 18000 s of work and 4 saves left:
    # done at 23590 + 18000 + 240 = 41830 s.
    job = run(straggled(straggler_at(5.5, 1)))
    assert job["straggler"] == pytest.approx(1800, abs=1e-6)
    assert job["wasted_progress"] == pytest.approx(3170, abs=1e-6)
    assert job["end_s"] == pytest.approx(41830, abs=1e-6)
    assert job["productive"] == pytest.approx(36000, abs=1e-6)
    assert job["checkpoint_save"] == pytest.approx(9 * 60, abs=1e-6)
    assert job["ocs_reconfiguration"] == pytest.approx(20, abs=1e-6)  # first formation + spare
    assert job["checkpoint_restore"] == pytest.approx(60, abs=1e-6)
    assert job["interruptions_straggler"] == 1
    assert sum(v for k, v in job.items() if k.startswith("interruptions_")) == 1
    # by cause: the slow compute, the lost progress and the restart follow the straggler;
    # the first start (130 s) and the 9 saves (540 s) follow nothing
    assert job["badput_straggler"] == pytest.approx(1800 + 3170 + 190, abs=1e-6)
    assert job["badput_none"] == pytest.approx(130 + 540, abs=1e-6)
    assert total(job) == pytest.approx(job["window_s"], abs=1e-6)
    events = [(e[0], e[1], e[4], e[5]) for e in job["events"]
              if e[1] in ("straggler", "cube_down", "interrupt", "swap")]
    assert events[0] == (19800, "straggler", 0, "slowdown 2")
    assert events[1:3] == [(23400, "cube_down", 0, "straggler"), (23400, "interrupt", -1, "straggler")]
    assert events[3][:3] == (23400, "swap", 1)  # the job goes on on a healthy spare
    ups = [e for e in job["events"] if e[1] == "cube_up" and e[4] == 0]
    assert len(ups) == 1 and ups[0][0] > 23400  # the drained host comes back after its repair


def test_a_straggler_during_a_blocking_save_slows_the_steps_after_it():
    # The first save runs from 3730 to 3790 s; a straggler at 3760 s leaves it alone (saves are
    # not slowed) and the steps after it run at half speed. Found at 3760 + 3600 = 7360 s:
    # 7360 - 3790 = 3570 s at half speed gave 1785 s of progress (5385 s) and cost 1785 s;
    # back to 3600 s (1785 s wasted), restart 190 s, then 32400 s of work with 8 saves:
    # done at 7550 + 32400 + 480 = 40430 s. Exactly 9 saves: the one cut by the straggler
    # is neither repeated nor charged twice.
    job = run(straggled(straggler_at(3760 / HOUR, 1)))
    assert job["straggler"] == pytest.approx(1785, abs=1e-6)
    assert job["wasted_progress"] == pytest.approx(1785, abs=1e-6)
    assert job["checkpoint_save"] == pytest.approx(9 * 60, abs=1e-6)
    assert job["end_s"] == pytest.approx(40430, abs=1e-6)
    assert total(job) == pytest.approx(job["window_s"], abs=1e-6)


def test_a_straggler_stays_through_a_restart_in_place_until_it_is_found():
    # Straggler at 19800 s (progress 19370 s), a software failure at 6 h = 21600 s: 1800 s at
    # half speed gave 900 s (20270 s) and cost 900 s; back to 18000 s (2270 s wasted), restart
    # in place 60 + 60 + 60 = 180 s. The slow host is still in the slice: the job runs on at
    # half speed from 21780 s until the drain at 23400 s (1620 s: 810 s of progress, 810 s of
    # straggler badput), loses those 810 s, restarts on a spare (190 s) at full speed at
    # 23590 s: done at 23590 + 18000 + 240 = 41830 s.
    job = run(straggled(straggler_at(5.5, 1), {"at_hours": 6, "cause": "job"}))
    assert job["straggler"] == pytest.approx(900 + 810, abs=1e-6)
    assert job["wasted_progress"] == pytest.approx(2270 + 810, abs=1e-6)
    assert job["end_s"] == pytest.approx(41830, abs=1e-6)
    assert job["interruptions_job"] == 1 and job["interruptions_straggler"] == 1
    assert job["badput_job"] == pytest.approx(2270 + 180, abs=1e-6)
    assert job["badput_straggler"] == pytest.approx(900 + 810 + 810 + 190, abs=1e-6)
    assert total(job) == pytest.approx(job["window_s"], abs=1e-6)


def test_a_straggler_strikes_only_a_computing_job():
    # at 60 s the job is still initialising (its first compute starts at 130 s): no straggler
    job = run(straggled(straggler_at(60 / HOUR, 1)))
    assert job["straggler"] == 0 and job["interruptions_straggler"] == 0
    assert job["end_s"] == pytest.approx(130 + 36000 + 9 * 60, abs=1e-6)
    assert not [e for e in job["events"] if e[1] == "straggler"]


def test_slowed_fraction_matches_the_closed_form_not_its_approximations():
    """One v4 cube (16 hosts) at 160 h per host: lambda = 0.1 / h; found after 3 h on average
    (a = lambda d = 0.3); slowdown 2; restarts take no time and lose under one 1 s step (state
    in memory, no checkpoints). Every straggler lands on the job's one cube, so a drain removes
    them all: the exact straggler badput fraction is (1 - 1/2) B / (1/lambda + B) = 0.1044
    (tpusim.sim.analytic). Independent stragglers (M/M/inf: 1 - e^-a) would give 0.1296, the
    first-order lambda d (1 - 1/s) 0.15: both are more than 4 standard errors away. Drained
    cubes come back after ~24 h (lognormal, sigma 0.1), by when the other stragglers they held
    have been found (P(not) ~ e^-8), so the job never takes a slow cube back. Tolerance:
    4 standard errors over 20 replications of 100 days (plus the start-up transient, a
    d / horizon ~ 1e-3 relative bias)."""
    doc = {
        "name": "stragglers-closed-form",
        "pod": {"name": "tpu-v4-4096"},
        "failures": {"straggler": {"mtbf_hours": 160, "slowdown": 2, "detection_hours": 3,
                                   "mttr_hours": 24, "ttr": "lognormal", "ttr_shape": 0.1}},
        "recovery": {"ocs_reconfigure_s": 0, "tpu_init_s": 0, "program_startup_s": 0,
                     "in_memory_replica": True, "replica_restore_s": 0, "checkpoint_save_s": 0,
                     "checkpoint_interval_s": 1e9},
        "jobs": [{"name": "j", "slice": "4x4x4", "mfu": 0.5, "step_time_s": 1}],
        "run": {"days": 100, "seed": 3, "replications": 20},
    }
    result = simulate(scenario_from_dict(doc, "test"), workers=1)
    rows = result.table[result.table["job"] == "*"]
    fraction = (rows["straggler_s"] / rows["window_s"]).to_numpy()
    mean, sigma = fraction.mean(), fraction.std(ddof=1) / math.sqrt(fraction.size)
    lam, d = 0.1 / HOUR, 3 * HOUR
    exact = 0.5 * straggler_slowed_fraction(lam, d)
    assert exact == pytest.approx(0.10437, abs=1e-5)
    assert sigma < 0.003
    assert abs(mean - exact) < 4 * sigma, (mean, exact, sigma)
    assert abs(mean - 0.5 * (1 - math.exp(-0.3))) > 4 * sigma
    assert abs(mean - 0.5 * 0.3) > 4 * sigma
    # one drain per healthy + slowed period: horizon / (1/lambda + B)
    slowed_s = straggler_slowed_fraction(lam, d) / (1 - straggler_slowed_fraction(lam, d)) / lam
    drains = 100 * 24 * HOUR / (1 / lam + slowed_s)
    n = rows["interruptions_straggler"].to_numpy(dtype=float)
    assert abs(n.mean() - drains) < 4 * n.std(ddof=1) / math.sqrt(n.size), (n.mean(), drains)


def test_closed_form_tends_to_lambda_d_for_rare_stragglers():
    lam, d = 1e-4 / HOUR, 2 * HOUR  # a = 2e-4
    assert straggler_slowed_fraction(lam, d) == pytest.approx(lam * d, rel=5e-4)
    assert straggler_slowed_fraction(lam, d) < lam * d


STRESS = {
    "name": "stragglers-stress",
    "pod": {"name": "tpu-v4-4096", "count": 2, "spare_cubes": 3},
    "failures": {"host": {"availability": 0.98, "mttr_hours": 3},
                 "job": {"mtbf_hours": 20},
                 "straggler": {"mtbf_hours": 2000, "slowdown": 1.7, "detection_hours": 4,
                               "detection": "weibull", "detection_shape": 1.5,
                               "mttr_hours": 8}},
    "maintenance": {"cube_interval_hours": 12, "duration_hours": 2, "notice": False},
    "recovery": {"checkpoint_async": True, "checkpoint_async_block_s": 2},
    "jobs": [
        {"name": "elastic", "slice": "4x4x8", "slices": 4, "elastic": True, "min_slices": 2,
         "mfu": 0.5, "step_time_s": 3, "steps": 300000},
        {"name": "rigid", "slice": "4x8x8", "slices": 1, "mfu": 0.5, "step_time_s": 3},
    ],
    "run": {"days": 20, "seed": 5, "replications": 3},
}


def test_books_balance_with_stragglers_elastic_shrinking_and_everything_else():
    result = simulate(scenario_from_dict(STRESS, "test"), workers=1)
    jobs = result.table[result.table["job"] != "*"]
    summed = sum(jobs[f"{c}_s"] for c in ALL_CATEGORIES)
    np.testing.assert_allclose(summed, jobs["window_s"], rtol=1e-9, atol=1e-3)
    assert (jobs[[f"{c}_s" for c in ALL_CATEGORIES]] >= -1e-6).all().all()
    by_cause = [c for c in jobs.columns if c.startswith("badput_") and c.endswith("_s")]
    badput = sum(jobs[f"{c}_s"] for c in ALL_CATEGORIES if c != "productive")
    np.testing.assert_allclose(sum(jobs[c] for c in by_cause), badput, rtol=1e-9, atol=1e-3)
    s = result.summary
    assert s["badput"]["straggler"] > 0 and s["interruptions"]["straggler"] > 0
    assert s["badput_by_cause"]["straggler"] >= s["badput"]["straggler"]
    assert s["jobs"]["elastic"]["badput"]["waiting_for_resources"] > 0  # it did run degraded


def test_same_seed_same_numbers_and_the_log_changes_nothing():
    sc = scenario_from_dict(STRESS | {"run": {"days": 10, "seed": 2, "replications": 2}}, "test")
    a = simulate(sc, workers=1).table
    b = simulate(sc, workers=2).table
    assert a.equals(b)
    from tpusim.sim.engine import run_replication
    plans = plan_jobs(sc)
    logged = run_replication(sc, plans, np.random.SeedSequence(4), log=True).jobs
    quiet = run_replication(sc, plans, np.random.SeedSequence(4), log=False).jobs
    for x, y in zip(logged, quiet, strict=True):
        for key in x:
            if isinstance(x[key], float):
                assert x[key] == pytest.approx(y[key], abs=1e-6), key
            else:
                assert x[key] == y[key], key


def test_without_stragglers_nothing_changes_and_no_key_appears():
    """A scenario without [failures.straggler] has no straggler key, column or category; one
    with stragglers that never strike (and a fixed checkpoint interval, which their rate would
    otherwise move) draws every other failure as before: the same numbers."""
    base = {
        "name": "quiet",
        "pod": {"name": "tpu-v4-4096"},
        "failures": {"host": {"availability": 0.99, "mttr_hours": 4}, "job": {"mtbf_hours": 30}},
        "recovery": {"checkpoint_interval_s": 1800},
        "jobs": [{"name": "j", "slice": "8x8x8", "mfu": 0.5, "step_time_s": 5}],
        "run": {"days": 10, "seed": 4, "replications": 2},
    }
    without = simulate(scenario_from_dict(base, "test"), workers=1)
    assert "straggler" not in without.summary["badput"]
    assert "straggler" not in without.summary["interruptions"]
    assert "straggler" not in without.summary["badput_by_cause"]
    assert not [c for c in without.table.columns if "straggler" in c]
    quiet = dict(base, failures=base["failures"] | {"straggler": dict(QUIET, mtbf_hours=1e9)})
    withq = simulate(scenario_from_dict(quiet, "test"), workers=1)
    assert withq.summary["interruptions"]["straggler"] == 0
    assert withq.summary["badput"]["straggler"] == 0
    for key in ("goodput", "productive_s"):
        assert withq.summary[key] == without.summary[key]
    assert withq.summary["interruptions"]["host"] == without.summary["interruptions"]["host"] > 0
    assert len(CATEGORIES) + 1 == len(ALL_CATEGORIES)


def test_stragglers_enter_the_failure_rate_and_the_work_estimate():
    doc = straggled()
    doc["failures"]["straggler"]["mtbf_hours"] = 1000
    sc = scenario_from_dict(doc, "test")
    # 16 hosts in the job's cube, each drained once per 1000 h on average
    assert plan_jobs(sc)[0].failure_rate_per_s == pytest.approx(16 / (1000 * HOUR), rel=1e-12)
    # appear, drained, repaired: 3 events per straggler over 3 days
    assert expected_events(sc)["failures.straggler"] == pytest.approx(3 * 16 * 72 / 1000)


def _scenario_file(tmp_path, straggler: dict, inject=()) -> str:
    doc = tiny(inject=list(inject))
    if straggler is not None:
        doc["failures"] = {"straggler": straggler}
    path = tmp_path / "s.toml"
    path.write_text(dumps(doc))
    return str(path)


@pytest.mark.parametrize(("change", "needles"), [
    ({"slowdown": 1.0}, ("slowdown", "(1, 1000]", "1.5 = steps take 50% longer")),
    ({"slowdown": 0.5}, ("slowdown", "(1, 1000]")),
    ({"slowdown": 5000}, ("slowdown",)),
    ({"mtbf_hours": -3}, ("mtbf_hours",)),
    ({"detection_hours": 0}, ("detection_hours",)),
    ({"detection_hours": -1}, ("detection_hours",)),
    ({"mttr_hours": -2}, ("mttr_hours",)),
    ({"slowdow": 2}, ("slowdow", "slowdown")),  # a typo: did you mean
    ({"ttf": "weibull"}, ("ttf", "exponential")),
    ({"detection": "gamma"}, ("detection",)),
    ({"detection": "weibull", "detection_shape": 0.01}, ("detection_shape",)),
])
def test_bad_straggler_tables_are_one_clean_line(tmp_path, change, needles):
    table = dict(QUIET) | change
    result = run_main("simulate", _scenario_file(tmp_path, table), "--json")
    assert_clean_error(result, "[failures.straggler]", *needles)


@pytest.mark.parametrize("missing", ["mtbf_hours", "slowdown", "detection_hours", "mttr_hours"])
def test_every_straggler_key_but_the_distributions_is_required(tmp_path, missing):
    table = {k: v for k, v in QUIET.items() if k != missing}
    assert_clean_error(run_main("simulate", _scenario_file(tmp_path, table)), missing)


def test_an_unknown_failures_table_suggests_straggler(tmp_path):
    doc = tiny()
    doc["failures"] = {"stragler": dict(QUIET)}
    path = tmp_path / "s.toml"
    path.write_text(dumps(doc))
    assert_clean_error(run_main("simulate", str(path)), "stragler", "[failures.straggler]")


def test_an_injected_straggler_needs_the_table(tmp_path):
    path = _scenario_file(tmp_path, None, [straggler_at(1, 1)])
    assert_clean_error(run_main("simulate", path), "straggler", "[failures.straggler]")


def test_simulate_json_and_tables_show_the_straggler(tmp_path):
    path = _scenario_file(tmp_path, QUIET, [straggler_at(5.5, 1)])
    import json
    result = run_main("simulate", path, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["badput"]["straggler"] == pytest.approx(1800, abs=1e-6)
    assert data["interruptions"]["straggler"] == 1
    assert data["badput_by_cause"]["straggler"] == pytest.approx(5160, abs=1e-6)
    assert data["jobs"]["j"]["interruptions_by_cause"]["straggler"] == 1
    readable = run_main("simulate", path)
    assert readable.returncode == 0, readable.stderr
    lines = [line for line in readable.stdout.splitlines() if "straggler" in line]
    assert len(lines) == 2  # the category and the cause
