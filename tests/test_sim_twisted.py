"""Scenario jobs on twisted slices (`[[jobs]] twisted = true`): the job's speed is the twisted
estimate, the run's outputs say the job is twisted, and a twist the slice cannot have is refused.
The twist rule is the estimate's (tpusim.topology.shape.twistable: k x k x 2k or k x 2k x 2k
slices of whole cubes on a chip whose [slices] allow it)."""

from __future__ import annotations

import pytest
from conftest import assert_clean_error, run_main

from tpusim.errors import TpusimError
from tpusim.sim import scenario_from_dict, simulate
from tpusim.sim.jobs import plan_jobs
from tpusim.workloads.dlrm import estimate_dlrm, load_dlrm

POD = {"name": "tpu-v4-4096"}
FAIL = {"host": {"availability": 0.995, "mttr_hours": 48}}
DLRM = {"workload": "dlrm-dcnv2", "slice": "4x4x8", "train_samples": 2e10}


def _scenario(*jobs: dict, days: float = 2):
    return scenario_from_dict({"pod": POD, "failures": FAIL, "jobs": list(jobs),
                               "run": {"days": days, "seed": 3}}, "test.toml")


def test_twisted_dlrm_job_trains_faster_than_a_plain_one():
    """DCNv2 on a v4 4x4x8 slice: twisting the torus shortens the all-to-all's busiest link
    (docs/embeddings.md: 1.745x all-to-all bandwidth on 4x4x8), so the twisted job's step and its
    uninterrupted time to train are shorter; each is the estimate on its own (twisted or plain)
    torus. In a run without failures the twisted job finishes first."""
    plain, twisted = plan_jobs(_scenario({"name": "plain", **DLRM},
                                         {"name": "twisted", **DLRM, "twisted": True}))
    wl = load_dlrm("dlrm-dcnv2")
    for plan, twist in ((plain, False), (twisted, True)):
        est = estimate_dlrm(wl, chip="v4", chips=128, slice_shape="4x4x8", twisted=twist)
        assert (plan.step_time_s, plan.mfu) == (est.step_time_s, est.program_goodput)
    assert twisted.step_time_s < plain.step_time_s and twisted.work_s < plain.work_s

    quiet = scenario_from_dict({"pod": POD, "jobs": [{"name": "plain", **DLRM}, {"name": "twisted", **DLRM,
                                                                                 "twisted": True}],
                                "run": {"days": 2, "seed": 3}}, "quiet.toml")
    summary = simulate(quiet, workers=1).summary
    ttt = {name: summary["jobs"][name]["time_to_train_s"]["p50"] for name in ("plain", "twisted")}
    assert None not in ttt.values() and ttt["twisted"] < ttt["plain"]
    assert {k: summary["jobs_plan"]["plain"][k] for k in ("slice_shape", "slices", "twisted")} == \
        {"slice_shape": "4x4x8", "slices": 1, "twisted": False}
    assert summary["jobs_plan"]["twisted"]["twisted"] is True


def test_dense_job_may_be_twisted_and_runs_at_its_twisted_estimate():
    """A dense LLM has no all-to-all for the twist to shorten, and a ring on a short axis closes
    only through the long axis (docs/estimate.md), so a twisted dense job is never faster; its
    step is the twisted estimate. PaLM-8B on 4x4x8 shards fsdp over all three axes, a group that
    spans the long axis, so its rings stay closed and the step is the plain one."""
    from tpusim.workloads.kinds import step_performance

    job = {"workload": "palm-8b", "slice": "4x4x8", "train_tokens": 1e9}
    plain, twisted = plan_jobs(_scenario({"name": "p", **job}, {"name": "t", **job, "twisted": True}))
    own = step_performance("palm-8b", chip="v4", chips_per_slice=128, slices=1, slice_shape="4x4x8",
                           twisted=True)
    assert twisted.step_time_s == own.step_time_s >= plain.step_time_s
    assert twisted.step_time_s == plain.step_time_s


@pytest.mark.parametrize(("slice_", "needle"), [("4x4x4", "4x4x4"), ("8x8x8", "8x8x8")])
def test_twist_the_slice_cannot_have_is_refused(slice_, needle):
    with pytest.raises(TpusimError, match=rf"job 'rec' asks for a twisted {needle} slice.*remove twisted"):
        _scenario({"name": "rec", **DLRM, "slice": slice_, "twisted": True})


def test_twist_needs_the_ocs():
    """The OCS wires a twisted torus (Jouppi et al., ISCA 2023, arXiv 2304.01433, abstract): a
    static-torus run (ocs = false) cannot twist even a 4x4x8 slice."""
    with pytest.raises(TpusimError, match=r"job 'rec' asks for a twisted slice.*ocs = false"):
        scenario_from_dict({"pod": {**POD, "ocs": False}, "jobs": [{"name": "rec", **DLRM, "twisted": True}]},
                           "static.toml")


def test_cli_refuses_a_bad_twist_in_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[pod]\nname = "tpu-v4-4096"\n[[jobs]]\nname = "rec"\nworkload = "dlrm-dcnv2"\n'
                    'slice = "4x4x4"\ntwisted = true\ntrain_samples = 1e9\n', encoding="utf-8")
    assert_clean_error(run_main("simulate", str(path)), "rec", "twisted", "4x4x8", "remove twisted")
    path.write_text(path.read_text().replace("twisted = true", 'twisted = "yes"'), encoding="utf-8")
    assert_clean_error(run_main("simulate", str(path)), "twisted must be true or false")


def test_cli_jobs_table_marks_the_twisted_job(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[pod]\nname = "tpu-v4-4096"\n[run]\ndays = 0.5\n[[jobs]]\nname = "rec"\n'
                    'workload = "dlrm-dcnv2"\nslice = "4x4x8"\ntwisted = true\n', encoding="utf-8")
    result = run_main("simulate", str(path))
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ rec "))
    assert "128 (1 x 4x4x8 T)" in row and "T = twisted torus" in result.stdout


def test_report_job_table_shows_each_jobs_slice():
    """The report's 'Goodput by job' table names each job's slices as simulate's Jobs table
    does ('1 x 4x4x8 T' for one twisted 4x4x8 slice); the all-jobs row '*' has none."""
    from tpusim.reports.sections import simulate_section

    result = simulate(_scenario({"name": "plain", **DLRM}, {"name": "twisted", **DLRM, "twisted": True},
                                days=1), workers=1)
    (title, frame), _ = simulate_section(result, "test.toml").tables
    assert "T = twisted" in title
    slices = dict(zip(frame["job"], frame["slice"], strict=True))
    assert slices == {"*": "", "plain": "1 x 4x4x8", "twisted": "1 x 4x4x8 T"}
