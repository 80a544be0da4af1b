"""Simulation figures: the goodput decomposition (scheduling x runtime x program), where the
time went (a stacked badput bar), goodput and time to train over replications, the timeline.

They take what `tpusim.simulate` returned (a SimulationResult) or, for the decomposition and
the badput bar, its `--json` summary dict, and for the distributions its replication table
(`simulate --out runs.csv`, a DataFrame). Several results side by side: pass a list.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tpusim.charts.style import (
    CATEGORY_COLOURS,
    GOODPUT_COLOURS,
    PALETTE,
    STATE_COLOURS,
    axes_or_new,
    colour,
    new_figure,
    provenance,
    styled,
)
from tpusim.errors import TpusimError
from tpusim.units import DAY_S, HOUR_S

COMPONENTS = ("scheduling_goodput", "runtime_goodput", "program_goodput", "goodput")
CAUSE_MARKERS = {"host": "x", "chip": "+", "hbm": "P", "ici_link": "*", "cube": "s", "ocs": "^",
                 "link": "v", "dcn": ">", "job": "o", "sdc": "D", "loss_spike": "2", "maintenance": "d",
                 "straggler": "1"}
CAUSE_LABELS = {"sdc": "silent data corruption found", "loss_spike": "loss spike",
                "maintenance": "maintenance", "ici_link": "ICI link failure", "hbm": "HBM failure",
                "dcn": "DCN failure", "straggler": "straggler drained"}  # the rest: "<cause> failure"


def summary_of(result: Any) -> dict:
    """A SimulationResult or a simulate --json dict -> the summary dict."""
    summary = getattr(result, "summary", result)
    if not isinstance(summary, dict) or "goodput" not in summary:
        raise TpusimError("simulate chart: pass the result of tpusim.simulate(...) or its --json output")
    return summary


def replications_of(result: Any):
    """The all-jobs rows (job '*') of a SimulationResult's table, or of a replication DataFrame."""
    table = getattr(result, "table", result)
    if not hasattr(table, "columns") or "goodput" not in table.columns:
        raise TpusimError("distribution chart: pass the result of tpusim.simulate(...) or its "
                          "replication table (tpusim.simulate(..., replications=2 or more), or the "
                          "file `tpusim simulate --out FILE -n 2` writes)")
    return table[table["job"] == "*"] if "job" in table.columns else table


def _many(results: Any) -> list:
    return list(results) if isinstance(results, list | tuple) else [results]


def _caption(summaries: list[dict]) -> str:
    s = summaries[0]
    return provenance(seed=s.get("seed"), replications=s.get("replications"),
                      extra=", ".join(str(x.get("scenario", "")) for x in summaries))


@styled
def goodput_decomposition(results: Any, *, ax=None):
    """Bars of scheduling, runtime, program goodput and their product (overall goodput), with 95%
    intervals over replications; one group per result. Returns the Axes."""
    sums = [summary_of(r) for r in _many(results)]
    ax = axes_or_new(ax, 6.5, 4.0, _caption(sums))
    width = 0.8 / len(COMPONENTS)
    for j, key in enumerate(COMPONENTS):
        xs = [i + (j - 1.5) * width for i in range(len(sums))]
        ys = [s[key] for s in sums]
        half = [s.get(f"{key}_ci95") for s in sums]
        # a fraction lies in [0, 1]: the interval is drawn clipped to it (so its label stays
        # inside the axes); none at all with one replication (no interval)
        errs = None if not any(_finite(h) for h in half) else [
            [min(_finite(h), y) for h, y in zip(half, ys, strict=True)],
            [min(_finite(h), 1.0 - y) for h, y in zip(half, ys, strict=True)]]
        bars = ax.bar(xs, ys, width * 0.92, yerr=errs, capsize=3, color=GOODPUT_COLOURS[key],
                      label=key.replace("_", " "), edgecolor="white")
        ax.bar_label(bars, labels=[f"{y:.1%}" for y in ys], fontsize=7.5, padding=2)
    ax.set_xticks(range(len(sums)), [str(s.get("scenario", i)) for i, s in enumerate(sums)])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("fraction")
    ax.set_title("goodput = scheduling x runtime x program", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="x", visible=False)
    return ax


