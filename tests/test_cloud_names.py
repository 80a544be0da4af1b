"""Cloud TPU accelerator names (https://cloud.google.com/tpu/docs/types-topologies): the number
after the dash counts TensorCores, so v4-8 and v5p-128 are 4 and 64 chips (2 TensorCores per
chip) and v5litepod-256 / v5e-256 / v6e-256 are 256 chips (1 per chip). Each resolves to the
catalog pod of its generation plus a slice, wherever a pod or slice is named."""

from __future__ import annotations

import json

import pytest
from conftest import assert_clean_error, run_main

from tpusim.errors import TpusimError
from tpusim.hardware import cloud_slice, load_pod


@pytest.mark.parametrize(("name", "pod", "chips"), [
    ("v4-8", "tpu-v4-4096", 4),
    ("v4-8192", "tpu-v4-4096", 4096),
    ("v5p-128", "tpu-v5p-8960", 64),
    ("v5litepod-256", "tpu-v5e-256", 256),
    ("v5e-256", "tpu-v5e-256", 256),
    ("v6e-256", "tpu-v6e-256", 256),
    ("v2-8", "tpu-v2-256", 4),
    ("tpu7x-256", "tpu-v7-9216", 128),
])
def test_names_resolve_to_pod_and_slice(name, pod, chips):
    named = cloud_slice(name)
    assert (named.pod.name, named.chips) == (pod, chips)
    assert load_pod(name).name == pod


def test_catalog_names_are_not_cloud_names():
    assert cloud_slice("tpu-v4-4096") is None
    assert cloud_slice("palm-540b") is None


@pytest.mark.parametrize(("name", "needle"), [
    ("v5p-100", "nearest legal sizes"),  # 50 chips is no v5p slice
    ("v4-7", "counts TensorCores"),
    ("v5e-512", "nearest legal sizes"),  # more than the 256-chip pod
])
def test_impossible_names_are_errors(name, needle):
    with pytest.raises(TpusimError, match=needle):
        cloud_slice(name)


def test_cli_accepts_names_for_pods_and_slices():
    top = json.loads(run_main("topology", "--pod", "v4-8", "--json").stdout)
    assert (top["chips"], top["pod"]) == (4, "tpu-v4-4096")
    plan = json.loads(run_main("plan", "--pod", "v5p-128", "--samples", "5", "--json").stdout)
    assert plan["pod"]["name"] == "tpu-v5p-8960" and [r["slice_chips"] for r in plan["rows"]] == [64]
    est = json.loads(run_main("estimate", "palm-8b", "--slice", "v5p-128", "--json").stdout)
    assert (est["chip"], est["chips"], est["slice_shape"]) == ("v5p", 64, "4x4x4")
    assert_clean_error(run_main("estimate", "palm-8b", "--slice", "v5p-128", "--chip", "v4"),
                       "v5p-128", "--chip")
    # a sub-cube name for the planner (which counts whole cubes): the name, the cube, the fix
    assert_clean_error(run_main("plan", "--pod", "v4-8"), "v4-8 is a 4-chip slice", "64-chip cube",
                       "v4-128 or more", "tpu-v4-4096")
    # a name's slice and a --slice that differs used to be resolved silently in favour of --slice
    assert_clean_error(run_main("topology", "--pod", "v4-8", "--slice", "4x4x4"),
                       "--pod v4-8 names 2x2x1 chips", "--pod tpu-v4-4096 with --slice 4x4x4")
    assert_clean_error(run_main("plan", "--pod", "v4-128", "--slice", "4x4x8", "--samples", "5"),
                       "--pod v4-128 names 4x4x4 chips")
    assert run_main("topology", "--pod", "v4-8", "--slice", "2x2x1").returncode == 0  # they agree


def test_catalog_lists_cloud_names():
    data = json.loads(run_main("catalog", "--json").stdout)
    by_chip = {r["chip"]: r for r in data["cloud_names"]}
    assert {"v4-8", "v4-8192"} <= set(by_chip["v4"]["names"])
    assert "v5litepod" not in by_chip  # listed under its canonical v5e prefix, as an alias
    assert by_chip["v5e"]["aliases"] == ["v5litepod"] and by_chip["v4"]["aliases"] == []
    assert "v5e-N, v5litepod-N" in run_main("catalog").stdout
    assert "v5e-256" in by_chip["v5e"]["names"] and "tpu7x-18432" in by_chip["v7"]["names"]


def test_scenario_jobs_name_slices_by_cloud_name():
    from tpusim.sim import scenario_from_dict

    doc = {"pod": {"name": "v4-8192"}, "run": {"days": 1},
           "jobs": [{"name": "a", "slice": "v4-2048", "mfu": 0.5, "step_time_s": 10}]}
    job = scenario_from_dict(doc, "test").jobs[0]
    assert job.slice_shape == (8, 8, 16) and job.cubes_per_slice == 16  # 1024 chips
    doc["jobs"][0]["slice"] = "v5p-128"  # another generation than the pod's
    with pytest.raises(TpusimError, match="the pod is made of v4 chips"):
        scenario_from_dict(doc, "test")


def test_plan_and_topology_take_names_as_slice():
    """The catalog says the names are accepted for --slice too; plan and topology read --slice
    only as AxBxC ('cannot read shape v4-128'). A name alone stands for its pod and slice; with a
    pod (or --chips/--generation) it must be a slice of that pod."""
    top = json.loads(run_main("topology", "--slice", "tpu7x-256", "--json").stdout)
    assert (top["pod"], top["shape"], top["chips"]) == ("tpu-v7-9216", "4x4x8", 128)
    same = json.loads(run_main("topology", "--pod", "tpu-v5e-256", "--slice", "v5e-8", "--json").stdout)
    assert (same["shape"], same["chips"]) == ("2x4", 8)
    plan = json.loads(run_main("plan", "--slice", "v5p-256", "--samples", "5", "--json").stdout)
    assert plan["pod"]["name"] == "tpu-v5p-8960" and [r["shape"] for r in plan["rows"]] == ["4x4x8"]
    assert run_main("plan", "--slice", "v5p-256", "--generation", "v5p", "--samples",
                    "5").returncode == 0
    assert_clean_error(run_main("plan", "--slice", "v5p-256", "--pod", "tpu-v4-4096"),
                       "--slice v5p-256 is 128 chips of tpu-v5p-8960", "not of --pod tpu-v4-4096")
    assert_clean_error(run_main("plan", "--slice", "v5p-256", "--chips", "4096"),
                       "not of the pod of --chips/--generation tpu-v4-4096")
    assert_clean_error(run_main("topology", "--pod", "tpu-v4-4096", "--slice", "v5e-8"),
                       "--slice v5e-8 is 8 chips of tpu-v5e-256", "not of --pod tpu-v4-4096")
    assert_clean_error(run_main("plan", "--slice", "v4-8"), "v4-8 is a 4-chip slice")


def test_generation_alone_names_its_pod():
    """--generation v5p alone was 'no catalog pod of generation v5p has 4096 chips' (the default
    size of another generation); it now names the generation's catalog pod."""
    plan = json.loads(run_main("plan", "--generation", "v7", "--slice", "4x4x8", "--samples", "5",
                               "--json").stdout)
    assert plan["pod"]["name"] == "tpu-v7-9216"
