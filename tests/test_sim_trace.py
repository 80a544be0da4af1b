"""Exact event traces for tiny scenarios: a failure at a known time gives exactly the expected
badput (hand-computed timelines below; tolerance 1e-6 s), plus accounting invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tpusim.sim import scenario_from_dict, simulate
from tpusim.sim.engine import run_replication
from tpusim.sim.jobs import plan_jobs
from tpusim.sim.world import CATEGORIES

HOUR = 3600.0


def tiny(ocs: bool = True, inject=(), spare_cubes=None, **recovery) -> dict:
    """One 1-cube job of 10 h of work, checkpoints every hour (60 s), restarts 60+60+60 s."""
    doc = {
        "name": "tiny",
        "pod": {"name": "tpu-v4-4096", "ocs": ocs},
        "recovery": {"ocs_reconfigure_s": 10, "tpu_init_s": 60, "program_startup_s": 60,
                     "checkpoint_interval_s": 3600, "checkpoint_save_s": 60,
                     "checkpoint_restore_s": 60, **recovery},
        "jobs": [{"name": "j", "slice": "4x4x4", "slices": 1, "mfu": 0.5, "step_time_s": 10,
                  "steps": 3600}],
        "run": {"days": 3, "seed": 1},
        "inject": list(inject),
    }
    if spare_cubes is not None:
        doc["pod"]["spare_cubes"] = spare_cubes
    return doc


def run(doc: dict) -> dict:
    sc = scenario_from_dict(doc, "test")
    plans = plan_jobs(sc)
    result = run_replication(sc, plans, np.random.SeedSequence(sc.seed), log=True)
    return result.jobs[0] | {"events": result.events}


def test_no_failure_timeline_is_exact():
    job = run(tiny())
    # reconfigure 10 + init 60 + startup 60, then 10 x 3600 s of work with 9 saves between
    assert job["end_s"] == pytest.approx(130 + 36000 + 9 * 60, abs=1e-6)
    assert job["productive"] == pytest.approx(36000, abs=1e-6)
    assert job["checkpoint_save"] == pytest.approx(540, abs=1e-6)
    assert job["wasted_progress"] == 0


def test_cube_failure_with_ocs_spare_costs_exactly_the_expected_badput():
    # the job's cube (cube 0: lowest free id) fails at 5.5 h; 5 checkpoints done by then
    # (at 130 + k * 3660 s), the last at 18430 s: 19800 - 18430 = 1370 s of work are lost.
    job = run(tiny(inject=[{"at_hours": 5.5, "cause": "host", "cube": 0, "duration_hours": 2}]))
    assert job["wasted_progress"] == pytest.approx(1370, abs=1e-6)
    assert job["ocs_reconfiguration"] == pytest.approx(20, abs=1e-6)
    assert job["tpu_initialization"] == pytest.approx(120, abs=1e-6)
    assert job["program_startup"] == pytest.approx(120, abs=1e-6)
    assert job["checkpoint_restore"] == pytest.approx(60, abs=1e-6)
    assert job["checkpoint_save"] == pytest.approx(540, abs=1e-6)
    assert job["waiting_for_resources"] == 0
    assert job["end_s"] == pytest.approx(19800 + 190 + 18000 + 4 * 60, abs=1e-6)
    assert job["interruptions_host"] == 1
    swaps = [e for e in job["events"] if e[1] == "swap"]
    assert len(swaps) == 1 and swaps[0][0] == pytest.approx(19800)


def test_static_torus_moves_the_slice_without_reconfiguration():
    job = run(tiny(ocs=False, inject=[{"at_hours": 5.5, "cause": "host", "cube": 0,
                                       "duration_hours": 2}]))
    assert job["ocs_reconfiguration"] == 0
    assert job["wasted_progress"] == pytest.approx(1370 + 10, abs=1e-6)  # no 10 s reconfig at start
    assert job["end_s"] == pytest.approx(19800 + 180 + 18000 + 4 * 60, abs=1e-6)


def test_no_spare_waits_exactly_for_the_repair_and_takes_its_cube_back_without_reconfiguring():
    # no spare: the job waits 2 h for cube 0, which goes back to its own position. The OCS is
    # still wired for it (no cross-connect changes), so the restart is init 60 + start-up 60 +
    # restore 60 = 180 s, with no 10 s reconfiguration; the only one is the first formation's.
    job = run(tiny(spare_cubes=0, inject=[{"at_hours": 5.5, "cause": "host", "cube": 0,
                                           "duration_hours": 2}]))
    assert job["waiting_for_resources"] == pytest.approx(2 * HOUR, abs=1e-6)
    assert job["ocs_reconfiguration"] == pytest.approx(10, abs=1e-6)
    assert job["end_s"] == pytest.approx(19800 + 2 * HOUR + 180 + 18000 + 4 * 60, abs=1e-6)
    kinds = [(e[0], e[1], e[4]) for e in job["events"] if e[1] in ("swap", "rejoin")]
    assert kinds == [(27000, "rejoin", 0)]  # logged as a rejoin, never as a swap of 0 for 0
    states = [e[5] for e in job["events"] if e[1] == "state" and e[0] >= 27000]
    assert states[:4] == ["initializing", "starting", "restoring", "running"]


def two_cube_job(*inject, spare_cubes=0, slices=1, slice_="4x4x8") -> dict:
    """tiny()'s job on `slices` slices of `slice_` (two cubes: one with 4x4x4)."""
    doc = tiny(spare_cubes=spare_cubes, inject=[
        {"at_hours": at, "cause": "host", "cube": cube, "duration_hours": hours}
        for at, cube, hours in inject])
    doc["jobs"][0] |= {"slice": slice_, "slices": slices}
    return doc


