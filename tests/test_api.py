"""The Python API: `from tpusim import plan, estimate, simulate, sweep, report`, each result with
`.to_frame()`, one default per setting shared with the CLI and sweeps, light `import tpusim`,
tidy in-memory sweeps that re-run cleanly, validation before any point runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

import tpusim
from tpusim import defaults
from tpusim.errors import TpusimError


def test_import_tpusim_is_light():
    code = ("import sys, tpusim\n"
            "heavy = [m for m in ('numpy', 'pandas', 'matplotlib', 'scipy', 'simpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "from tpusim import plan, estimate, simulate, sweep\n"
            "assert all(callable(f) for f in (plan, estimate, simulate, sweep))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_package_is_typed():
    assert (Path(tpusim.__file__).parent / "py.typed").is_file()


def test_every_result_has_to_frame():
    results = [tpusim.plan(0.999, samples=5), tpusim.estimate("palm-8b", chips=64, chip="v4"),
               tpusim.estimate("palm-8b", chips=64, chip="v4", search=True, top=3),
               tpusim.simulate("palm-540b-50d", days=2, replications=2, workers=1),
               tpusim.sweep({"kind": "plan", "grid": {"availability": [0.999], "samples": [5]}})]
    for result in results:
        frame = result.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) >= 1, type(result)


def test_plan_default_samples_are_the_clis():
    """The same question gives the same numbers in a notebook, on the command line and in a
    sweep: one default (tpusim.defaults.PLAN_SAMPLES)."""
    lib = tpusim.plan(0.995)
    assert lib.static_patterns == defaults.PLAN_SAMPLES
    cli = json.loads(run_cli("plan", "--json").stdout)
    assert cli["static_patterns"] == defaults.PLAN_SAMPLES
    assert [r["goodput_static"] for r in cli["rows"]] == [r.goodput_static for r in lib.rows]
    swept = tpusim.sweep({"kind": "plan", "grid": {"availability": [0.995]}}, progress=False)
    assert swept.to_frame()["goodput_static"].tolist() == [r.goodput_static for r in lib.rows]


def test_library_messages_name_parameters_and_the_cli_names_flags():
    with pytest.raises(TpusimError, match=r"^slices must") as info:
        tpusim.plan(slices=0)
    assert info.value.params == ("slices",)
    r = run_cli("plan", "--slices", "0")
    assert r.returncode == 2 and "--slices must" in r.stderr


def test_in_memory_sweep_is_tidy_and_reruns(tmp_path):
    spec = {"kind": "simulate", "base": "palm-540b-50d",
            "grid": {"recovery.checkpoint_save_s": [30, 300], "days": [3], "replications": [2]}}
    first = tpusim.sweep(spec, workers=1, progress=False)
    frame = first.to_frame()
    assert list(frame["job"]) == ["*", "palm-540b", "*", "palm-540b"]  # point x job, in grid order
    assert {"goodput", "goodput_ci95", "badput_checkpoint_save_s", "recovery.checkpoint_save_s",
            "point_id"} <= set(frame.columns)
    assert not [c for c in frame.columns if "palm-540b" in c]  # no job names in column names
    again = tpusim.sweep(spec, workers=1, progress=False).to_frame()  # re-running a cell just works
    pd.testing.assert_frame_equal(frame, again)


def test_sweep_with_out_resumes_on_rerun(tmp_path):
    spec = {"kind": "estimate", "base": "palm-8b", "grid": {"chips_per_slice": [64, 128], "chip": ["v4"]}}
    out = tmp_path / "est.csv"
    first = tpusim.sweep(spec, out=out, workers=1, progress=False)
    assert (first.ran_points, first.skipped_points) == (2, 0)
    second = tpusim.sweep(spec, out=out, workers=1, progress=False)
    assert (second.ran_points, second.skipped_points) == (0, 2)
    assert len(second.to_frame()) == 2


@pytest.mark.parametrize(("spec", "needle"), [
    ({"kind": "simulate", "base": "palm-540b-50d", "grid": {"recovery.checkpoint_intervl_s": [900]}},
     "unknown key 'checkpoint_intervl_s'; did you mean 'checkpoint_interval_s'"),
    ({"kind": "plan", "grid": {"availabilty": [0.99]}}, "unknown grid key"),
    ({"kind": "simulat", "grid": {}}, "kind must be one of"),
    ({"kind": "simulate", "base": "no-such-scenario", "grid": {"days": [1]}}, "no-such-scenario"),
    ("no-such-sweep", "unknown sweep 'no-such-sweep'"),
])
def test_sweep_validates_before_running(spec, needle):
    with pytest.raises(TpusimError, match=needle):
        tpusim.sweep(spec, progress=False)


def test_shipped_sweeps_resolve_by_name():
    from tpusim.sweeps import as_spec

    spec = as_spec("palm-checkpoint-interval")
    assert spec.kind == "simulate" and spec.base.name == "palm-540b-50d.toml"
