"""`tpusim simulate` as a user runs it: outputs, files, and every bad-input path (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import assert_clean_error

from tpusim.errors import TpusimError
from tpusim.sim import scenario_from_dict, simulate

JSON_KEYS = {"goodput", "scheduling_goodput", "runtime_goodput", "program_goodput", "badput",
             "interruptions", "time_to_train_s", "jobs"}
BADPUT_KEYS = {"wasted_progress", "waiting_for_resources", "ocs_reconfiguration",
               "tpu_initialization", "program_startup", "checkpoint_restore", "checkpoint_save",
               "repeated_steps", "host_selection"}


def test_json_keys_and_estimate_rate(cli):
    result = cli("simulate", "palm-540b-50d", "--days", "10", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= JSON_KEYS
    assert set(data["badput"]) == BADPUT_KEYS
    assert {"p10", "p50", "p90", "finished_fraction"} <= set(data["time_to_train_s"])
    plan = data["jobs_plan"]["palm-540b"]
    assert plan["rate_source"] == "estimate" and 0.3 < plan["mfu"] < 0.7
    assert data["goodput"] == pytest.approx(
        data["scheduling_goodput"] * data["runtime_goodput"] * data["program_goodput"], rel=1e-9)


def test_table_out_and_chart(cli, tmp_path):
    out, chart = tmp_path / "runs" / "palm.csv", tmp_path / "palm.png"
    result = cli("simulate", "palm-540b-50d", "--days", "5", "-n", "3", "--seed", "4",
                 "--out", str(out), "--chart", str(chart), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "runtime goodput" in result.stdout and "Where the time went" in result.stdout
    table = pd.read_csv(out)
    assert sorted(table["replication"].unique()) == [0, 1, 2]
    assert chart.stat().st_size > 10_000


def test_single_replication_writes_the_event_log(cli, tmp_path):
    out = tmp_path / "events.parquet"
    assert cli("simulate", "palm-540b-50d", "--days", "3", "--out", str(out)).returncode == 0
    events = pd.read_parquet(out)
    assert list(events.columns) == ["time_s", "kind", "job", "pod", "cube", "detail"]
    assert {"state", "cube_down"} <= set(events["kind"])


BASE = {
    "pod": {"name": "tpu-v4-4096"},
    "failures": {"host": {"availability": 0.995, "mttr_hours": 48}},
    "jobs": [{"name": "j", "slice": "8x8x8", "mfu": 0.5, "step_time_s": 1}],
}


@pytest.mark.parametrize(("patch", "needle"), [
    ({"failures": {"host": {"mtbf_hours": -5, "mttr_hours": 4}}}, "mtbf_hours"),
    ({"failures": {"host": {"availability": 1.5, "mttr_hours": 4}}}, "availability"),
    ({"failures": {"host": {"mtbf_hours": 5}}}, "mttr_hours"),
    ({"failures": {"disk": {"mtbf_hours": 5}}}, "disk"),
    ({"failures": {"host": {"mtbf_hours": 5, "mttr_hours": 1, "ttf": "gamma"}}}, "ttf"),
    ({"recovery": {"checkpoint_interval_s": 0}}, "checkpoint_interval_s"),
    ({"recovery": {"checkpoint_interval_s": "often"}}, "checkpoint_interval_s"),
    ({"recovery": {"tpu_init_s": -1}}, "tpu_init_s"),
    ({"jobs": [{"name": "j", "slice": "16x16x32", "mfu": 0.5, "step_time_s": 1}]}, "16x16x32"),
    ({"jobs": [{"name": "j", "slice": "2x2x2", "mfu": 0.5, "step_time_s": 1}]}, "cube"),
    ({"jobs": [{"name": "j", "slice": "1x2x2", "mfu": 0.5, "step_time_s": 1}]}, "whole hosts"),
    ({"jobs": [{"name": "j", "slice": "8x8x8", "slices": 9, "mfu": 0.5, "step_time_s": 1}]}, "cubes"),
    ({"jobs": [{"name": "j", "slice": "8x8x8"}]}, "workload"),
    ({"pod": {"name": "tpu-v4-4096", "spare_cubes": -1}}, "spare_cubes"),
    ({"pod": {"name": "tpu-v5e-256"}}, "2D torus"),  # hosts are its units; the 3D slice is not
    ({"run": {"days": 0}}, "days"),
    ({"run": {"days": 4000}}, "3650"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_scenarios_raise_tpusim_error(patch, needle):
    with pytest.raises(TpusimError, match=needle):
        scenario_from_dict({**BASE, **patch}, "bad.toml")


def test_bad_input_exits_2_with_one_line(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[pod]\nname = "tpu-v4-4096"\n[[jobs]]\nname = "j"\nslice = "8x8x8"\n'
                   'workload = "no-such-model"\n')
    assert_clean_error(cli("simulate", str(bad)), "no-such-model")
    assert_clean_error(cli("simulate", "no-such-scenario.toml"), "not found")
    assert_clean_error(cli("simulate", "palm-540b-50d", "--days", "-3"), "--days")
    assert_clean_error(cli("simulate", "palm-540b-50d", "--days", "1e7"), "--days", "3650")
    assert_clean_error(cli("simulate", "palm-540b-50d", "--out", str(tmp_path / "x.xlsx")), ".csv")
    neg = tmp_path / "neg.toml"
    neg.write_text('[pod]\nname = "tpu-v4-4096"\n[failures.host]\nmtbf_hours = -1\nmttr_hours = 1\n'
                   '[[jobs]]\nslice = "8x8x8"\nmfu = 0.5\nstep_time_s = 1\n')
    assert_clean_error(cli("simulate", str(neg)), "mtbf_hours")


def test_job_that_cannot_fit_even_when_all_is_healthy_is_an_input_error():
    # the first 16 cubes (C order) of a 4x4x4 cube grid are one 1x4x4 plane: no 2x2x4 box fits
    doc = {**BASE, "pod": {"name": "tpu-v4-4096", "ocs": False, "spare_cubes": 0},
           "jobs": [{"name": "box", "slice": "8x8x16", "mfu": 0.5, "step_time_s": 1}]}
    with pytest.raises(TpusimError, match="can never be placed"):
        simulate(scenario_from_dict(doc, "t"))
    doc["pod"]["ocs"] = True  # with OCS any 16 cubes do
    assert simulate(scenario_from_dict(doc, "t")).summary["goodput"] > 0


def test_unplaceable_job_is_reported_not_hung():
    # a static 4x4x4-cube (whole-pod) slice needs every cube healthy; with 99% hosts it
    # practically never is, and the run still ends at the horizon with the job unstarted
    doc = {**BASE, "pod": {"name": "tpu-v4-4096", "ocs": False},
           "failures": {"host": {"availability": 0.99, "mttr_hours": 48}},
           "jobs": [{"name": "whole", "slice": "16x16x16", "mfu": 0.5, "step_time_s": 1}],
           "run": {"days": 5, "seed": 1}}
    s = simulate(scenario_from_dict(doc, "t")).summary
    assert s["jobs"]["whole"]["never_started_fraction"] == 1.0
    assert s["scheduling_goodput"] == 0.0


def test_interrupt_keeps_finished_replications(tmp_path):
    doc = {**BASE, "run": {"days": 2, "seed": 1, "replications": 6}}
    out = tmp_path / "reps.parquet"
    calls = []

    def stop_after_two(k: int) -> None:
        calls.append(k)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(scenario_from_dict(doc, "t"), workers=1, out=out, on_rows=stop_after_two)
    table = pd.read_parquet(out)
    assert sorted(table["replication"].unique()) == [0, 1]


def test_a_job_is_estimated_on_the_chip_file_its_pod_names(tmp_path):
    """A pod whose chip file is a modified v4 (same name, a third of the peak) used to be
    estimated on the catalog v4: the job's step time ignored the user's chip."""
    from tpusim.data import data_dir
    from tpusim.sim.jobs import performance

    text = (data_dir("topologies") / "chip-v4.toml").read_text()
    (tmp_path / "slow-v4.toml").write_text(text.replace("peak_bf16_flops_per_s = 275e12",
                                                        "peak_bf16_flops_per_s = 91.7e12"))
    pod = (data_dir("topologies") / "pod-tpu-v4-4096.toml").read_text()
    (tmp_path / "pod.toml").write_text(pod.replace('chip = "v4"', 'chip = "slow-v4.toml"'))
    job = {"name": "j", "workload": "palm-8b", "slice": "4x4x4"}
    times = []
    for name in ("tpu-v4-4096", str(tmp_path / "pod.toml")):
        sc = scenario_from_dict({"name": "c", "pod": {"name": name, "ocs": True}, "jobs": [job]}, "t")
        times.append(performance(sc, sc.jobs[0]).step_time_s)
    assert times[1] > 1.5 * times[0]  # a third of the compute: much slower steps


def test_counts_print_as_whole_numbers_with_one_replication(tmp_path):
    from conftest import run_main
    from tomlwrite import dumps

    # a failure-free job (1 cube, 10 h of work) with three scripted interruptions: host
    # failures of cube 0 at 2 h and 4 h (a spare each time) and a software failure at 6 h. Every
    # replication sees exactly these: 2 host + 1 job = 3 interruptions.
    doc = {"name": "counts", "pod": {"name": "tpu-v4-4096"},
           "jobs": [{"name": "j", "slice": "4x4x4", "mfu": 0.5, "step_time_s": 10,
                     "steps": 3600}],
           "run": {"days": 1, "seed": 1},
           "inject": [{"at_hours": 2, "cause": "host", "cube": 0, "duration_hours": 1},
                      {"at_hours": 4, "cause": "host", "cube": 1, "duration_hours": 1},
                      {"at_hours": 6, "cause": "job", "job": "j"}]}
    path = tmp_path / "counts.toml"
    path.write_text(dumps(doc))

    def rows(*args: str) -> dict[str, list[str]]:
        result = run_main("simulate", str(path), "--workers", "1", *args)
        assert result.returncode == 0, result.stderr
        cells = {}
        for line in result.stdout.splitlines():
            parts = [p.strip() for p in line.strip("│ ").split("│")]
            if len(parts) > 1:
                cells.setdefault(parts[0], parts[1:])
        return cells

    one = rows("-n", "1")
    assert one["host"][0] == "2" and one["job"][0] == "1" and one["total"][0] == "3"
    assert one["j"][6] == "3"  # the Jobs table's interrupts column
    two = rows("-n", "2")  # means over replications keep their decimal
    assert two["host"][0] == "2.0" and two["total"][0] == "3.0" and two["j"][6] == "3.0"
    # the JSON keeps its numbers as they are (means, floats), whatever the replications
    data = json.loads(run_main("simulate", str(path), "-n", "1", "--json").stdout)
    assert data["interruptions"]["host"] == 2.0 and isinstance(data["interruptions"]["host"], float)
    assert data["interruptions"]["total"] == 3.0