def test_repaired_cubes_of_a_slice_go_back_to_their_own_positions():
    # a 2-cube slice (cubes 0, 1) and no spare: cube 1 fails at 5.5 h (until 8 h), cube 0 at
    # 6 h (until 7 h) while the job waits. Cube 0 comes back first: it refills its own
    # position, not cube 1's (the last hole), and cube 1 its own at 8 h: the slice is as the
    # OCS wired it, so the restart at 28800 s has no reconfiguration (180 s), and the only
    # 10 s of reconfiguration are the first formation's. Before: 0 went to 1's position and
    # 1 to 0's (two swaps, 10 s more).
    job = run(two_cube_job((5.5, 1, 2.5), (6.0, 0, 1.0)))
    events = [(e[0], e[1], e[4]) for e in job["events"] if e[1] in ("swap", "rejoin")]
    assert events == [(7 * HOUR, "rejoin", 0), (8 * HOUR, "rejoin", 1)]
    assert job["ocs_reconfiguration"] == pytest.approx(10, abs=1e-6)
    assert job["waiting_for_resources"] == pytest.approx(8 * HOUR - 19800, abs=1e-6)
    # 1370 s lost at 19800 s, as on one cube; 18000 s of work left with 4 saves
    assert job["wasted_progress"] == pytest.approx(1370, abs=1e-6)
    assert job["end_s"] == pytest.approx(8 * HOUR + 180 + 18000 + 4 * 60, abs=1e-6)


def test_a_spare_swapped_in_while_waiting_and_lost_again_leaves_the_wiring_as_it_was():
    # 2 slices of one cube (cubes 0 and 1), spares 2 and 3, both down from 1 h (cube 2 for
    # good within the run, cube 3 until 6.5 h). Cube 1 fails at 5.5 h (until 9 h): the job
    # waits; cube 0 fails at 6 h (until 8 h). At 6.5 h cube 3 fills slice 0 (a swap: the OCS
    # would have to wire it) but fails at 7 h before the job could restart; at 8 h cube 0
    # returns to slice 0, at 9 h cube 1 to slice 1. The OCS was never rewired: the restart
    # at 9 h has no reconfiguration (180 s).
    doc = two_cube_job((1.0, 2, 60.0), (1.0, 3, 5.5), (5.5, 1, 3.5), (6.0, 0, 2.0),
                       (7.0, 3, 60.0), spare_cubes=2, slices=2, slice_="4x4x4")
    job = run(doc)
    events = [(e[0], e[1], e[4]) for e in job["events"] if e[1] in ("swap", "rejoin")]
    assert events == [(6.5 * HOUR, "swap", 3), (8 * HOUR, "rejoin", 0),
                      (9 * HOUR, "rejoin", 1)]
    assert job["ocs_reconfiguration"] == pytest.approx(10, abs=1e-6)
    assert job["waiting_for_resources"] == pytest.approx(9 * HOUR - 19800, abs=1e-6)
    assert job["end_s"] == pytest.approx(9 * HOUR + 180 + 18000 + 4 * 60, abs=1e-6)


