"""`tpusim report` and `tpusim.report`: inputs run or read back, one self-contained HTML file
(no network), Markdown with images, key numbers at the top, inputs with hashes at the bottom;
and the page checked in a real headless browser (Chromium): not blank, every figure drawn."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import pytest
from conftest import assert_clean_error, run_main

import tpusim

SWEEP = """[sweep]
kind = "simulate"
base = "palm-540b-50d"

[grid]
"recovery.checkpoint_interval_s" = [1800, 7200]
"failures.host.availability" = [0.99, 0.999]
days = [5]
replications = [2]
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One HTML report over a scenario, a sweep file and a planner question (shared)."""
    folder = tmp_path_factory.mktemp("report")
    sweep = folder / "ckpt.toml"
    sweep.write_text(SWEEP)
    out = folder / "report.html"
    result = tpusim.report(["palm-540b-50d", sweep], out=out, availability=[0.99, 0.999],
                           replications=3, workers=1, progress=False)
    return result, out, sweep


def test_html_is_one_self_contained_file(made):
    result, out, _ = made
    text = out.read_text(encoding="utf-8")
    assert result.out == out and result.format == "html"
    # nothing to fetch: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", text)
    assert "<script" not in text
    images = re.findall(r'<img [^>]*src="data:image/svg\+xml;base64,', text)
    assert len(images) == result.figures >= 8
    # wide data tables scroll inside the page instead of running off its right edge
    assert ".wide { overflow-x: auto" in text
    assert text.count('<div class="wide"><table') == text.count('<table class="dataframe"') >= 3


def test_key_numbers_at_the_top_inputs_hashes_seeds_and_version_at_the_bottom(made):
    result, out, sweep = made
    text = out.read_text(encoding="utf-8")
    summary, footer = text.index("Key numbers"), text.index("Inputs and reproducibility")
    first_figure = text.index("<figure")
    assert summary < first_figure < footer
    assert "goodput" in text[summary:first_figure]
    digest = hashlib.sha256(sweep.read_bytes()).hexdigest()
    assert digest in text[footer:]
    assert "seed 7, 3 replications" in text[footer:]  # the scenario's seed, the replications asked
    assert f"tpusim {tpusim.__version__}" in text[footer:]
    frame = result.to_frame()
    assert {"section", "label", "value"} == set(frame.columns) and len(frame) >= 6


def test_markdown_with_png_figures(tmp_path):
    out = tmp_path / "md"
    result = tpusim.report([], out=out, format="md", availability=0.999, progress=False)
    md = (out / "report.md").read_text()
    pngs = sorted((out / "figures").glob("*.png"))
    assert result.out == out / "report.md" and len(pngs) == result.figures == 1
    assert f"(figures/{pngs[0].name})" in md and md.startswith("# tpusim report")
    assert pngs[0].read_bytes().startswith(b"\x89PNG")


def test_results_written_earlier_are_reported(tmp_path):
    """--json outputs, a simulate replication table and sweep rows, read back (not rerun)."""
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(run_main("plan", "--availability", "0.99,0.999", "--samples", "10", "--json").stdout)
    sim_json = tmp_path / "sim.json"
    sim_json.write_text(run_main("simulate", "palm-540b-50d", "--days", "3", "-n", "2", "--json").stdout)
    est_json = tmp_path / "est.json"
    est_json.write_text(run_main("estimate", "palm-8b", "--chip", "v4", "--chips", "64", "--json").stdout)
    table = tmp_path / "reps.csv"
    tpusim.simulate("palm-540b-50d", days=3, replications=3, workers=1, out=table)
    rows = tmp_path / "rows.jsonl"
    tpusim.sweep({"kind": "plan", "grid": {"availability": [0.99, 0.999], "samples": [5]}}, out=rows)
    r = run_main("report", str(plan_json), str(sim_json), str(est_json), str(table), str(rows),
                "--out", str(tmp_path / "r.html"), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    kinds = [i["kind"] for i in data["inputs"]]
    assert kinds == ["plan-json", "simulate-json", "estimate-json", "replications", "sweep-rows"]
    sections = {n["section"] for n in data["numbers"]}
    assert {"Plan: tpu-v4-4096", "Simulation: palm-540b-50d", "Estimate: palm-8b", "Sweep: rows"} <= sections
    assert "Simulation: reps" in sections  # a replication table has no scenario name: its file's
    largest = [n["value"] for n in data["numbers"] if "largest slice" in n["label"]]
    assert all("lower end of the 95% interval over 10 Monte Carlo patterns" in v for v in largest)


def test_sections_say_what_they_show(made):
    from tpusim.reports.sections import estimate_section, plan_section

    _, out, _ = made
    text = out.read_text(encoding="utf-8")
    footer = text[text.index("Inputs and reproducibility"):]
    # one seed line per availability, not the same line twice
    assert "plan tpu-v4-4096 at host 99%: seed 0" in footer
    assert "plan tpu-v4-4096 at host 99.9%: seed 0" in footer
    assert "Rows (8)" in text and "first 60 of 8" not in text  # 4 points x (job * + 1 job)
    dlrm = estimate_section([tpusim.estimate("dlrm-dcnv2")], "t")
    assert {"step time (s)", "samples/s", "MFU"} <= set(dlrm.tables[0][1].columns)
    step = dlrm.tables[0][1]["step time (s)"].iloc[0]
    assert step == pytest.approx(tpusim.estimate("dlrm-dcnv2").step_time_s, rel=1e-3)  # not 0.001
    # 10 patterns cap the lower end of the static interval at 0.72: the 64-chip answer is
    # plan --target's, and the estimate's own answer (every pattern formed 1024 chips) is beside it
    plans = [tpusim.plan(0.999, samples=10)]
    value = dict(plan_section(plans, "t").numbers)[
        "tpu-v4-4096, host 99.9%: largest slice schedulable 99% of the time"]
    found = re.fullmatch(r"OCS 3072, static 64 chips on the lower end of the 95% interval over 10 "
                         r"Monte Carlo patterns, (\d+) chips on the estimate", value)
    assert found and int(found.group(1)) >= 1024, value


@pytest.mark.parametrize(("args", "needles"), [
    (("no-such-input",), ("no-such-input", "shipped")),
    (("palm-540b-50d", "--format", "pdf"), ("--format", "html")),
    ((), ("needs inputs",)),
])
def test_bad_input_is_one_line(tmp_path, args, needles):
    assert_clean_error(run_main("report", *args, "--out", str(tmp_path / "r.html")), *needles)
    assert not (tmp_path / "r.html").exists()


def test_a_folder_is_not_an_unknown_shipped_name(tmp_path):
    r = run_main("report", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert_clean_error(r, "is a folder", "give a file in it")
    assert "known:" not in r.stderr  # not the list of every shipped name


def test_an_output_name_of_another_kind_is_named_with_the_fix(tmp_path):
    r = run_main("report", "palm-540b-50d", "--out", str(tmp_path / "r.pdf"))
    assert_clean_error(r, "r.pdf", "a .html file", "--format md")
    assert "None" not in r.stderr


def test_table_cells_are_text_not_markup():
    """rich would swallow '[recovery]' in an error message shown in a table."""
    from rich.console import Console

    from tpusim.cli.render import table

    con = Console(record=True, width=120)
    con.print(table("rows", ["error"], [["[recovery] checkpoint_save_s must be >= 0"]]))
    assert "[recovery] checkpoint_save_s" in con.export_text()


# --- a real browser -------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Injected into a copy of the report (never shipped): marks how many figures the browser decoded
# and laid out at a visible size.
PROBE = """<script>window.addEventListener('load', () => {
  const figs = [...document.querySelectorAll('figure img')];
  const shown = figs.filter(i => {
    const box = i.getBoundingClientRect();
    return i.complete && i.naturalWidth > 100 && box.width > 100 && box.height > 50;
  });
  document.body.setAttribute('data-figures', shown.length + '/' + figs.length);
});</script>"""


def _browser() -> str | None:
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


@pytest.mark.skipif(_browser() is None, reason="no Chromium on this machine (.ci/run installs Debian's "
                                              "chromium; apt-get was not available here)")
def test_report_renders_in_a_headless_browser(made, tmp_path):
    from PIL import Image

    result, out, _ = made
    browser = _browser()
    profile = tmp_path / "profile"
    shot = tmp_path / "page.png"
    run = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,2400",
                          "--hide-scrollbars", f"--screenshot={shot}", out.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 2400)
    colours = image.getcolors(maxcolors=1 << 20) or []
    ink = sum(n for n, rgb in colours if sum(rgb) < 600) / (image.width * image.height)
    assert len(colours) > 200 and ink > 0.03, (len(colours), ink)  # not blank: text and figures

    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,2400",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'data-figures="(\d+)/(\d+)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    assert found.group(1) == found.group(2) == str(result.figures)


def test_dlrm_estimate_and_sweep_sections_rank_by_throughput():
    """A DLRM's MFU counts dense FLOPs only: its key numbers say so (no HFU), a sweep over it is
    ranked by samples/s, and sub-millisecond step times keep their digits in the table."""
    from tpusim.reports.sections import estimate_section, sweep_section

    est = tpusim.estimate("dlrm-dcnv2")
    section = estimate_section([est], "dlrm-dcnv2")
    labels = dict(section.numbers)
    assert "dlrm-dcnv2: MFU (dense FLOPs only)" in labels and "dlrm-dcnv2: MFU / HFU" not in labels
    assert section.tables[0][1]["step time (s)"][0] == pytest.approx(est.step_time_s, rel=1e-3)
    rows = tpusim.sweep({"kind": "estimate", "base": "dlrm-dcnv2",
                         "grid": {"embedding.skew": [1.0, 2.0]}}, progress=False).to_frame()
    numbers = dict(sweep_section(rows, "estimate", "skew", "dict").numbers)
    best = rows.loc[rows["samples_per_s"].idxmax()]
    assert numbers["sweep skew: best samples/s"].startswith(f"{best['samples_per_s']:,.0f} at")


def test_compare_placements_json_is_a_report_input(tmp_path):
    """`estimate --compare-placements --json` output is reported like other --json outputs: one
    row and one labelled bar per placement (it was refused as 'not a --json output')."""
    path = tmp_path / "cmp.json"
    path.write_text(json.dumps(tpusim.estimate("dlrm-dcnv2", chip="v4", chips=128,
                                               compare_placements=True).to_dict()))
    result = run_main("report", str(path), "--out", str(tmp_path / "r"), "--format", "md")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "r" / "report.md").read_text()
    for placement in ("sparsecore / mod", "tensorcore / mod", "host / column"):
        assert placement in text
    from tpusim.charts import step_breakdown

    ests = json.loads(path.read_text())["rows"]
    labels = [t.get_text() for t in step_breakdown(ests).get_yticklabels()]
    assert len(set(labels)) == 3 and all("/" in label for label in labels)


def test_sweep_best_is_over_the_whole_grid_and_captions_name_the_keys_held():
    """With three grid keys a line chart holds the third at its first value; the key number
    'best' must still be the best row of the whole sweep (it was the best of that cut)."""
    import itertools

    import pandas as pd

    from tpusim.reports.sections import sweep_section

    rows = [{"point_id": f"p{i}", "chip": chip, "chips": n, "batch": b, "workload": "w",
             "mfu": 0.4 + 0.01 * i} for i, (chip, n, b) in
            enumerate(itertools.product(["v4", "v5p"], [1024, 2048], [2048, 1024]))]
    section = sweep_section(pd.DataFrame(rows), "estimate", "s", "t")
    numbers = dict(section.numbers)
    assert numbers["sweep s: best MFU"] == "0.47 at chip = v5p, chips = 2048, batch = 1024"
    # the charts put a numeric key on x (chips, 2 values, before batch, 2 values: file order
    # breaks the tie), a line per batch, and hold the text key chip at its first value
    assert all(caption.startswith("MFU against chips, one line per batch") or
               caption.startswith("MFU over the chips x batch grid") for caption, _ in section.figures)
    assert all("at chip = v4" in caption for caption, _ in section.figures)


def test_sweep_charts_put_the_key_with_most_values_on_x_and_rows_in_grid_order():
    """palm-straggler-detection sweeps 2 slowdowns x 4 detection times: two points on x and
    four lines said little; the key with the most values is x. The rows table follows the grid
    (the file is in finishing order) with figures rounded to 4 decimals."""
    import pandas as pd

    from tpusim.reports.sections import sweep_section

    order = [(1.5, 12.0), (1.1, 4.0), (1.1, 0.25), (1.5, 0.25), (1.1, 12.0), (1.5, 4.0)]
    rows = [{"point_id": f"p{i}", "slowdown": s, "detection_hours": d, "scenario": "x", "job": "*",
             "goodput": 0.4 - 0.01 * d * s + 1e-9} for i, (s, d) in enumerate(order)]
    section = sweep_section(pd.DataFrame(rows), "simulate", "s", "t")
    first = section.figures[0][0]
    assert first.startswith("goodput (all jobs) against detection_hours, one line per slowdown")
    (_, table), = section.tables
    assert list(zip(table["slowdown"], table["detection_hours"], strict=True)) == sorted(order)
    assert table["goodput"].tolist() == [round(0.4 - 0.01 * d * s + 1e-9, 4) for s, d in sorted(order)]


def test_parquet_parts_left_by_a_crash_are_reported(tmp_path):
    """After a SIGKILL a .parquet output exists only as FILE.parquet.parts/ (docs/contract.md);
    `report FILE.parquet` said 'unknown report input' and listed shipped names."""
    from tpusim.rows import open_sink, read_frame

    scenario = tmp_path / "s.toml"
    scenario.write_text('[pod]\nname = "tpu-v4-4096"\n[[jobs]]\nname = "j"\nslice = "4x4x4"\n'
                        'mfu = 0.5\nstep_time_s = 1\n[run]\ndays = 1\n')
    table = tmp_path / "reps.csv"
    assert run_main("simulate", str(scenario), "-n", "2", "--out", str(table)).returncode == 0
    out = tmp_path / "reps.parquet"
    sink = open_sink(out, formats=(".parquet",))
    sink.write(read_frame(table).to_dict("records"))
    assert not out.exists()  # not closed: as after a SIGKILL
    result = run_main("report", str(out), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    assert_clean_error(run_main("report", str(tmp_path / "gone.csv"), "--out", str(tmp_path / "g.html")),
                       "gone.csv", "file not found")


def test_one_replication_reports_whole_interruption_counts_and_blank_missing_cells():
    """With one replication the job table's interruption counts are the counts themselves (as
    the key number 'interruptions per run' and simulate's tables print them), not 12.0; a job
    that did not finish has no time to train: a blank cell in Markdown too, not 'None'."""
    import pandas as pd

    from tpusim.reports.render import _md_table
    from tpusim.reports.sections import simulate_section

    result = tpusim.simulate("palm-540b-50d", days=3, replications=1, workers=1)
    (title, frame), _ = simulate_section(result, "palm.toml").tables
    assert title.startswith("Goodput by job")
    assert pd.api.types.is_integer_dtype(frame["interruptions"])
    assert frame["interruptions"].iloc[0] == result.summary["interruptions"]["total"]
    md = _md_table(pd.DataFrame({"job": ["a"], "time_to_train_p50_s": [None]}))
    assert md.splitlines()[-1] == "| a |  |"


SLICED = """[pod]
name = "tpu-v4-4096"

