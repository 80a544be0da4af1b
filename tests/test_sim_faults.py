"""Exact traces of the second-pass failure model: loss spikes (repeated steps), silent data
corruption found late, the intra-cube components, pools with host selection and preemption,
chained jobs, and badput by cause. Timelines are hand-computed below (tolerance 1e-6 s); the
job is test_sim_trace's tiny one: 10 h of work in 10 s steps, checkpoints every 3600 s of
compute (60 s saves, at wall 130 + k x 3660 s), restarts of 60 + 60 + 60 s (+ 10 s OCS)."""

from __future__ import annotations

import pytest
from test_sim_trace import run, tiny

from tpusim.sim.world import CATEGORIES

HOUR = 3600.0


def total(job: dict) -> float:
    return sum(job[c] for c in CATEGORIES)


def test_loss_spike_repeats_the_steps_back_to_a_checkpoint_far_enough():
    # at 5.5 h (19800 s) the job has 19370 s of progress; 200 steps back is 17370 s, and the
    # last checkpoint at or below it is the one at 14400 s: 4970 s of steps are repeated.
    doc = tiny(inject=[{"at_hours": 5.5, "cause": "loss_spike", "job": "j"}])
    doc["failures"] = {"loss_spike": {"per_step": 1e-9, "rollback_steps": 200,
                                      "skip_batches": 300}}
    job = run(doc)
    assert job["repeated_steps"] == pytest.approx(4970, abs=1e-6)
    assert job["wasted_progress"] == 0
    assert job["checkpoint_restore"] == pytest.approx(60, abs=1e-6)  # from storage
    assert job["ocs_reconfiguration"] == pytest.approx(10, abs=1e-6)  # no new cubes
    assert job["interruptions_loss_spike"] == 1
    # restart 180 s at 19800 s; 21600 s of work left with 5 saves
    assert job["end_s"] == pytest.approx(19980 + 21600 + 5 * 60, abs=1e-6)
    assert job["badput_loss_spike"] == pytest.approx(4970 + 180, abs=1e-6)
    assert total(job) == pytest.approx(job["window_s"], abs=1e-6)


def test_silent_corruption_found_later_goes_back_before_it():
    # corrupted at 5.5 h (progress 19370 s), found at 7.5 h (27000 s): 7 checkpoints done by
    # then (the last at 25750 s, progress 25200 s), progress 26450 s. Every checkpoint above
    # 19370 s holds corrupted state: back to 18000 s, 8450 s of work wasted.
    doc = tiny(inject=[{"at_hours": 5.5, "cause": "sdc", "job": "j", "duration_hours": 2}])
    job = run(doc)
    assert job["wasted_progress"] == pytest.approx(8450, abs=1e-6)
    assert job["interruptions_sdc"] == 1
    assert job["end_s"] == pytest.approx(27000 + 180 + 18000 + 4 * 60, abs=1e-6)
    assert total(job) == pytest.approx(job["window_s"], abs=1e-6)


def test_corruption_rolled_back_by_an_earlier_failure_is_never_found():
    # a job failure at 6 h (before the corruption is found) rolls back to 18000 s, below the
    # corrupted 19370 s: the corruption is gone with it
    doc = tiny(inject=[{"at_hours": 5.5, "cause": "sdc", "job": "j", "duration_hours": 2},
                       {"at_hours": 6.0, "cause": "job", "job": "j"}])
    job = run(doc)
    assert job["interruptions_sdc"] == 0 and job["interruptions_job"] == 1
    assert job["wasted_progress"] == pytest.approx(21600 - 130 - 5 * 60 - 18000, abs=1e-6)


@pytest.mark.parametrize("cause", ["hbm", "ici_link", "chip"])
def test_intra_cube_components_take_the_cube_down_like_a_host(cause):
    job = run(tiny(inject=[{"at_hours": 5.5, "cause": cause, "cube": 0, "duration_hours": 2}]))
    assert job["wasted_progress"] == pytest.approx(1370, abs=1e-6)
    assert job[f"interruptions_{cause}"] == 1
    assert job["end_s"] == pytest.approx(19800 + 190 + 18000 + 4 * 60, abs=1e-6)


def pools_doc(**pools) -> dict:
    doc = tiny(spare_cubes=2, inject=[{"at_hours": 5.5, "cause": "host", "cube": 0,
                                       "duration_hours": 2}])
    doc["pools"] = pools
    return doc


def test_warm_standby_needs_no_host_selection():
    # the initial placement selects hosts (100 s, so the 5th checkpoint is at wall 18530 s and
    # 1270 s of work are lost at 19800 s); the failed cube's place goes to the slice's warm
    # standby (cube 1), wired in with the OCS only
    job = run(pools_doc(warm_standbys=1, selection_s=100))
    assert job["host_selection"] == pytest.approx(100, abs=1e-6)
    assert job["wasted_progress"] == pytest.approx(1270, abs=1e-6)
    swaps = [e for e in job["events"] if e[1] == "swap"]
    assert [e[4] for e in swaps] == [1]
    assert job["end_s"] == pytest.approx(19800 + 190 + 18000 + 4 * 60, abs=1e-6)


def test_working_pool_and_spare_pool_cost_selection_and_preemption():
    job = run(pools_doc(selection_s=100))  # the spare comes from the working pool
    assert job["host_selection"] == pytest.approx(200, abs=1e-6)
    job = run(pools_doc(selection_s=100, spare_pool=2, preemption_s=1000))
    # both spares run preemptible work: taking one costs selection + preemption
    assert job["host_selection"] == pytest.approx(100 + 1100, abs=1e-6)
    assert job["badput_host"] == pytest.approx(1270 + 1100 + 190, abs=1e-6)
    assert total(job) == pytest.approx(job["window_s"], abs=1e-6)


def test_a_job_after_another_starts_when_it_ends():
    doc = tiny()
    doc["jobs"].append({**doc["jobs"][0], "name": "next", "after": "j", "steps": 360})
    sc_jobs = run(doc | {"run": {"days": 3, "seed": 1}})
    assert sc_jobs["end_s"] == pytest.approx(130 + 36000 + 9 * 60, abs=1e-6)