def test_a_spare_that_differs_from_the_wiring_still_reconfigures():
    # as above, but the spare (cube 3) stays in slice 0, and cube 0, back at 8 h, fills slice
    # 1's hole (the lowest free cube): both slices differ from the wiring when the job
    # restarts at 8 h, so 10 s of reconfiguration come before init, start-up and restore.
    doc = two_cube_job((1.0, 2, 60.0), (1.0, 3, 5.5), (5.5, 1, 3.5), (6.0, 0, 2.0),
                       spare_cubes=2, slices=2, slice_="4x4x4")
    job = run(doc)
    events = [(e[0], e[1], e[4]) for e in job["events"] if e[1] in ("swap", "rejoin")]
    assert events == [(6.5 * HOUR, "swap", 3), (8 * HOUR, "swap", 0)]
    assert job["ocs_reconfiguration"] == pytest.approx(20, abs=1e-6)
    assert job["waiting_for_resources"] == pytest.approx(8 * HOUR - 19800, abs=1e-6)
    assert job["end_s"] == pytest.approx(8 * HOUR + 190 + 18000 + 4 * 60, abs=1e-6)


def test_maintenance_with_notice_loses_no_progress_but_pays_a_save():
    job = run(tiny(inject=[{"at_hours": 5.5, "cause": "maintenance", "cube": 0,
                            "duration_hours": 4}]))
    assert job["wasted_progress"] == 0
    assert job["checkpoint_save"] == pytest.approx(600, abs=1e-6)
    assert job["interruptions_maintenance"] == 1


def test_job_failure_restarts_in_place_and_in_memory_replica_loses_under_one_step():
    base = run(tiny(inject=[{"at_hours": 5.5, "cause": "job"}]))
    assert base["ocs_reconfiguration"] == pytest.approx(10, abs=1e-6)  # only the first formation
    assert base["wasted_progress"] == pytest.approx(1370, abs=1e-6)
    replica = run(tiny(inject=[{"at_hours": 5.5, "cause": "job"}], in_memory_replica=True,
                       replica_restore_s=5))
    # running since 18430 s with 18000 s of progress: 18000 + 1370 = 19370 s, 19370 mod 10 = 0
    assert replica["wasted_progress"] == pytest.approx(0, abs=1e-6)
    assert replica["checkpoint_restore"] == pytest.approx(5, abs=1e-6)


def test_async_checkpoint_is_usable_only_after_its_write():
    # async: 1 s blocking snapshot, 600 s write. Failure 300 s after the 5th snapshot: that
    # write is unfinished, so the job rolls back to the 4th checkpoint.
    doc = tiny(checkpoint_async=True, checkpoint_async_block_s=1, checkpoint_save_s=600,
               inject=[{"at_hours": (130 + 5 * 3601 + 300) / HOUR, "cause": "job"}])
    job = run(doc)
    assert job["wasted_progress"] == pytest.approx(3600 + 300, abs=1e-6)


