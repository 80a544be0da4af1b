"""Report sections: what one input becomes (key numbers, figures, tables), built from results
that were just computed or read back from files. Pure data in, a Section out; the renderers
(tpusim.reports.render) turn sections into HTML or Markdown.

Invariants (tested): every section has a title, at least one key number and at least one figure;
figures are matplotlib Figures drawn by tpusim.charts; tables are pandas DataFrames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tpusim import charts
from tpusim.units import DAY_S, HOUR_S, fmt_count, fmt_duration, fmt_slices

# The first output column of each runner's rows: sweep rows are point_id, the point's grid keys,
# then the outputs (tpusim.sweeps.run_point).
FIRST_OUTPUTS = ("workload", "pod_name", "scenario", "error")
SWEEP_METRIC = {"simulate": ("goodput", "goodput (all jobs)"), "estimate": ("mfu", "MFU"),
                # a DLRM's MFU counts dense FLOPs only (docs/embeddings.md): rank by throughput
                "estimate_dlrm": ("samples_per_s", "samples/s")}


@dataclass(frozen=True)
class Section:
    title: str
    source: str  # what it was made from, in words
    numbers: tuple[tuple[str, str], ...]  # key numbers: (label, value)
    figures: tuple[tuple[str, Any], ...]  # (caption, Figure)
    tables: tuple[tuple[str, Any], ...] = ()  # (title, DataFrame)
    seeds: tuple[str, ...] = field(default_factory=tuple)


def _fig(ax_or_fig) -> Any:
    fig = ax_or_fig
    while getattr(fig, "figure", fig) is not fig:
        fig = fig.figure
    return fig


def _pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


# --- plan ---------------------------------------------------------------------------------------

def plan_section(plans: list[Any], source: str) -> Section:
    """One or more plan results (PlanResult or --json dicts), one per host availability."""
    from tpusim.charts.plan import as_dict

    dicts = [as_dict(p) for p in plans]
    pod = dicts[0]["pod"]["name"]
    figures = [("Goodput against slice size: OCS (solid) and static torus (dashed), 95% bands on "
                "the static Monte Carlo rows.", _fig(charts.plan_goodput(dicts)))]
    if dicts[0].get("assignment"):
        figures.append(("Cube map of the concrete assignment.", _fig(charts.cube_map(dicts[0]))))
    numbers, tables = [], []
    import pandas as pd

    for d in dicts:
        level = f"host {100 * d['host_availability']:.4g}%"
        rows = d["rows"]
        ok_ocs = [r["slice_chips"] for r in rows if r["p_schedulable_ocs"] >= 0.99]
        # static, as plan --target judges it: the lower end of the 95% interval must reach 99%
        # (exact rows: the value); few patterns cap that end below 0.99, so the estimate's own
        # answer is given beside it when they differ
        sure = max((r["slice_chips"] for r in rows if r["p_schedulable_static_lo"] >= 0.99), default=None)
        seen = max((r["slice_chips"] for r in rows if r["p_schedulable_static"] >= 0.99), default=None)
        static = f"static {sure or 'none'} chips"
        if d.get("static_method") == "monte-carlo" and seen != sure:
            static += (f" on the lower end of the 95% interval over {d['static_patterns']} Monte "
                       f"Carlo patterns, {seen or 'none'} chips on the estimate")
        numbers.append((f"{pod}, {level}: cube availability", f"{d['cube_availability']:.4f}"))
        numbers.append((f"{pod}, {level}: largest slice schedulable 99% of the time",
                        f"OCS {max(ok_ocs) if ok_ocs else 'none'}, {static}"))
        tables.append((f"{pod} at {level}", pd.DataFrame([{
            "slice chips": r["slice_chips"], "shape": r["shape"],
            "P(sched) OCS": round(r["p_schedulable_ocs"], 4),
            "P(sched) static": round(r["p_schedulable_static"], 4),
            "goodput OCS": round(r["goodput_ocs"], 4), "goodput static": round(r["goodput_static"], 4),
            "static 95% interval": f"[{r['goodput_static_lo']:.3f}, {r['goodput_static_hi']:.3f}]",
        } for r in rows])))
    seeds = tuple(f"plan {pod} at host {100 * d['host_availability']:.4g}%: seed {d['seed']}, "
                  f"{d['static_patterns']} static patterns" for d in dicts if d.get("seed") is not None)
    return Section(f"Plan: {pod}", source, tuple(numbers), tuple(figures), tuple(tables), seeds)


# --- estimate -----------------------------------------------------------------------------------

def estimate_section(estimates: list[Any], source: str) -> Section:
    """One or more estimates (Estimate, --json dicts or rows)."""
    from tpusim.charts.estimate import records

    recs = records(estimates)
    dlrm = all("samples_per_s" in r for r in recs)  # an embedding model: MFU counts dense FLOPs only
    best = max(recs, key=lambda r: r["samples_per_s"] if dlrm else r["mfu"])
    name = best.get("workload", "workload")
    numbers = [(f"{name}: MFU (dense FLOPs only)", _pct(best["mfu"])) if dlrm else
               (f"{name}: MFU / HFU", f"{_pct(best['mfu'])} / {_pct(best.get('hfu'))}"),
               (f"{name}: step time", fmt_duration(best["step_time_s"]))]
    unit = "samples" if dlrm else "tokens"
    numbers.append((f"{name}: {unit}/s", f"{best[f'{unit}_per_s']:,.0f}"))
    figures = [("Where the step time goes, by cause.", _fig(charts.step_breakdown(recs)))]
    if len({r["chips"] for r in recs}) > 1:
        figures.append(("MFU and HFU against slice size.", _fig(charts.mfu_vs_slice(recs))))
    import pandas as pd

    table = pd.DataFrame([{
        "chips": r["chips"], "chip": r.get("chip"),
        **({"placement / sharding": f"{r.get('placement')} / {r.get('sharding')}"} if dlrm else {}),
        "slices x shape": f"{r.get('slices')} x {r.get('slice_shape')}"
                          + (" twisted" if r.get("twisted") else ""),
        "step time (s)": float(f"{r['step_time_s']:.4g}"), f"{unit}/s": round(r[f"{unit}_per_s"]),
        "MFU": round(r["mfu"], 4), "HFU": round(r.get("hfu", math.nan), 4),
        "memory per chip (GB)": round(r.get("memory_per_chip_bytes", math.nan) / 1e9, 2),
        "fits in HBM": r.get("fits_in_hbm"),
    } for r in recs])
    return Section(f"Estimate: {name}", source, tuple(numbers), tuple(figures), (("Estimates", table),))


# --- simulate -----------------------------------------------------------------------------------

def simulate_section(result: Any, source: str, name: str | None = None) -> Section:
    """A SimulationResult, a simulate --json summary, or a replication table (DataFrame; it
    carries no scenario name, so `name` names it)."""
    from tpusim.sweeps import summary_rows

    summary, table = _summary_and_table(result)
    name = summary.get("scenario") or name or "simulation"
    numbers = [(f"{name}: goodput", _ci(summary, "goodput")),
               (f"{name}: scheduling x runtime x program",
                " x ".join(_pct(summary[k]) for k in ("scheduling_goodput", "runtime_goodput",
                                                      "program_goodput"))),
               (f"{name}: interruptions per run",
                fmt_count(summary["interruptions"]["total"], summary.get("replications") or 0))]
    ttt = summary["time_to_train_s"]
    if ttt.get("p50") is not None:
        numbers.append((f"{name}: time to train (median)",
                        f"{ttt['p50'] / DAY_S:.1f} days ({_pct(ttt['finished_fraction'])} finished)"))
    n = summary.get("replications") or 0
    spread = (f"with 95% intervals (Student-t) over {n} replications" if n > 1
              else "one replication: no interval")
    figures = [(f"Goodput = scheduling x runtime x program, {spread}.",
                _fig(charts.goodput_decomposition(summary))),
               ("Where the jobs' time went: productive time and badput by category.",
                _fig(charts.badput_bar(summary)))]
    if table is not None and summary.get("replications", 0) > 1:
        figures.append(("Goodput over replications.", _fig(charts.goodput_distribution(table))))
        figures.append(("Time to train over replications.", _fig(charts.time_to_train_distribution(table))))
    if getattr(result, "events", None) is not None:
        unit = getattr(getattr(result, "scenario", None), "unit", "cube")
        figures.append((f"Replication 0: job states, interruptions and healthy {unit}s.",
                        charts.timeline(result)))
    import pandas as pd

    rows = summary_rows(summary) if "jobs" in summary else []
    shown = ["job", "slice", "goodput", "scheduling_goodput", "runtime_goodput", "program_goodput",
             "interruptions", "time_to_train_p50_s", "finished_fraction"]
    frame = pd.DataFrame(rows)
    if "slice_shape" in frame.columns:  # each job's slices, as simulate's Jobs table: "2 x 4x4x8 T"
        frame["slice"] = [fmt_slices(int(k), shape, tw is True) if isinstance(shape, str) else ""
                          for k, shape, tw in zip(frame["slices"], frame["slice_shape"],
                                                  frame.get("twisted", [False] * len(frame)), strict=True)]
    if n == 1 and "interruptions" in frame.columns:  # one replication: the counts themselves
        frame["interruptions"] = frame["interruptions"].round().astype(int)
    tables = []
    if len(frame):
        tables.append(("Goodput by job ('*' = all jobs, chip-weighted; slice = slices x shape, "
                       "T = twisted torus)",
                       frame[[c for c in shown if c in frame.columns]].round(4)))
    hours = {"productive": summary["productive_s"] / HOUR_S,
             **{k: v / HOUR_S for k, v in summary["badput"].items()}}
    tables.append(("Job-hours by category (mean over replications)",
                   pd.DataFrame([{"category": k.replace("_", " "), "hours": round(v, 1)}
                                 for k, v in hours.items()])))
    seeds = (f"simulate {name}: seed {summary.get('seed')}, {summary.get('replications')} replications",)
    return Section(f"Simulation: {name}", source, tuple(numbers), tuple(figures), tuple(tables), seeds)


def _ci(summary: dict, key: str) -> str:
    half = summary.get(f"{key}_ci95")
    if half is None or (isinstance(half, float) and math.isnan(half)):
        return _pct(summary[key])
    return f"{_pct(summary[key])} ± {100 * half:.1f} pt"


def _summary_and_table(result: Any) -> tuple[dict, Any]:
    if hasattr(result, "summary"):
        return result.summary, result.table
    if isinstance(result, dict):
        return result, None
    from tpusim.sim.accounting import summarize  # a replication table read back from a file

    summary = summarize(result)
    # each job's slices, for the job table's 'slice' column (tables written before them lack them)
    if {"slices", "slice_shape", "twisted"} <= set(result.columns):
        jobs = result[result["job"] != "*"].drop_duplicates("job")
        summary["jobs_plan"] = {
            str(r["job"]): {"slices": int(r["slices"]), "slice_shape": str(r["slice_shape"]),
                            "twisted": bool(r["twisted"])}
            for _, r in jobs.iterrows()
        }
    return summary, result


# --- sweep --------------------------------------------------------------------------------------

def grid_columns(frame) -> list[str]:
    """A sweep frame's grid keys: the columns between point_id and the first output column."""
    cols = list(frame.columns)
    if "point_id" not in cols:
        return []
    out = []
    for c in cols[cols.index("point_id") + 1:]:
        if c in FIRST_OUTPUTS:
            break
        out.append(c)
    return [c for c in out if frame[c].nunique() > 1] or out[:1]


