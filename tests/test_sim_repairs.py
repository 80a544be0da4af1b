"""Bad hosts, repair pipelines, diagnosis, retirement and failure profiles: counts against
renewal theory (tolerance 4 standard deviations: Poisson for counts, over replications for
fractions) and invariants that hold exactly. The bad-input catalogue of the new sections
(one line on stderr, exit 2) is at the end."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_clean_error, run_main

from tpusim.sim import scenario_from_dict, simulate
from tpusim.sim.engine import run_replication
from tpusim.sim.jobs import plan_jobs
from tpusim.sim.profiles import chips_per_component, load_profile, profile_failures
from tpusim.units import DAY_S, HOUR_S


def pod_doc(host: dict, *, days: float = 30, seed: int = 1, **tables) -> dict:
    """One v4 pod (1024 hosts), a 1-cube job, unlimited crews."""
    return {"name": "repairs", "pod": {"name": "tpu-v4-4096"},
            "failures": {"host": host}, "run": {"days": days, "seed": seed, "replications": 1},
            "jobs": [{"name": "j", "slice": "4x4x4", "mfu": 0.5, "step_time_s": 1.0}], **tables}


def one(doc: dict, seed: int = 0):
    sc = scenario_from_dict(doc, "test")
    return run_replication(sc, plan_jobs(sc), np.random.SeedSequence(seed), log=False)


NEVER_CURED = {"stages": [{"name": "repair", "mean_hours": 1, "cure": 0.0}]}


def test_bad_hosts_fail_multiplier_times_as_often():
    # 205 of 1024 hosts (20%) fail 5x as often and a repair never cures them: each host is a
    # renewal process of mean MTBF_i + 1 h, so failures = 720 h x (819/1001 + 205/201) = 1323.4
    doc = pod_doc({"mtbf_hours": 1000, "repair": "pipeline"}, repair=NEVER_CURED)
    doc["failures"]["bad_hosts"] = {"fraction": 0.2, "multiplier": 5}
    n = one(doc).fleet["unit_failures"]
    expected = 720 * (819 / 1001 + 205 / 201)
    assert abs(n - expected) < 4 * math.sqrt(expected), (n, expected)
    doc["failures"].pop("bad_hosts")
    assert one(doc).fleet["unit_failures"] < expected - 4 * math.sqrt(expected)


def test_repair_pipeline_availability_follows_its_mean():
    # automated 2 h, then with probability 0.8 manual 48 h: a repair takes 2 + 0.8 x 48 =
    # 40.4 h on average, so a host is up A = 2000 / 2040.4 of the time and a cube of 16 hosts
    # A^16 = 0.7259 (renewal theory, any stage distribution)
    doc = pod_doc({"mtbf_hours": 2000, "repair": "pipeline"}, days=200,
                  repair={"stages": [{"name": "auto", "mean_hours": 2, "escalate": 0.8,
                                      "crew": False},
                                     {"name": "manual", "mean_hours": 48}]})
    fractions = []
    for seed in range(3):
        hist = np.asarray(one(doc, seed).pods[0]["healthy_hist_s"])
        fractions.append(float((hist * np.arange(hist.size)).sum() / hist.sum() / 64))
    mean, sigma = np.mean(fractions), np.std(fractions, ddof=1) / math.sqrt(3)
    expected = (2000 / 2040.4) ** 16
    assert abs(mean - expected) < 4 * sigma + 0.005, (mean, expected, sigma)


def test_undiagnosed_failures_restart_the_job_on_the_same_hardware():
    doc = pod_doc({"mtbf_hours": 500, "mttr_hours": 1}, repair={"diagnosis": 0.0})
    doc["jobs"][0]["slice"] = "16x16x16"  # the job owns every cube: each failure is traced or not
    doc["pod"]["spare_cubes"] = 0
    doc["run"]["warm_start"] = False  # every cube healthy (and the job's) from the start
    r = one(doc)
    assert r.fleet["undiagnosed"] == r.fleet["unit_failures"] > 100
    assert r.fleet["repair_stages"] == 0
    assert r.jobs[0]["interruptions_host"] > 0
    hist = r.pods[0]["healthy_hist_s"]
    assert hist[64] == pytest.approx(sum(hist))  # no cube ever went down


def test_blamed_innocents_go_to_repair_while_the_faulty_host_stays():
    doc = pod_doc({"mtbf_hours": 500, "mttr_hours": 1}, repair={"blame_error": 1.0})
    doc["jobs"][0]["slice"] = "16x16x16"
    doc["pod"]["spare_cubes"] = 0
    doc["run"]["warm_start"] = False  # no repair starts before the first failure
    r = one(doc)
    # every traced failure of a job's host blames another; only a cube already down (its
    # hosts out of the job) is diagnosed correctly
    assert r.fleet["misblamed"] > 0.9 * r.fleet["unit_failures"] > 90
    # each traced failure starts one repair (of the blamed unit); the repairs not finished are
    # those still running at the horizon: about 2 failures per hour x 1 h repairs (Poisson)
    in_flight = r.fleet["unit_failures"] - r.fleet["undiagnosed"] - r.fleet["repair_stages"]
    assert 0 <= in_flight <= 8


def test_retirement_after_k_failures_in_the_window():
    # one failure within a year retires a host: every failure retires, nothing is repaired
    doc = pod_doc({"mtbf_hours": 5000, "mttr_hours": 1},
                  repair={"retirement": {"failures": 1, "window_hours": 8760}})
    r = one(doc)
    assert r.fleet["retired"] == r.fleet["unit_failures"] > 50
    assert r.fleet["repair_stages"] == 0
    down = 64 - np.flatnonzero(r.pods[0]["healthy_hist_s"])[0]  # fewest healthy cubes seen
    assert down > 0
    # with a replacement after 24 h on average, almost every retired host is replaced
    doc["repair"]["retirement"]["replace_hours"] = 24
    r = one(doc)
    assert r.fleet["retired"] - 20 <= r.fleet["replaced"] <= r.fleet["retired"]


def test_regeneration_restores_the_number_of_bad_hosts():
    # bad(t) = target - cured + regenerated; each tick brings it back to the target, so
    # between ticks 0 <= cured - regenerated <= target (exact)
    doc = pod_doc({"mtbf_hours": 1000, "mttr_hours": 2}, days=60)
    doc["failures"]["bad_hosts"] = {"fraction": 0.1, "multiplier": 4, "regenerate_hours": 72}
    r = one(doc)
    target = round(0.1 * 1024)
    assert r.fleet["regenerated"] > 0
    assert 0 <= r.fleet["cured"] - r.fleet["regenerated"] <= target


def test_profile_components_sum_to_the_fleet_rate():
    # on a fleet with every component of the profile, interruptions per chip-day sum to r
    from tpusim.hardware import load_pod
    from tpusim.sim.failures import Lifetime

    pod = load_pod("tpu-v4-4096")
    profile = load_profile("llama3")
    assert profile.per_chip_day == pytest.approx(419 / (16384 * 54))
    ttr = Lifetime("exponential", 48 * HOUR_S)
    r = 1e-3
    fails = profile_failures(profile, r, pod.chip, ocs=True, ttr=ttr, detect=ttr)
    per_chip_day = sum(DAY_S / f.ttf.mean_s / chips_per_component(f.component, pod.chip, ocs=True)
                       for f in fails)
    assert per_chip_day == pytest.approx(r, rel=1e-12)
    assert {f.component for f in fails} == {"chip", "hbm", "job", "link", "host", "dcn", "sdc"}


def test_profile_job_rate_and_simulated_interruptions():
    # PaLM's 2 x 3072 chips at 4.74e-4 interruptions per chip-day (Llama 3's own rate):
    # the plan's rate is r x chips; the simulated count by cause follows the shares
    doc = {"name": "profile", "pod": {"name": "tpu-v4-4096", "count": 2, "spare_cubes": 16},
           "failures": {"profile": {"name": "llama3", "mttr_hours": 48, "detection_hours": 6}},
           "jobs": [{"name": "j", "slice": "12x16x16", "slices": 2, "mfu": 0.46,
                     "step_time_s": 17.6}],
           "run": {"days": 100, "seed": 4, "replications": 1}}
    sc = scenario_from_dict(doc, "test")
    plan = plan_jobs(sc)[0]
    rate = 419 / (16384 * 54) * 6144 / DAY_S
    assert plan.failure_rate_per_s == pytest.approx(rate, rel=1e-9)
    s = simulate(sc).summary
    # interruptions strike an active job, which the job is nearly all the time (spares at hand)
    n = s["interruptions"]["total"]
    expected = rate * 100 * DAY_S
    assert abs(n - expected) < 4 * math.sqrt(expected), (n, expected)
    shares = load_profile("llama3").shares()
    chip = s["interruptions"]["chip"] + s["interruptions"]["hbm"]
    assert abs(chip - (shares["chip"] + shares["hbm"]) * n) < 4 * math.sqrt(chip + 1)


BASE = ('[pod]\nname = "tpu-v4-4096"\n[[jobs]]\nname = "j"\nslice = "8x8x8"\nmfu = 0.5\n'
        'step_time_s = 1\n')


@pytest.mark.parametrize(("extra", "needles"), [
    ('[failures.hbm]\nmtbf_hours = -5\nmttr_hours = 1\n', ("mtbf_hours",)),
    ('[failures.host]\nmtbf_hours = 5\nmttr_hours = 1\n[failures.bad_hosts]\nfraction = 1.5\n'
     'multiplier = 3\n', ("fraction",)),
    ('[failures.host]\nmtbf_hours = 5\nmttr_hours = 1\n[failures.bad_hosts]\nfraction = 0.1\n'
     'multiplier = 0.5\n', ("multiplier",)),
    ('[repair]\ndiagnosis = 1.2\n', ("diagnosis",)),
    ('[repair]\nblame_error = -0.1\n', ("blame_error",)),
    ('[[repair.stages]]\nmean_hours = 2\ncure = 2\n', ("cure",)),
    ('[[repair.stages]]\nmean_hours = 2\nescalate = 0.5\n', ("last stage",)),
    ('[repair.retirement]\nfailures = 3\nwindow_hours = 0\n', ("window_hours",)),
    ('[failures.host]\nmtbf_hours = 5\nrepair = "pipeline"\n', ("repair.stages",)),
    ('[failures.dsc]\nmtbf_hours = 5\n', ("did you mean", "sdc")),
    ('[failures]\nclock = "cpu"\n', ("clock",)),
    ('[failures.host]\nmtbf_hours = 5\nmttr_hours = 1\nttf = "weibull"\nttf_shape = 2\n'
     '[failures]\nclock = "compute"\n', ("exponential",)),
    ('[failures.profile]\nname = "llama2"\nmttr_hours = 4\n', ("llama3",)),
    ('[failures.loss_spike]\nper_step = 1e-4\n', ("rollback_steps",)),
    ('[failures.loss_spike]\nrollback_steps = 100\n', ("per_step",)),
    ('[failures.sdc]\nmtbf_hours = 1e6\n', ("detection_hours",)),
    ('[pools]\nwarm_standbys = -1\n', ("warm_standbys",)),
    ('[[inject]]\nat_hours = 1\ncause = "meteor"\n', ("cause",)),
    # a profile without its repair and detection times says what they are
    ('[failures.profile]\nname = "llama3"\n', ("mttr_hours", "mean hours to repair")),
    ('[failures.profile]\nname = "llama3"\nmttr_hours = 4\n',
     ("detection_hours", "silent data corruption", "until it is found")),
    # a pipeline repair takes its time from the stages: a crew's repair time is not ignored silently
    ('[failures.host]\nmtbf_hours = 5\nmttr_hours = 24\nrepair = "pipeline"\n'
     '[[repair.stages]]\nmean_hours = 2\n', ("mttr_hours would be ignored", "mean 2 h", "remove it")),
])
def test_bad_failure_model_input_is_one_line_and_exit_2(tmp_path, extra, needles):
    path = tmp_path / "bad.toml"
    path.write_text(BASE + extra)
    assert_clean_error(run_main("simulate", str(path)), *needles)