ALL_ON = {
    "name": "all-on",
    "pod": {"name": "tpu-v4-4096", "count": 2, "spare_cubes": 6},
    "failures": {
        "host": {"availability": 0.99, "mttr_hours": 6, "ttf": "weibull", "ttf_shape": 0.8,
                 "ttr": "lognormal", "ttr_shape": 0.7},
        "cube": {"mtbf_hours": 2000, "mttr_hours": 12},
        "chip": {"mtbf_hours": 2e5, "mttr_hours": 4},
        "ocs": {"mtbf_hours": 5e4},
        "link": {"mtbf_hours": 5e6},
        "job": {"mtbf_hours": 30},
    },
    "maintenance": {"cube_interval_hours": 24, "duration_hours": 4, "notice": True},
    "repair": {"crews": 12},
    "recovery": {"checkpoint_async": True, "checkpoint_async_block_s": 2},
    "jobs": [
        {"name": "big", "slice": "8x8x16", "slices": 2, "mfu": 0.5, "step_time_s": 5,
         "steps": 100000, "priority": 1, "elastic": True},
        {"name": "small", "slice": "4x8x8", "slices": 1, "mfu": 0.4, "step_time_s": 2},
    ],
    "run": {"days": 20, "seed": 3, "replications": 3},
}


def test_time_categories_sum_to_the_window_with_every_component_on():
    sc = scenario_from_dict(ALL_ON, "test")
    result = simulate(sc, workers=1)
    jobs = result.table[result.table["job"] != "*"]
    total = sum(jobs[f"{c}_s"] for c in CATEGORIES)
    np.testing.assert_allclose(total, jobs["window_s"], rtol=1e-9, atol=1e-3)
    assert (jobs[[f"{c}_s" for c in CATEGORIES]] >= -1e-6).all().all()
    t = result.table
    np.testing.assert_allclose(
        t["goodput"], t["scheduling_goodput"] * t["runtime_goodput"] * t["program_goodput"],
        rtol=1e-9)
    assert (result.summary["goodput"] > 0.1) and (t["finished"].iloc[1:].any())
    causes = {c for c, n in result.summary["interruptions"].items() if n > 0}
    assert {"host", "chip", "job", "maintenance"} <= causes


def test_same_seed_same_numbers_different_seed_different_numbers():
    sc = scenario_from_dict(ALL_ON, "test")
    a = simulate(sc, workers=1).table
    b = simulate(sc, workers=2).table  # a process pool gives the same numbers
    assert a.equals(b)
    c = simulate(scenario_from_dict({**ALL_ON, "run": {**ALL_ON["run"], "seed": 4}}, "t"),
                 workers=1).table
    assert not math.isclose(a["goodput"].sum(), c["goodput"].sum(), rel_tol=1e-12)


def test_repair_crews_behave_like_a_simpy_resource():
    import simpy

    from tpusim.sim.crews import Crews

    rng = np.random.default_rng(0)
    arrivals = np.cumsum(rng.exponential(1.0, 300))
    holds = rng.exponential(3.0, 300)

    def finish_times(kind: str) -> list[tuple[int, float]]:
        env = simpy.Environment()
        done: list[tuple[int, float]] = []
        res = simpy.Resource(env, 2) if kind == "simpy" else Crews(env, 2)

        def user(i: int):
            yield env.timeout(arrivals[i])
            if kind == "simpy":
                with res.request() as req:
                    yield req
                    yield env.timeout(holds[i])
            else:
                wait = res.acquire()
                if wait is not None:
                    yield wait
                yield env.timeout(holds[i])
                res.release()
            done.append((i, env.now))

        for i in range(arrivals.size):
            env.process(user(i))
        env.run()
        return done

    reference = finish_times("simpy")
    assert finish_times("crews") == reference
    assert max(t - arrivals[i] - holds[i] for i, t in reference) > 10  # crews did queue


def test_event_logging_does_not_change_the_numbers():
    sc = scenario_from_dict({**ALL_ON, "run": {**ALL_ON["run"], "replications": 1}}, "test")
    plans = plan_jobs(sc)
    quiet = run_replication(sc, plans, np.random.SeedSequence(9), log=False)
    logged = run_replication(sc, plans, np.random.SeedSequence(9), log=True)
    assert quiet.jobs == logged.jobs and quiet.pods == logged.pods
    assert len(logged.events) > 100 and not quiet.events