def _finite(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else 0.0


@styled
def badput_bar(results: Any, *, ax=None):
    """Where the time went: productive time and each badput category, stacked, as a share of the
    jobs' windows (mean over replications); one bar per result. Returns the Axes."""
    sums = [summary_of(r) for r in _many(results)]
    ax = axes_or_new(ax, 7.5, 1.8 + 0.5 * len(sums), _caption(sums))
    cats = ["productive"] + list(dict.fromkeys(c for s in sums for c in s["badput"]))
    labels = [str(s.get("scenario", i)) for i, s in enumerate(sums)]
    totals = [s["productive_s"] + sum(s["badput"].values()) for s in sums]
    left = [0.0] * len(sums)
    for i, cat in enumerate(cats):
        secs = [s["productive_s"] if cat == "productive" else s["badput"].get(cat, 0.0) for s in sums]
        if not any(secs):
            continue
        widths = [v / t if t > 0 else 0.0 for v, t in zip(secs, totals, strict=True)]
        ax.barh(labels, widths, left=left, height=0.6, color=colour(CATEGORY_COLOURS, cat, i),
                label=f"{cat.replace('_', ' ')}")
        for y, (x0, w, v) in enumerate(zip(left, widths, secs, strict=True)):
            if w > 0.06:
                ax.text(x0 + w / 2, y, f"{w:.0%}\n{v / HOUR_S:.0f} h", ha="center", va="center",
                        fontsize=7)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.margins(y=0.8 / len(sums))
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the jobs' time (job-hours in the bars)")
    ax.set_title("where the time went: productive and badput", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", visible=False)
    return ax


@styled
def goodput_distribution(results: Any, *, ax=None, bins: int = 20):
    """Histogram of overall goodput over replications (one colour per result). Returns the Axes."""
    tables = [replications_of(r) for r in _many(results)]
    ax = axes_or_new(ax, 6.0, 3.8, provenance(replications=sum(len(t) for t in tables)))
    for i, t in enumerate(tables):
        values = t["goodput"].to_numpy(dtype=float)
        name = _name(results, i)
        ax.hist(values, bins=bins, alpha=0.6 if len(tables) > 1 else 0.9, color=PALETTE[i],
                label=f"{name} (mean {values.mean():.3f})" if name else f"mean {values.mean():.3f}")
        ax.axvline(values.mean(), color=PALETTE[i], linestyle="--", linewidth=1)
    ax.set_xlabel("goodput per replication")
    ax.set_ylabel("replications")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("goodput over replications", loc="left")
    ax.legend(loc="upper left")
    return ax


@styled
def time_to_train_distribution(results: Any, *, ax=None, bins: int = 20):
    """Histogram of the time to train (days) over replications; runs that did not finish within
    the horizon are counted in the legend. Returns the Axes."""
    tables = [replications_of(r) for r in _many(results)]
    ax = axes_or_new(ax, 6.0, 3.8, provenance(replications=sum(len(t) for t in tables)))
    finished_none = 0
    for i, t in enumerate(tables):
        days = t["time_to_train_s"].to_numpy(dtype=float) / DAY_S
        done = days[~(days != days)]
        name = _name(results, i)
        label = f"{name}: " if name else ""
        label += f"{len(done)} of {len(days)} finished"
        if len(done):
            ax.hist(done, bins=bins, alpha=0.6 if len(tables) > 1 else 0.9, color=PALETTE[i],
                    label=label)
        else:
            ax.plot([], [], color=PALETTE[i], label=label)
            finished_none += 1
    if finished_none == len(tables):  # nothing to draw: say so instead of an empty frame
        ax.text(0.5, 0.5, "no replication finished\nwithin the simulated days", ha="center",
                va="center", transform=ax.transAxes, color="0.35")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("time to train (days)")
    ax.set_ylabel("replications")
    ax.set_title("time to train over replications", loc="left")
    ax.legend(loc="upper left")
    return ax


def _name(results: Any, i: int) -> str:
    items = _many(results)
    scenario = getattr(items[i], "scenario", None)
    return getattr(scenario, "name", "") if len(items) > 1 else ""


def state_intervals(events, horizon_s: float) -> dict[str, list[tuple[float, float, str]]]:
    """Per job: (start_s, end_s, state) from the 'state' events of an event log DataFrame."""
    out: dict[str, list[tuple[float, float, str]]] = {}
    states = events[events["kind"] == "state"]
    for job, part in states.groupby("job", sort=False):
        times = part["time_s"].tolist() + [horizon_s]
        names = part["detail"].tolist()
        out[str(job)] = [(times[i], times[i + 1], names[i]) for i in range(len(names))
                         if names[i] != "done" and times[i + 1] > times[i]]
    return out


def cubes_needed(spans: dict[str, list[tuple[float, float, str]]], cubes: dict[str, int],
                 horizon_s: float) -> tuple[list[float], list[int]]:
    """(times, cubes) steps: the cubes of the jobs submitted and not yet done (waiting counts),
    from each job's state intervals; the phases of a schedule (`after`) do not add up."""
    changes: dict[float, int] = {}
    for job, parts in spans.items():
        if parts:
            changes[parts[0][0]] = changes.get(parts[0][0], 0) + cubes.get(job, 0)
            changes[parts[-1][1]] = changes.get(parts[-1][1], 0) - cubes.get(job, 0)
    times, counts, level = [0.0], [0], 0
    for t in sorted(changes):
        level += changes[t]
        times.append(t)
        counts.append(level)
    times.append(horizon_s)
    counts.append(level)
    return times, counts


def healthy_steps(events, pod: int, n_cubes: int, horizon_s: float) -> tuple[list[float], list[int]]:
    """(times, healthy cube count) steps for one pod from cube_down/cube_up events."""
    times, counts = [0.0], [n_cubes]
    healthy = n_cubes
    cubes = events[(events["pod"] == pod) & events["kind"].isin(("cube_down", "cube_up"))]
    for t, kind in zip(cubes["time_s"], cubes["kind"], strict=True):
        healthy += -1 if kind == "cube_down" else 1
        times.append(float(t))
        counts.append(healthy)
    times.append(horizon_s)
    counts.append(healthy)
    return times, counts


def _boxes(bars: list[tuple[float, float]], y0: float, y1: float):
    """(start, width) pairs -> an array of rectangles' corners for a PolyCollection."""
    xy = np.asarray(bars, dtype=float).reshape(-1, 2)
    x0, x1 = xy[:, 0], xy[:, 0] + xy[:, 1]
    lo, hi = np.full_like(x0, y0), np.full_like(x0, y1)
    return np.stack([np.column_stack(p) for p in ((x0, lo), (x0, hi), (x1, hi), (x1, lo))], axis=1)


@styled
def timeline(result: Any, *, fig=None):
    """Replication 0: each job's state over time with its interruptions (top) and the healthy
    cubes of each pod (bottom). Needs a result run with its event log
    (`tpusim.simulate(..., with_events=True)`). Returns the Figure."""
    events, scenario = getattr(result, "events", None), getattr(result, "scenario", None)
    if events is None or scenario is None:
        raise TpusimError("timeline: the result has no event log; run simulate with "
                          "with_events=True (the CLI does this for --chart)")
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    horizon = scenario.horizon_s
    spans = state_intervals(events, horizon)
    jobs = [j.name for j in scenario.jobs]
    caption = provenance(seed=scenario.seed, extra=f"{scenario.name}, replication 0")
    fig = fig or new_figure(11.0, 4.0 + 0.5 * len(jobs), caption=caption)
    ax, ax2 = fig.subplots(2, 1, sharex=True,
                           gridspec_kw={"height_ratios": [max(1.5, 0.5 * len(jobs)), 1.5]})
    interrupts = events[events["kind"] == "interrupt"]
    for row, job in enumerate(jobs):
        by_state: dict[str, list[tuple[float, float]]] = {}
        for start, end, state in spans.get(job, []):
            by_state.setdefault(state, []).append((start / DAY_S, (end - start) / DAY_S))
        for state, bars in by_state.items():  # one collection of rectangles per state (fast)
            ax.add_collection(PolyCollection(_boxes(bars, row - 0.4, row + 0.4), linewidths=0,
                                             facecolors=STATE_COLOURS.get(state, "#999999")))
        hits = interrupts[interrupts["job"] == job]
        for cause, part in hits.groupby("detail"):
            days = part["time_s"].to_numpy(dtype=float) / DAY_S
            ax.scatter(days, np.full(days.size, row + 0.45), s=14, color="black",
                       marker=CAUSE_MARKERS.get(str(cause), "."), linewidths=0.8, zorder=3)
    ax.set_yticks(range(len(jobs)), jobs)
    ax.set_ylim(-0.6, len(jobs) - 0.2)
    ax.invert_yaxis()
    ax.grid(False)
    ax.set_title(f"{scenario.name}: job states and interruptions", loc="left")
    handles = [Patch(color=c, label=s) for s, c in STATE_COLOURS.items()]
    causes = set(interrupts["detail"].astype(str))
    handles += [Line2D([], [], color="black", marker=m, linestyle="",
                       label=CAUSE_LABELS.get(c, f"{c} failure"))
                for c, m in CAUSE_MARKERS.items() if c in causes]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    for pod in range(scenario.pod_count):
        times, counts = healthy_steps(events, pod, scenario.usable_cubes, horizon)
        ax2.step([t / DAY_S for t in times], counts, where="post", label=f"pod {pod}",
                 linewidth=0.9, color=PALETTE[pod % len(PALETTE)])
    unit = getattr(scenario, "unit", "cube")
    times, need = cubes_needed(spans, {j.name: j.cubes for j in scenario.jobs}, horizon)
    ax2.step([t / DAY_S for t in times], [n / scenario.pod_count for n in need], where="post",
             color="gray", linestyle=":", linewidth=0.8,
             label=f"{unit}s the jobs need" + (" (per pod, mean)" if scenario.pod_count > 1 else ""))
    ax2.set_ylabel(f"healthy {unit}s")
    ax2.set_xlabel("time (days)")
    ax2.set_xlim(0, horizon / DAY_S)
    ax2.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


@styled
def simulate_overview(result: Any, *, fig=None):
    """One figure for a simulation: the goodput decomposition and the badput bar, plus the goodput
    and time-to-train distributions when there are several replications. Returns the Figure."""
    summary = summary_of(result)
    table = getattr(result, "table", None)
    several = table is not None and summary.get("replications", 1) > 1
    caption = _caption([summary])
    fig = fig or new_figure(12.0, 7.4 if several else 3.9, caption=caption)
    top, bottom = (fig.subfigures(2, 1) if several else (fig, None))
    left, right = top.subplots(1, 2, width_ratios=[1, 1.25])
    goodput_decomposition(summary, ax=left)
    badput_bar(summary, ax=right)
    right.set_yticks([])
    if bottom is not None:
        a, b = bottom.subplots(1, 2)
        goodput_distribution(table, ax=a)
        time_to_train_distribution(table, ax=b)
    return fig