def sweep_section(frame: Any, kind: str, name: str, source: str) -> Section:
    """A sweep's tidy rows (from tpusim.sweep or a results file)."""
    ok = frame[frame["error"].isna() | (frame["error"] == "")] if "error" in frame.columns else frame
    errors = len(frame) - len(ok)
    grid = grid_columns(frame)
    axes = _plot_order(frame, grid)  # the charts' x, then the key that makes their lines
    points = frame["point_id"].nunique() if "point_id" in frame.columns else len(frame)
    numbers = [(f"sweep {name}", f"{points} points, {len(frame)} rows, {errors} with errors")]
    figures = []
    if kind == "plan":
        by = grid[0] if grid else None
        for y in ("goodput_ocs", "goodput_static"):
            figures.append((f"{y.replace('_', ' ')} against slice size for each {by or 'point'}.",
                            _fig(charts.sweep_lines(ok, "slice_chips", y, by=by, logx=True))))
    elif kind in SWEEP_METRIC and grid:
        dlrm = kind == "estimate" and "kind" in ok.columns and (ok["kind"] == "dlrm").all()
        y, label = SWEEP_METRIC["estimate_dlrm" if dlrm else kind]
        every = ok[ok["job"] == "*"] if "job" in ok.columns else ok
        if len(every) and every[y].notna().any():  # the best of the whole grid, not of one cut
            best = every.loc[every[y].idxmax()]
            where = ", ".join(f"{g} = {best[g]}" for g in grid)
            value = f"{best[y]:,.0f}" if y.endswith("_per_s") else f"{best[y]:.4g}"
            numbers.append((f"sweep {name}: best {label}", f"{value} at {where}"))
        rows = _fix_others(every, axes[:2])
        if len(rows):
            by = axes[1] if len(axes) > 1 else None
            band = " (band: 95% interval over replications)" if f"{y}_ci95" in rows else ""
            per = f", one line per {by}" if by else ""
            held = ", ".join(f"{g} = {rows[g].iloc[0]}" for g in axes[2:])
            held = f" at {held}" if held else ""  # the grid keys a line chart cannot show
            figures.append((f"{label} against {axes[0]}{per}{held}{band}.",
                            _fig(charts.sweep_lines(rows, axes[0], y, by=by))))
            if by is not None and not rows.duplicated([axes[0], by]).any():
                figures.append((f"{label} over the {axes[0]} x {by} grid{held}.",
                                _fig(charts.sweep_heatmap(rows, axes[0], by, y))))
    if not figures:  # nothing to draw a line through: show the numbers
        numbers.append((f"sweep {name}", "no varying grid key to plot"))
    shown = [c for c in ("point_id", *grid, "job", "slice_chips", "goodput", "goodput_ci95",
                         "runtime_goodput", "mfu", "samples_per_s", "step_time_s", "goodput_ocs",
                         "goodput_static",
                         "error") if c in frame.columns]
    seeds = tuple(sorted({f"sweep {name}: seed {s}" for s in frame["seed"].dropna().unique()})
                  ) if "seed" in frame.columns else ()
    # the file is in finishing order: show the grid's, numbers as numbers (not text), 4 decimals
    table = frame.sort_values([c for c in (*grid, "job") if c in frame.columns],
                              kind="stable")[shown].head(60).round(4)
    return Section(f"Sweep: {name}", source, tuple(numbers), tuple(figures),
                   ((f"Rows (first 60 of {len(frame)})" if len(frame) > 60 else f"Rows ({len(frame)})",
                     table),), seeds)


def _plot_order(frame, grid: list[str]) -> list[str]:
    """The swept keys in the order the charts use them: numeric keys first (a line needs an
    x that is a number), and among them the key with the most values on the x axis (four
    detection times make a line; two slowdowns make a legend)."""
    import pandas as pd

    return sorted(grid, key=lambda c: (not pd.api.types.is_numeric_dtype(frame[c]), -frame[c].nunique()))


def _fix_others(rows, keep: list[str]):
    """Rows with every grid key outside `keep` at its first value (a line chart shows two keys)."""
    for col in grid_columns(rows):
        if col not in keep:
            rows = rows[rows[col] == rows[col].iloc[0]]
    return rows
