"""`tpusim simulate`: a discrete-event run of a scenario (failures, repairs, OCS, checkpoints)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer

from tpusim.cli.app import app
from tpusim.cli.render import console, escape, print_json, table
from tpusim.topology.shape import fmt_shape
from tpusim.units import HOUR_S, fmt_count, fmt_duration, fmt_slices

EXAMPLES = """Examples:

  tpusim simulate palm-540b-50d --replications 50 --seed 7 --chart palm.svg

  tpusim simulate scenarios/palm-540b-50d.toml -n 1 --timeline timeline.png --out events.csv
"""


@app.command(epilog=EXAMPLES)
def simulate(
    scenario: str = typer.Argument(..., help="Scenario TOML (or a name in scenarios/)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed (default: the scenario's)."),
    replications: int | None = typer.Option(
        None, "--replications", "-n", help="Replications (default: the scenario's)."),
    days: float | None = typer.Option(None, "--days", help="Simulated wall-clock days."),
    workers: int | None = typer.Option(None, "--workers", help="Processes (default: CPUs)."),
    out: Path | None = typer.Option(
        None, "--out", help="Event log (1 replication) or replication table: .parquet or .csv."),
    chart: Path | None = typer.Option(
        None, "--chart", help="Goodput figure (decomposition, badput, distributions): .png/.svg/.pdf."),
    timeline: Path | None = typer.Option(
        None, "--timeline", help="Timeline of replication 0 (job states, healthy cubes): .png/.svg/.pdf."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Run even if the estimated events or event log exceed the limits."),
) -> None:
    """Goodput over days to months: failures, repairs, OCS reconfiguration, checkpoints, restarts."""
    from tpusim.errors import TpusimError
    from tpusim.limits import check_workers
    from tpusim.sim import load_scenario, with_overrides
    from tpusim.sim import simulate as run

    for flag, path in (("--chart", chart), ("--timeline", timeline)):
        if path is not None and path.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise TpusimError(f"{flag} {str(path)!r}: use a .png, .svg or .pdf file name")
    if workers is not None:
        check_workers(workers)
    sc = with_overrides(load_scenario(scenario), days=days, seed=seed, replications=replications)
    progress = None
    if sc.replications > 1 and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        progress = Progress("replications", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(file=sys.stderr), transient=True)
    if progress is None:
        result = run(sc, workers=workers, with_events=timeline is not None, out=out,
                     check_limits=not no_limits)
    else:
        with progress:
            task = progress.add_task("simulate", total=sc.replications)
            result = run(sc, workers=workers, with_events=timeline is not None, out=out,
                         on_rows=lambda k: progress.advance(task, k), check_limits=not no_limits)
    if chart is not None or timeline is not None:
        from tpusim import charts

        if chart is not None:
            charts.save(charts.simulate_overview(result), chart)
        if timeline is not None:
            charts.save(charts.timeline(result), timeline)
    if json_out:
        print_json(result.summary)
        return
    _render(result, out, chart, timeline)


def _trained(job: dict) -> str:
    """Mean work done per replication: tokens (a language model) or samples (a DLRM)."""
    for unit in ("tokens", "samples"):
        value = job.get(f"{unit}_trained")
        if value is not None and value == value:
            return f"{value:.3g} {unit}"
    return "-"


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _ci(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"± {100 * x:.1f}"


def _render(result, out: Path | None, chart: Path | None, timeline: Path | None) -> None:
    s = result.summary
    sc = result.scenario
    con = console()
    pods = f"{sc.pod_count} x {sc.pod.name}" if sc.pod_count > 1 else sc.pod.name
    con.print(f"[bold]{escape(sc.name)}[/bold]: {s['replications']} replication(s), seed {sc.seed}, "
              f"{sc.days:g} days, {pods} ({'OCS' if sc.ocs else 'static torus'}, "
              f"{sc.usable_cubes} {sc.unit}s per pod in use)")
    rows = [(k.replace("_", " "), _pct(s[k]), _ci(s[f"{k}_ci95"]))
            for k in ("goodput", "scheduling_goodput", "runtime_goodput", "program_goodput")]
    con.print(table("Goodput", ["goodput", "mean", "95% CI (points)"], rows))
    window = s["productive_s"] + sum(s["badput"].values())
    time_rows = [("productive", f"{s['productive_s'] / HOUR_S:.1f}", _pct(s["productive_s"] / window))]
    for k, v in s["badput"].items():
        time_rows.append((k.replace("_", " "), f"{v / HOUR_S:.1f}", _pct(v / window)))
        if k == "waiting_for_resources" and s["waiting_fragmented_s"] > 0:
            time_rows.append(("  of which fragmented", f"{s['waiting_fragmented_s'] / HOUR_S:.1f}",
                              _pct(s["waiting_fragmented_s"] / window)))
    con.print(table("Where the time went (job-hours)",
                    ["category", "hours", "share"], time_rows))
    by_cause = s["badput_by_cause"]
    n = s["replications"]  # counts are means over replications: whole numbers with one
    # a cause with badput and no interruption yet: a straggler not found by the horizon
    causes = [(c, fmt_count(k, n), f"{by_cause.get(c, 0.0) / HOUR_S:.1f}")
              for c, k in s["interruptions"].items()
              if (k > 0 or by_cause.get(c, 0.0) > 0) and c != "total"]
    if by_cause["none"] > 0:
        causes.append(("(no interruption)", "-", f"{by_cause['none'] / HOUR_S:.1f}"))
    causes.append(("total", fmt_count(s["interruptions"]["total"], n),
                   f"{sum(by_cause.values()) / HOUR_S:.1f}"))
    con.print(table("Interruptions", ["cause", "count", "badput (job-hours)"], causes))
    fleet = {k: v for k, v in s["fleet"].items() if v > 0 and k != "unit_failures"}
    if fleet:
        con.print(table("Repairs (per replication)", ["", "count"],
                        [(k.replace("_", " "), fmt_count(v, n)) for k, v in fleet.items()]))
    job_rows = []
    notes = []
    for plan in result.plans:
        j = s["jobs"][plan.spec.name]
        ttt = j["time_to_train_s"]
        t50 = fmt_duration(ttt["p50"]) if ttt["p50"] is not None else "-"
        slices = fmt_slices(plan.spec.slices, fmt_shape(plan.spec.slice_shape), plan.spec.twisted)
        job_rows.append((plan.spec.name, f"{plan.chips} ({slices})",
                         _pct(plan.mfu),
                         fmt_duration(plan.interval_s) if math.isfinite(plan.interval_s) else "-",
                         _pct(j["goodput"]), _pct(j["scheduling_goodput"]), _pct(j["runtime_goodput"]),
                         fmt_count(j["interruptions"], n), _trained(j), t50, _pct(ttt["finished_fraction"])))
        if j["never_started_fraction"] > 0:
            kind = "an OCS set of" if sc.ocs else "a contiguous healthy box of"
            notes.append(
                f"job {plan.spec.name!r} never got its slices in {_pct(j['never_started_fraction'])} "
                f"of replications: it needs {plan.spec.slices} x {kind} {plan.spec.cubes_per_slice} "
                f"free healthy cubes at once ({plan.spec.slice_name})")
    if any(plan.spec.twisted for plan in result.plans):
        notes.append("T = twisted torus")
    con.print(table("Jobs", ["job", "chips (slices x shape)", "program goodput", "ckpt interval", "goodput",
                             "sched", "runtime", "interrupts", "trained", "time to train p50", "finished"],
                    job_rows,
                    caption="\n".join(notes) if notes else None))
    for path, what in ((out, "table" if s["replications"] > 1 else "event log"), (chart, "goodput figure"),
                       (timeline, "timeline")):
        if path is not None:
            con.print(f"wrote {what} to {escape(str(path))}")
