"""tpusim.charts: figures draw what they are given on pyplot-free Figures, never choose a backend,
keep one colour per series, carry a provenance caption, and save as PNG, SVG (text as text) and
PDF. Student-t intervals for few replications."""

from __future__ import annotations

import math
import subprocess
import sys

import matplotlib
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from tpusim import charts
from tpusim.charts.style import AVAILABILITY_COLOURS, CATEGORY_COLOURS, CUBE_COLOURS
from tpusim.hardware import find_pod
from tpusim.planner.table import plan

POD = find_pod(4096)


@pytest.fixture(scope="module")
def plans():
    return {a: plan(POD, a, samples=20, seed=1) for a in (0.99, 0.995, 0.999)}


@pytest.fixture(scope="module")
def assignment_plan():
    return plan(POD, 0.995, slice_shape="8x16x16", samples=5, faulty_cubes=[3, 17, 42], then_fail=0)


@pytest.fixture(scope="module")
def sim_result():
    from tpusim.sim import load_scenario, simulate, with_overrides

    sc = with_overrides(load_scenario("palm-540b-50d"), days=5, replications=3, seed=2)
    return simulate(sc, workers=1, with_events=True)


@pytest.fixture(scope="module")
def estimates():
    from tpusim.workloads import estimate, load_workload

    wl = load_workload("palm-540b")
    return [estimate(wl, chips_per_slice=n, slices=1) for n in (1024, 2048, 3072)]


