"""Correctness at scale: OCS groups (an OCS joins only the cubes of its group, so a slice and
its spares share one: tpusim/topology/ocs.py), cubes of unequal sides from a chip TOML, the
O(log n) free-cube structure against a brute-force model, and the zero-cost checkpoint case.
Exact timelines are hand-computed (tolerance 1e-6 s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpusim.errors import TpusimError
from tpusim.hardware import load_pod
from tpusim.sim import scenario_from_dict, simulate
from tpusim.sim.engine import run_replication
from tpusim.sim.freecubes import FreeCubes
from tpusim.sim.jobs import plan_jobs
from tpusim.topology.shape import check_slice_shape

DATA = Path(__file__).parent / "data"
HOUR = 3600.0


def one_job(pod: str, slice_: str, slices: int = 1, inject=(), failures=None, **run) -> dict:
    return {
        "name": "scale",
        "pod": {"name": str(DATA / pod)},
        "failures": failures or {},
        "recovery": {"ocs_reconfigure_s": 10, "tpu_init_s": 60, "program_startup_s": 60,
                     "checkpoint_interval_s": 3600, "checkpoint_save_s": 60,
                     "checkpoint_restore_s": 60},
        "jobs": [{"name": "j", "slice": slice_, "slices": slices, "mfu": 0.5, "step_time_s": 10,
                  "steps": 3600}],
        "run": {"days": 3, "seed": 1, **run},
        "inject": list(inject),
    }


def run_one(doc: dict) -> tuple[dict, list]:
    sc = scenario_from_dict(doc, "test")
    result = run_replication(sc, plan_jobs(sc), np.random.SeedSequence(sc.seed), log=True)
    return result.jobs[0], result.events


def test_spares_come_from_the_slice_s_ocs_group():
    # 16 cubes per OCS group: the 12-cube slice takes cubes 0-11 of group 0, whose spares are
    # 12-15. Five of its cubes fail at 5.5 h for 2 h: four holes are filled at once, the fifth
    # waits for a repair although 48 cubes of other groups are free (they cannot be wired in).
    inject = [{"at_hours": 5.5, "cause": "host", "cube": c, "duration_hours": 2} for c in range(5)]
    job, events = run_one(one_job("pod-v4-small-ocs.toml", "8x8x12", inject=inject))
    swaps = [e for e in events if e[1] == "swap"]
    # the fifth hole (cube 4) gets the lowest repaired cube of group 0, cube 0, at 7.5 h
    assert [e[4] for e in swaps] == [12, 13, 14, 15, 0]
    assert job["waiting_for_resources"] == pytest.approx(2 * HOUR, abs=1e-6)
    assert job["waiting_fragmented_s"] == pytest.approx(2 * HOUR, abs=1e-6)
    # 19800 s + 2 h wait, restart 190 s, the 18000 s left with 4 saves
    assert job["end_s"] == pytest.approx(19800 + 2 * HOUR + 190 + 18000 + 4 * 60, abs=1e-6)


def test_random_failures_keep_every_slice_inside_one_ocs_group():
    # with the event log on, every swap's cross-connects are computed by the planner, which
    # refuses cubes of different groups; and each swap stays in its group
    doc = one_job("pod-v4-small-ocs.toml", "8x8x12", slices=3,
                  failures={"host": {"availability": 0.99, "mttr_hours": 4}}, days=20)
    doc["jobs"][0].pop("steps")
    job, events = run_one(doc)
    swaps = [e for e in events if e[1] == "swap"]
    assert len(swaps) > 20
    for e in swaps:
        failed, spare = e[5].split("cube ")[1].split(",")[0].split(" -> ")
        assert int(failed) // 16 == int(spare) // 16, e
    assert job["productive"] > 0


def test_job_that_fits_only_across_ocs_groups_is_an_input_error():
    doc = one_job("pod-v4-small-ocs.toml", "8x12x12")  # 18 cubes > 16 per OCS group
    # the message names the group size (not the 64-cube pod, where 18 cubes would fit)
    with pytest.raises(TpusimError, match=r"joins only the 16 cubes of one OCS group.*at most 16 cubes"):
        simulate(scenario_from_dict(doc, "t"))


def test_a_workload_job_on_a_pod_of_a_chip_outside_the_catalog_is_estimated_on_that_chip():
    # the pod names tests/data/chip-v4-hostcube.toml; the job's estimate must load that file
    # (not look the chip's name up in the catalog), and cut slices from the pods beside it
    doc = one_job("pod-hostcube-256.toml", "4x4x4")
    job = doc["jobs"][0]
    for key in ("mfu", "step_time_s"):
        job.pop(key)
    job["workload"] = "palm-8b"
    (plan,) = plan_jobs(scenario_from_dict(doc, "t"))
    assert plan.rate_source == "estimate"
    assert 0.3 < plan.mfu < 0.8 and plan.work_s == pytest.approx(3600 * plan.step_time_s)


def test_a_bad_slice_is_not_blamed_on_the_slices_key():
    doc = one_job("pod-v4-small-ocs.toml", "v4-2000", slices=2)
    with pytest.raises(TpusimError) as info:
        scenario_from_dict(doc, "t")
    assert "nearest legal sizes" in str(info.value) and "typo" not in str(info.value)
    # a missing mttr_hours is not blamed on the (legal) mtbf_hours beside it
    doc = one_job("pod-v4-small-ocs.toml", "8x8x8", failures={"chip": {"mtbf_hours": 100}})
    with pytest.raises(TpusimError) as info:
        scenario_from_dict(doc, "t")
    assert "needs mttr_hours" in str(info.value) and "typo" not in str(info.value)


def test_cubes_of_unequal_sides():
    pod = load_pod(DATA / "pod-hostcube-256.toml")
    assert check_slice_shape(pod.chip, pod.shape, "4x4x3") == (4, 4, 3)  # 2x2x3 one-host cubes
    for bad in ("3x4x4", "4x4x5"):  # 3 is not a multiple of 2; 5 does not fit the 4-chip axis
        with pytest.raises(TpusimError):
            check_slice_shape(pod.chip, pod.shape, bad)
    inject = [{"at_hours": 5.5, "cause": "host", "cube": 0, "duration_hours": 2}]
    job, events = run_one(one_job("pod-hostcube-256.toml", "4x4x3", inject=inject))
    assert job["wasted_progress"] == pytest.approx(1370, abs=1e-6)  # as on a 4x4x4 cube
    assert [e[4] for e in events if e[1] == "swap"] == [12]


def test_free_cubes_match_a_brute_force_model():
    rng = np.random.default_rng(3)
    free = FreeCubes(40, 16)
    model = set(range(40))
    for _ in range(3000):
        cube = int(rng.integers(40))
        op = rng.integers(3)
        if op == 0:
            free.add(cube)
            model.add(cube)
        elif op == 1:
            free.discard(cube)
            model.discard(cube)
        else:
            g = int(rng.integers(3))
            in_group = sorted(c for c in model if c // 16 == g)
            assert free.lowest(g) == (in_group[0] if in_group else None)
            k = int(rng.integers(1, 4))
            if len(in_group) >= k:
                assert free.take_lowest(g, k) == in_group[:k]
                model.difference_update(in_group[:k])
        assert free.ids == model
        assert free.count == [sum(1 for c in model if c // 16 == g) for g in range(3)]
        assert free.lowest_any() == (min(model) if model else None)


def test_in_memory_replica_with_free_checkpoints_and_auto_interval_runs():
    # was a ZeroDivisionError: Daly's interval is 0 when a checkpoint costs nothing; an
    # interval is never shorter than one step
    doc = one_job("pod-v4-small-ocs.toml", "4x4x4",
                  failures={"job": {"mtbf_hours": 5}}, seed=2)
    doc["recovery"] |= {"in_memory_replica": True, "checkpoint_save_s": 0,
                        "checkpoint_interval_s": "auto"}
    sc = scenario_from_dict(doc, "t")
    assert plan_jobs(sc)[0].interval_s == 10.0
    s = simulate(sc).summary
    assert s["time_to_train_s"]["finished_fraction"] == 1.0
    assert s["badput"]["wasted_progress"] < 10 * s["interruptions"]["total"] + 1e-6


def v5e_doc(inject=(), **pools) -> dict:
    """TPU v5e-256 (a 16x16 torus without cubes): hosts of 2x4 chips are the units, 8 x 4."""
    doc = one_job("pod-hostcube-256.toml", "8x8", inject=inject)
    doc["pod"] = {"name": "tpu-v5e-256"}
    if pools:
        doc["pools"] = pools
    return doc


def test_pods_without_cubes_place_and_fail_by_host():
    # the 8x8 slice is 4x2 hosts: the first box (corner 0) holds hosts 0, 1, 4, 5, 8, 9, 12, 13.
    # Host 0 fails at 5.5 h: the slice moves to the box at corner 1 (hosts 1, 2, 5, 6, ...),
    # as on a static v4 torus: 1370 s of work plus the unreconfigured start's 10 s are lost
    inject = [{"at_hours": 5.5, "cause": "host", "cube": 0, "duration_hours": 2}]
    job, events = run_one(v5e_doc(inject))
    places = [e for e in events if e[1] == "place"]
    assert len(places) == 2
    assert job["wasted_progress"] == pytest.approx(1370 + 10, abs=1e-6)
    assert job["end_s"] == pytest.approx(19800 + 180 + 18000 + 4 * 60, abs=1e-6)


def test_static_spare_pool_costs_preemption():
    # hosts 8-31 run preemptible work: the working pool (hosts 0-7, rows 0 and 1 of the 8 x 4
    # grid) holds no 4x2 box, so the first placement and the re-placement after the failure
    # each take spare-pool hosts: selection 100 s + preemption 1000 s, twice
    inject = [{"at_hours": 5.5, "cause": "host", "cube": 0, "duration_hours": 2}]
    job, _events = run_one(v5e_doc(inject, spare_pool=24, selection_s=100, preemption_s=1000))
    assert job["host_selection"] == pytest.approx(2 * 1100, abs=1e-6)


def test_box_as_written_finds_a_free_box_when_one_exists():
    from itertools import product

    from tpusim.sim.placement import box_as_written

    rng = np.random.default_rng(5)
    grid, box = (8, 4), (4, 2)
    for _ in range(200):
        free = {int(c) for c in np.flatnonzero(rng.random(32) < 0.7)}
        got = box_as_written(grid, free, box)
        exists = any(all(((x + i) % 8) * 4 + (y + j) % 4 in free for i in range(4) for j in range(2))
                     for x, y in product(range(8), range(4)))
        assert (got is not None) == exists
        if got is not None:
            assert set(got) <= free and len(set(got)) == 8
            rows = sorted({c // 4 for c in got})
            assert len(rows) == 4 and len({c % 4 for c in got}) == 2
