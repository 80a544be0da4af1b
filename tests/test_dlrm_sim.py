"""DLRM jobs in the simulator: progress in samples from the embedding model, program goodput the
model's stall-free fraction, a pod shared with a language model, and the kind-specific keys."""

from __future__ import annotations

import pytest

from tpusim.errors import TpusimError
from tpusim.sim import scenario_from_dict, simulate
from tpusim.sim.jobs import plan_jobs
from tpusim.workloads.dlrm import estimate_dlrm, load_dlrm

POD = {"name": "tpu-v4-4096"}
FAIL = {"host": {"availability": 0.995, "mttr_hours": 48}}


def _scenario(*jobs: dict, days: float = 2):
    return scenario_from_dict({"pod": POD, "failures": FAIL, "jobs": list(jobs),
                               "run": {"days": days, "seed": 3}}, "test.toml")


def test_dlrm_job_plan_counts_samples():
    """The job's speed is estimate_dlrm's on its slice: samples per step = the global batch,
    work = train_samples / samples per step x step time, program goodput = stall-free fraction."""
    sc = _scenario({"name": "rec", "workload": "dlrm-dcnv2", "slice": "4x4x8", "train_samples": 1e10},
                   {"name": "lm", "workload": "palm-8b", "slice": "4x4x8", "train_tokens": 1e9})
    rec, lm = plan_jobs(sc)
    est = estimate_dlrm(load_dlrm("dlrm-dcnv2"), chip="v4", chips=128, slices=1)
    assert (rec.samples_per_step, rec.tokens_per_step) == (65536, None)
    assert rec.step_time_s == est.step_time_s and rec.mfu == est.program_goodput
    assert rec.work_s == pytest.approx(1e10 / 65536 * est.step_time_s)
    assert lm.samples_per_step is None and lm.tokens_per_step > 0


def test_mixed_pod_reports_samples_and_tokens():
    sc = _scenario({"name": "rec", "workload": "dlrm-dcnv2", "slice": "4x4x8"},
                   {"name": "lm", "workload": "palm-8b", "slice": "4x4x8"}, days=1)
    summary = simulate(sc, workers=1).summary
    jobs = summary["jobs"]
    assert jobs["rec"]["samples_trained"] > 0 and jobs["rec"]["tokens_trained"] is None
    assert jobs["lm"]["tokens_trained"] > 0 and jobs["lm"]["samples_trained"] is None
    plan = summary["jobs_plan"]  # what each job's progress is made of
    assert (plan["rec"]["samples_per_step"], plan["rec"]["tokens_per_step"]) == (65536, None)
    assert plan["lm"]["samples_per_step"] is None and plan["lm"]["tokens_per_step"] > 0
    assert plan["rec"]["program_goodput"] == plan["rec"]["mfu"] < 1


@pytest.mark.parametrize(("job", "needle"), [
    ({"workload": "palm-8b", "train_samples": 1e9}, "trains tokens"),
    ({"workload": "dlrm-dcnv2", "train_tokens": 1e9}, "train_samples"),
    ({"workload": "dlrm-dcnv2", "global_batch_seqs": 1024}, "global_batch"),
    ({"mfu": 0.5, "step_time_s": 1.0, "train_samples": 1e9}, "DLRM workload"),
    ({"workload": "dlrm-dcnv2", "train_samples": 1e9, "steps": 10}, "one of"),
])
def test_kind_specific_keys_are_checked(job, needle):
    with pytest.raises(TpusimError, match=needle):
        _scenario({"name": "j", "slice": "4x4x8", **job})


def test_job_is_estimated_on_its_own_slice_shape():
    """Two 256-chip v4 slices of different shapes: the all-to-all's busiest link differs (4x4x16
    has half the bisection of 4x8x8), so the job's step time is the estimate on the job's shape,
    not on the most compact shape of its size."""
    sc = _scenario({"name": "long", "workload": "dlrm-dcnv2", "slice": "4x4x16", "train_samples": 1e10},
                   {"name": "cube", "workload": "dlrm-dcnv2", "slice": "4x8x8", "train_samples": 1e10})
    long, cube = plan_jobs(sc)
    wl = load_dlrm("dlrm-dcnv2")
    for job, shape in ((long, "4x4x16"), (cube, "4x8x8")):
        est = estimate_dlrm(wl, chip="v4", chips=256, slice_shape=shape)
        assert (job.step_time_s, job.mfu) == (est.step_time_s, est.program_goodput)
    assert long.step_time_s > cube.step_time_s


def test_estimate_error_names_the_job():
    """A batch that does not divide among the job's chips is refused with the job's name."""
    with pytest.raises(TpusimError, match=r"job 'odd' \(dlrm-dcnv2 on 1 x 4x4x12\): .*multiple of the 192"):
        plan_jobs(_scenario({"name": "odd", "workload": "dlrm-dcnv2", "slice": "4x4x12",
                             "train_samples": 1e9}))


def test_cli_jobs_table_shows_samples_and_tokens_trained(tmp_path):
    """The readable summary says what each job trained, in its own unit (JSON had it, the table
    did not)."""
    from conftest import run_main

    result = run_main("simulate", "dlrm-and-llm-v4", "-n", "1", "--days", "1")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│ ")}
    assert " samples " in rows["dcnv2"] and " tokens " in rows["palm-62b"]


def test_job_whose_tables_do_not_fit_in_host_dram_is_refused(tmp_path):
    """A host-placement DLRM whose tables (2e10 rows x 1 KiB with Adagrad: 20 TB over 16 hosts)
    exceed a v4 host's 512 GB cannot run: the job is refused like one that does not fit in HBM
    (it used to run, since only HBM was checked)."""
    from conftest import REPO

    text = (REPO / "workloads" / "dlrm-dcnv2.toml").read_text(encoding="utf-8")
    text = text.replace('placement = "sparsecore"', 'placement = "host"').replace(
        "rows = 40_000_000\nlookups = 100", "rows = 20_000_000_000\nlookups = 100")
    path = tmp_path / "huge.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TpusimError, match="does not fit in the hosts' DRAM"):
        plan_jobs(_scenario({"name": "huge", "workload": str(path), "slice": "4x4x4", "train_samples": 1e9}))


def test_simulate_sweep_rows_report_samples_trained():
    """A simulate sweep's per-job rows carry samples_trained for a DLRM job (they had
    tokens_trained only), and the measured program goodput (not the plan's)."""
    import tpusim

    spec = {"kind": "simulate", "base": "dlrm-and-llm-v4", "grid": {"days": [1], "replications": [1]}}
    rows = tpusim.sweep(spec, progress=False).to_frame().set_index("job")
    assert rows.loc["dcnv2", "samples_trained"] > 0 and rows.loc["palm-62b", "tokens_trained"] > 0
    summary = tpusim.simulate("dlrm-and-llm-v4", days=1, replications=1, progress=False).summary
    assert rows.loc["dcnv2", "program_goodput"] == summary["jobs"]["dcnv2"]["program_goodput"]