[failures.host]
availability = 0.995
mttr_hours = 48

[[jobs]]
name = "t"
workload = "palm-8b"
slice = "4x4x8"
twisted = true
train_tokens = 1e9

[[jobs]]
name = "p"
workload = "palm-8b"
slice = "4x4x4"
slices = 2
train_tokens = 1e9

[run]
days = 1
seed = 3
"""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_replication_table_carries_each_jobs_slices_to_the_report(tmp_path, suffix):
    """simulate --out with several replications: each job's rows carry its chips, slices,
    slice_shape and twisted (job t: one 4x4x8 twisted slice = 4 x 4 x 8 = 128 chips; job p: two
    4x4x4 slices = 2 x 64 = 128 chips); the all-jobs '*' rows carry every job's chips and slices
    (128 + 128 = 256 chips, 1 + 2 = 3 slices), an empty shape, and twisted false because p's is
    not. The report's job table names each job's slices the same way ('1 x 4x4x8 T',
    '2 x 4x4x4') from the run, from its --json summary and from the table read back."""
    from tpusim.reports.collect import read_table
    from tpusim.reports.sections import simulate_section

    scenario = tmp_path / "sliced.toml"
    scenario.write_text(SLICED)
    table = tmp_path / f"reps{suffix}"
    result = tpusim.simulate(scenario, replications=2, workers=1, out=table)
    sim_json = json.loads(run_main("simulate", str(scenario), "-n", "2", "--json").stdout)
    reps = read_table(table)
    per_job = reps[reps["job"] != "*"].drop_duplicates("job").set_index("job")
    assert per_job.loc["t", ["chips", "slices", "slice_shape"]].tolist() == [128, 1, "4x4x8"]
    assert per_job.loc["p", ["chips", "slices", "slice_shape"]].tolist() == [128, 2, "4x4x4"]
    assert bool(per_job.loc["t", "twisted"]) and not bool(per_job.loc["p", "twisted"])
    whole = reps[reps["job"] == "*"]
    assert len(whole) == 2 and (whole["chips"] == 256).all() and (whole["slices"] == 3).all()
    assert not whole["twisted"].any() and whole["slice_shape"].fillna("").eq("").all()
    for source in (result, sim_json, reps):
        (title, frame), _ = simulate_section(source, "t", name="sliced").tables
        assert "T = twisted" in title
        assert dict(zip(frame["job"], frame["slice"], strict=True)) == \
            {"*": "", "t": "1 x 4x4x8 T", "p": "2 x 4x4x4"}
    old = reps.drop(columns=["slices", "slice_shape", "twisted"])  # a table written before them
    (_, frame), _ = simulate_section(old, "t", name="sliced").tables
    assert "slice" not in frame.columns