def _labels(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_plan_goodput_draws_only_the_levels_given(plans):
    ax = charts.plan_goodput(plans[0.995])
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    assert _labels(ax) == ["host 99.5%, OCS", "host 99.5%, static torus"]
    ax3 = charts.plan_goodput(list(plans.values()))
    assert len(_labels(ax3)) == 6


def test_plan_goodput_bands_for_monte_carlo_rows(plans):
    ax = charts.plan_goodput(plans[0.99])
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1  # the static Monte Carlo interval; OCS is a closed form
    assert not [c for c in charts.plan_goodput(plans[0.99], bands=False).collections
                if isinstance(c, PolyCollection)]


def test_colour_per_availability_is_the_same_in_every_figure(plans):
    alone = charts.plan_goodput(plans[0.999]).get_lines()[0].get_color()
    together = charts.plan_goodput([plans[0.99], plans[0.999]]).get_lines()
    assert alone == AVAILABILITY_COLOURS[0.999]
    assert together[2].get_color() == alone and together[0].get_color() == AVAILABILITY_COLOURS[0.99]


def test_caption_names_pod_seed_samples_version(plans):
    from tpusim import __version__

    fig = charts.plan_goodput(plans[0.99]).figure
    caption = " ".join(t.get_text() for t in fig.texts)
    for needle in ("tpu-v4-4096", "seed 1", "20 Monte Carlo samples", f"tpusim {__version__}"):
        assert needle in caption


def test_draws_into_a_given_axes_without_a_caption(plans):
    fig = Figure()
    ax = fig.add_subplot()
    assert charts.plan_goodput(plans[0.99], ax=ax) is ax
    assert fig.texts == []


def test_plan_chart_accepts_the_json_dict(plans):
    ax = charts.plan_goodput(plans[0.99].to_dict())
    assert len(ax.get_lines()) == 2


def test_cube_map_colours_faulty_slice_spare_and_replacement(assignment_plan):
    ax = charts.cube_map(assignment_plan)
    faces = {matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches}
    for what in ("faulty", "spare", "failed", "replacement"):
        assert CUBE_COLOURS[what].lower() in faces
    a = assignment_plan.assignment
    n_faulty = sum(1 for p in ax.patches
                   if matplotlib.colors.to_hex(p.get_facecolor()) == CUBE_COLOURS["faulty"].lower())
    assert n_faulty == len(a["faulty_cubes"])  # cube 0 is not faulty: it fails later
    assert len(ax.patches) == 64
    labels = _labels(ax)
    assert f"spare {a['reform']['spare_cube']} replaces it" in labels


def test_cube_map_needs_an_assignment(plans):
    with pytest.raises(Exception, match="faulty"):
        charts.cube_map(plans[0.99])


def test_step_breakdown_labels_a_twisted_slice():
    from tpusim.workloads.dlrm import estimate_dlrm, load_dlrm

    wl = load_dlrm("dlrm-dcnv2")
    ests = [estimate_dlrm(wl, chip="v4", chips=128, twisted=t) for t in (False, True)]
    labels = [t.get_text() for t in charts.step_breakdown(ests).get_yticklabels()]
    assert sorted(labels) == ["128 v4 sparsecore/mod (1 x 4x4x8 twisted)",
                              "128 v4 sparsecore/mod (1 x 4x4x8)"]


def test_estimate_charts(estimates):
    ax = charts.step_breakdown(estimates)
    assert len(ax.get_yticklabels()) == 3
    assert "compute" in _labels(ax)
    # the step-time marks are black with a white halo: visible where a bar ends in black (a
    # DLRM's 'fixed' segment), at the step time of each estimate
    marks = [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert [m.get_xdata()[0] for m in marks] == pytest.approx([e.step_time_s for e in estimates])
    assert all(m.get_path_effects() for m in marks)
    ax = charts.mfu_vs_slice(estimates)
    mfu = ax.get_lines()[0]
    assert list(mfu.get_xdata()) == [1024, 2048, 3072]
    assert list(mfu.get_ydata()) == pytest.approx([e.mfu for e in estimates])


def test_simulate_charts(sim_result):
    ax = charts.goodput_decomposition(sim_result)
    heights = [b.get_height() for b in ax.patches]
    s = sim_result.summary
    assert heights == pytest.approx([s[k] for k in ("scheduling_goodput", "runtime_goodput",
                                                    "program_goodput", "goodput")])
    ax = charts.badput_bar(sim_result.summary)  # the --json dict works too
    widths = [b.get_width() for b in ax.patches]
    assert sum(widths) == pytest.approx(1.0)
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(
        matplotlib.colors.to_rgb(CATEGORY_COLOURS["productive"]))
    ax = charts.goodput_distribution(sim_result)
    assert sum(b.get_height() for b in ax.patches) == 3  # one count per replication
    charts.time_to_train_distribution(sim_result.table)
    assert isinstance(charts.timeline(sim_result), Figure)
    assert len(charts.simulate_overview(sim_result).subfigs) == 2


def test_goodput_intervals_stay_inside_zero_one_and_inside_the_axes():
    # three replications, Student-t with 2 degrees of freedom: half-widths far above 1 - goodput
    summary = {"scenario": "s", "replications": 3, "badput": {}, "productive_s": 1.0}
    for key, value in (("scheduling_goodput", 0.9), ("runtime_goodput", 0.95),
                       ("program_goodput", 0.6), ("goodput", 0.51)):
        summary[key], summary[f"{key}_ci95"] = value, 0.3
    ax = charts.goodput_decomposition(summary)
    tops = [seg[:, 1].max() for c in ax.collections for seg in c.get_segments()]
    assert max(tops) == pytest.approx(1.0)  # clipped to 1, not 1.2
    labels = [t for t in ax.texts if t.get_text().endswith("%")]
    assert len(labels) == 4
    assert all(t.xy[1] <= 1.0 + 1e-9 for t in labels)  # anchored at the clipped bar end
    one = {**summary, "replications": 1, **{f"{k}_ci95": math.nan for k in (
        "scheduling_goodput", "runtime_goodput", "program_goodput", "goodput")}}
    assert not charts.goodput_decomposition(one).collections  # no interval, no error bars


def test_time_to_train_with_no_finished_run_says_so_instead_of_an_empty_frame():
    import pandas as pd

    table = pd.DataFrame({"job": ["*"] * 3, "goodput": [0.4, 0.5, 0.6],
                          "time_to_train_s": [math.nan] * 3})
    ax = charts.time_to_train_distribution(table)
    assert any("no replication finished" in t.get_text() for t in ax.texts)
    assert list(ax.get_yticks()) == [] and list(ax.get_xticks()) == []
    assert _labels(ax) == ["0 of 3 finished"]


def test_timeline_of_a_pod_without_cubes_counts_hosts():
    from tpusim.sim import scenario_from_dict, simulate

    sc = scenario_from_dict({
        "name": "v5e", "pod": {"name": "v5litepod-256"},
        "failures": {"host": {"availability": 0.99, "mttr_hours": 12}},
        "jobs": [{"name": "j", "slice": "v5litepod-128", "mfu": 0.5, "step_time_s": 1,
                  "steps": 1000}],
        "run": {"days": 1}}, "t")
    result = simulate(sc, workers=1, with_events=True)
    fig = charts.timeline(result)
    assert fig.axes[1].get_ylabel() == "healthy hosts"
    assert "hosts the jobs need" in _labels(fig.axes[1])
    from tpusim.reports.sections import simulate_section

    captions = [c for c, _ in simulate_section(result, "t").figures]
    assert "Replication 0: job states, interruptions and healthy hosts." in captions
    assert "Goodput = scheduling x runtime x program, one replication: no interval." in captions


def test_timeline_needs_follow_a_schedule_and_every_cause_has_a_legend_entry():
    from tpusim.sim import scenario_from_dict, simulate

    sc = scenario_from_dict({
        "name": "phases", "pod": {"name": "tpu-v4-4096"},
        "failures": {"loss_spike": {"per_step": 0.01, "rollback_steps": 5, "skip_batches": 1}},
        "jobs": [{"name": "a", "slice": "4x4x4", "mfu": 0.5, "step_time_s": 10, "steps": 2000},
                 {"name": "b", "slice": "4x4x8", "mfu": 0.5, "step_time_s": 10, "steps": 2000,
                  "after": "a"}],
        "run": {"days": 2}}, "t")
    fig = charts.timeline(simulate(sc, workers=1, with_events=True))
    (need,) = [line for line in fig.axes[1].get_lines() if line.get_label() == "cubes the jobs need"]
    # the phases run one after the other: 1 cube, then 2, then none (never 1 + 2 = 3)
    assert sorted(set(need.get_ydata())) == [0, 1, 2]
    assert "loss spike" in _labels(fig.axes[0])


def test_sweep_charts_lines_with_bands_and_heatmap():
    import pandas as pd

    frame = pd.DataFrame({"interval_s": [900, 1800, 900, 1800], "host": [0.99, 0.99, 0.999, 0.999],
                          "goodput": [0.5, 0.6, 0.7, 0.8], "goodput_ci95": [0.02, 0.01, 0.02, 0.01]})
    ax = charts.sweep_lines(frame, "interval_s", "goodput", by="host")
    assert len(ax.get_lines()) == 2
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    ax = charts.sweep_heatmap(frame, "interval_s", "host", "goodput")
    assert ax.images[0].get_array().shape == (2, 2)
    with pytest.raises(Exception, match="no column"):
        charts.sweep_lines(frame, "interval_s", "goodpt")
    # a dotted key of the base file is labelled as written in the grid, not half-translated
    dotted = frame.rename(columns={"interval_s": "recovery.checkpoint_interval_s"})
    ax = charts.sweep_lines(dotted, "recovery.checkpoint_interval_s", "goodput", by="host")
    assert ax.get_xlabel() == "recovery.checkpoint_interval_s"
    assert "recovery.checkpoint_interval_s" in ax.get_title(loc="left")


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_save_formats(plans, tmp_path, suffix):
    path = charts.save(charts.plan_goodput(plans[0.99]), tmp_path / f"g{suffix}")
    data = path.read_bytes()
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix]
    assert data.startswith(magic)
    if suffix == ".svg":  # text stays text: searchable, selectable
        text = data.decode()
        assert "<text" in text and "goodput vs slice size" in text


def test_save_refuses_other_suffixes(plans, tmp_path):
    with pytest.raises(Exception, match=".png, .svg or .pdf"):
        charts.save(charts.plan_goodput(plans[0.99]), tmp_path / "g.txt")


def test_charts_never_touch_the_backend_or_pyplot(tmp_path):
    """In a fresh interpreter: drawing and saving leaves the backend and pyplot alone."""
    code = (
        "import matplotlib, sys\n"
        "backend = lambda: dict.__getitem__(matplotlib.rcParams, 'backend')  # no auto-resolution\n"
        "before = backend()\n"
        "from tpusim import charts\n"
        "from tpusim.hardware import find_pod\nfrom tpusim.planner.table import plan\n"
        "ax = charts.plan_goodput(plan(find_pod(4096), 0.99, samples=3))\n"
        "charts.save(ax, sys.argv[1])\n"
        "assert backend() == before\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert matplotlib.rcParams['font.size'] == matplotlib.rcParamsDefault['font.size']\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "g.png")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_student_t_intervals():
    from tpusim.stats import mean_ci95, t95

    assert t95(4) == pytest.approx(3.182, abs=1e-3)  # 1.96 would be 38% too narrow
    assert 1.96 / t95(4) == pytest.approx(1 - 0.384, abs=0.005)
    mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and half == pytest.approx(3.182 * math.sqrt(5 / 3) / 2, rel=1e-3)
    assert math.isnan(mean_ci95([1.0])[1])
