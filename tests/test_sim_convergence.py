"""The discrete-event simulation converges to the closed forms (analytic and simulated agree).

Sources: Young (CACM 1974) and Daly (FGCS 2006) intervals and the first-order waste model,
Meta's ETTR estimator (Kokolis et al., HPCA 2025, arXiv:2410.21680); the exact renewal-reward
goodput for Poisson interruptions is derived in tpusim/sim/analytic.py.
Tolerances: 4 standard errors of the mean over independent replications (sigma is printed in
the assertion message), plus, for first-order formulas, their own neglected second-order term.
Runs are sized so that sigma is well below the effects being checked.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tpusim.sim import analytic, scenario_from_dict, simulate
from tpusim.units import DAY_S, HOUR_S


def job_failure_scenario(mtbf_h: float, interval_s: float | str, save_s: float, days: float,
                         reps: int, seed: int = 11, **recovery) -> dict:
    """One 1-cube job with job-level Poisson interruptions only; restart = 60 + 60 + 60 s."""
    return {
        "name": "poisson",
        "pod": {"name": "tpu-v4-4096"},
        "failures": {"job": {"mtbf_hours": mtbf_h}},
        "recovery": {"tpu_init_s": 60, "program_startup_s": 60, "checkpoint_restore_s": 60,
                     "checkpoint_interval_s": interval_s, "checkpoint_save_s": save_s, **recovery},
        "jobs": [{"name": "j", "slice": "4x4x4", "mfu": 0.5, "step_time_s": 1.0}],
        "run": {"days": days, "seed": seed, "replications": reps},
    }


def runtime_goodputs(doc: dict) -> np.ndarray:
    result = simulate(scenario_from_dict(doc, "test"), workers=2)
    table = result.table
    return table[table["job"] == "*"]["runtime_goodput"].to_numpy()


def mean_sigma(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


RESTART_S = 180.0


def test_matches_exact_poisson_goodput_where_first_order_is_poor():
    # M = 2 h, tau = 30 min: lambda*tau = 0.25, first order is off by ~0.011; the exact form is not.
    m, tau, delta = 2 * HOUR_S, 1800.0, 60.0
    g = runtime_goodputs(job_failure_scenario(2, tau, delta, days=300, reps=8))
    mean, sigma = mean_sigma(g)
    exact = analytic.exact_runtime_goodput(delta, tau, m, RESTART_S)
    first = 1 - analytic.first_order_waste(delta, tau, m, RESTART_S)
    assert sigma < 0.002
    assert abs(mean - exact) < 4 * sigma, (mean, exact, sigma)
    assert abs(exact - first) > 4 * sigma  # the test can tell the two apart


def test_converges_to_first_order_waste_and_meta_ettr_at_daly_interval():
    # M = 20 h, delta = 60 s, tau = Daly: second-order terms ~ (lambda (tau + delta + R))^2 / 2.
    m, delta = 20 * HOUR_S, 60.0
    tau = analytic.daly_interval(delta, m)
    g = runtime_goodputs(job_failure_scenario(20, "auto", delta, days=1200, reps=8))
    mean, sigma = mean_sigma(g)
    second = (( tau + delta + RESTART_S) / m) ** 2 / 2
    first = 1 - analytic.first_order_waste(delta, tau, m, RESTART_S)
    ettr = analytic.meta_ettr(m, RESTART_S, tau, delta)
    exact = analytic.exact_runtime_goodput(delta, tau, m, RESTART_S)
    assert sigma < 0.001
    assert abs(mean - exact) < 4 * sigma, (mean, exact, sigma)
    assert abs(mean - first) < 4 * sigma + second, (mean, first, sigma, second)
    assert abs(mean - ettr) < 4 * sigma + second, (mean, ettr, sigma, second)


def test_young_daly_interval_beats_twice_and_half():
    # Common random numbers: job-level failure times do not depend on the job's state, so the
    # three runs see the same interruptions and the paired differences are tight.
    m, delta = 2 * HOUR_S, 120.0
    tau = analytic.daly_interval(delta, m)
    runs = {f: runtime_goodputs(job_failure_scenario(2, tau * f, delta, days=150, reps=6))
            for f in (0.5, 1.0, 2.0)}
    for f in (0.5, 2.0):
        diff = runs[1.0] - runs[f]
        mean, sigma = mean_sigma(diff)
        assert mean > 4 * sigma and mean > 0.01, (f, mean, sigma)


@pytest.mark.parametrize("clock", ["wall", "compute"])
def test_hardware_failures_with_ocs_spares_match_the_exact_form(clock):
    # 2 slices of 48 cubes on 2 v4 pods, exponential host failures, fast repairs (spares always
    # there): the job sees Poisson interruptions at rate hosts / MTBF, and each costs the OCS
    # reconfiguration on top of the restart. On the compute clock a host fails only while the
    # job computes on its cube.
    host_mtbf_h, mttr_h = 2000.0, 2.0
    doc = {
        "name": "palm-like",
        "pod": {"name": "tpu-v4-4096", "count": 2},
        "failures": {"clock": clock, "host": {"mtbf_hours": host_mtbf_h, "mttr_hours": mttr_h}},
        "recovery": {"tpu_init_s": 60, "program_startup_s": 60, "checkpoint_restore_s": 60,
                     "ocs_reconfigure_s": 10, "checkpoint_save_s": 60,
                     "checkpoint_interval_s": 1800},
        "jobs": [{"name": "palm", "slice": "12x16x16", "slices": 2, "mfu": 0.46,
                  "step_time_s": 17.6}],
        "run": {"days": 100, "seed": 5, "replications": 6},
    }
    result = simulate(scenario_from_dict(doc, "test"), workers=2)
    whole = result.table[result.table["job"] == "*"]
    g = whole["runtime_goodput"].to_numpy()
    mean, sigma = mean_sigma(g)
    m = host_mtbf_h * HOUR_S / (2 * 48 * 16)
    form = analytic.exact_runtime_goodput if clock == "wall" else analytic.exact_runtime_goodput_compute
    exact = form(60, 1800, m, RESTART_S + 10)
    assert result.summary["scheduling_goodput"] > 0.99
    assert abs(mean - exact) < 4 * sigma + 0.002, (mean, exact, sigma)
    rate = whole["interruptions_host"].mean() / (100 * DAY_S)
    # the compute clock runs while the job computes or saves (work later lost included)
    computing = 1.0 if clock == "wall" else (whole["productive_s"] + whole["checkpoint_save_s"]
                                             + whole["wasted_progress_s"]).mean() / (100 * DAY_S)
    assert rate * m == pytest.approx(computing, abs=0.05)


# --- failure clocks (analytic.py: wall e^{-lambda R}, compute 1 / (1 + lambda R)) ---------------

def clock_scenario(clock: str, *, memory: bool, reps: int, days: float, **recovery) -> dict:
    doc = job_failure_scenario(2, "auto" if memory else 1800.0, 0 if memory else 60.0, days=days,
                               reps=reps, seed=21, **recovery)
    doc["failures"]["clock"] = clock
    if memory:
        doc["recovery"] |= {"in_memory_replica": True, "replica_restore_s": 10}
    return doc


@pytest.mark.parametrize("clock", ["wall", "compute"])
def test_failure_clock_without_lost_work_converges_to_its_closed_form(clock):
    # M = 2 h, restart R = 1000 + 1150 + 10 s (lambda R = 0.3): wall e^-0.3 = 0.7408, compute
    # 1/1.3 = 0.7692; an in-memory replica loses under one 1 s step per interruption
    restart = 2160.0
    g = runtime_goodputs(clock_scenario(clock, memory=True, reps=6, days=200, tpu_init_s=1000,
                                        program_startup_s=1150))
    mean, sigma = mean_sigma(g)
    expected = analytic.runtime_goodput_no_loss(2 * HOUR_S, restart, clock=clock)
    other = analytic.runtime_goodput_no_loss(2 * HOUR_S, restart,
                                             clock="compute" if clock == "wall" else "wall")
    assert sigma < 0.003
    lost_step = 0.5 / (2 * HOUR_S)  # half a 1 s step lost per interruption: 7e-5
    assert abs(mean - expected) < 4 * sigma + lost_step, (mean, expected, sigma)
    assert abs(mean - other) > 4 * sigma


@pytest.mark.parametrize("clock", ["wall", "compute"])
def test_failure_clock_with_checkpoints_converges_to_its_exact_form(clock):
    # M = 2 h, tau = 30 min, delta = 60 s, R = 900 + 840 + 60 s
    m, tau, delta, restart = 2 * HOUR_S, 1800.0, 60.0, 1800.0
    g = runtime_goodputs(clock_scenario(clock, memory=False, reps=6, days=200, tpu_init_s=900,
                                        program_startup_s=840))
    mean, sigma = mean_sigma(g)
    wall = analytic.exact_runtime_goodput(delta, tau, m, restart)
    compute = analytic.exact_runtime_goodput_compute(delta, tau, m, restart)
    expected, other = (wall, compute) if clock == "wall" else (compute, wall)
    assert sigma < 0.003
    assert abs(mean - expected) < 4 * sigma, (mean, expected, sigma)
    assert abs(mean - other) > 4 * sigma