def test_elastic_job_continues_on_one_slice_then_regrows_exactly():
    # 2 data-parallel 1-cube slices, no spare. Cube 0 fails at 5.5 h for 2 h: the job keeps
    # its progress (the other slice holds the state), re-shards (start-up 60 s) and runs at half
    # rate; when the cube is back it re-forms (init 60 + start-up 60 s, 10 s restore from the
    # peer; no reconfiguration: slice 0 gets its own cube back, the OCS wiring is unchanged).
    doc = tiny(spare_cubes=0, inject=[{"at_hours": 5.5, "cause": "host", "cube": 0,
                                       "duration_hours": 2}])
    doc["jobs"][0] |= {"slices": 2, "elastic": True}
    job = run(doc)
    assert job["wasted_progress"] == pytest.approx(0, abs=1e-6)
    # 19860 s .. 27000 s at half rate: 3570 s of progress, 3570 s waiting for the lost slice
    assert job["waiting_for_resources"] == pytest.approx(3570, abs=1e-6)
    assert job["program_startup"] == pytest.approx(180, abs=1e-6)
    assert job["checkpoint_restore"] == pytest.approx(10, abs=1e-6)
    assert job["checkpoint_save"] == pytest.approx(480, abs=1e-6)
    assert job["ocs_reconfiguration"] == pytest.approx(10, abs=1e-6)  # the first formation
    assert job["end_s"] == pytest.approx(40370, abs=1e-6)
    total = sum(job[c] for c in CATEGORIES)
    assert total == pytest.approx(job["window_s"], abs=1e-6)


@pytest.mark.parametrize("ocs", [True, False])
def test_elastic_stress_keeps_the_books_balanced(ocs):
    # scarce spares, frequent failures, an elastic 4-slice job next to a rigid one
    doc = {
        "name": "stress",
        "pod": {"name": "tpu-v4-4096", "count": 2, "ocs": ocs, "spare_cubes": 2},
        "failures": {"host": {"availability": 0.98, "mttr_hours": 3, "ttr": "weibull",
                              "ttr_shape": 2.0},
                     "job": {"mtbf_hours": 10}},
        "maintenance": {"cube_interval_hours": 6, "duration_hours": 2, "notice": False},
        "jobs": [
            {"name": "elastic", "slice": "4x4x8", "slices": 4, "elastic": True, "min_slices": 2,
             "mfu": 0.5, "step_time_s": 3, "steps": 200000},
            {"name": "rigid", "slice": "4x8x8", "slices": 1, "mfu": 0.5, "step_time_s": 3},
        ],
        "run": {"days": 30, "seed": 8, "replications": 4},
    }
    result = simulate(scenario_from_dict(doc, "test"), workers=1)
    jobs = result.table[result.table["job"] != "*"]
    total = sum(jobs[f"{c}_s"] for c in CATEGORIES)
    np.testing.assert_allclose(total, jobs["window_s"], rtol=1e-9, atol=1e-3)
    assert (jobs[[f"{c}_s" for c in CATEGORIES]] >= -1e-6).all().all()
    elastic = jobs[jobs["job"] == "elastic"]
    assert (elastic["productive_s"] <= 200000 * 3 + 1e-6).all()
    assert elastic["interruptions"].min() > 10


def test_failure_during_recovery_needs_a_new_reconfiguration():
    # cube 0 fails at 5.5 h (19800 s): spare cube 1 swapped in, recovery starts (10 s reconfigure,
    # then 60 s init). Cube 1 fails at 19840 s, during init: another spare, and the slice must
    # be reconfigured again (10 s) before init, start-up and restore run in full.
    job = run(tiny(inject=[{"at_hours": 5.5, "cause": "host", "cube": 0, "duration_hours": 2},
                           {"at_hours": 19840 / HOUR, "cause": "host", "cube": 1,
                            "duration_hours": 2}]))
    assert job["ocs_reconfiguration"] == pytest.approx(30, abs=1e-6)
    assert job["tpu_initialization"] == pytest.approx(60 + 30 + 60, abs=1e-6)
    assert job["checkpoint_restore"] == pytest.approx(60, abs=1e-6)
    assert job["wasted_progress"] == pytest.approx(1370, abs=1e-6)
    assert job["interruptions_host"] == 2
    assert job["end_s"] == pytest.approx(19840 + 190 + 18000 + 4 * 60, abs=1e-6)
