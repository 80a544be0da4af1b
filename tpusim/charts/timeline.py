"""Timeline of one replication: each job's state over time (running, saving, restarts,
reconfiguration, waiting) with its interruptions, and the healthy cubes of each pod."""

from __future__ import annotations

from pathlib import Path

from tpusim.errors import TpusimError
from tpusim.units import DAY_S

STATE_COLORS = {
    "running": "#2ca02c",
    "saving": "#1f77b4",
    "restoring": "#ff7f0e",
    "initializing": "#ffbb78",
    "starting": "#fdd0a2",
    "reconfiguring": "#9467bd",
    "waiting": "#d62728",
}
CAUSE_MARKERS = {"host": "x", "cube": "s", "ocs": "^", "link": "v", "job": "o", "maintenance": "d"}


def state_intervals(events, horizon_s: float) -> dict[str, list[tuple[float, float, str]]]:
    """Per job: (start_s, end_s, state) from the 'state' events of an event log DataFrame."""
    out: dict[str, list[tuple[float, float, str]]] = {}
    states = events[events["kind"] == "state"]
    for job, part in states.groupby("job", sort=False):
        times = part["time_s"].tolist() + [horizon_s]
        names = part["detail"].tolist()
        spans = [(times[i], times[i + 1], names[i]) for i in range(len(names))
                 if names[i] != "done" and times[i + 1] > times[i]]
        out[str(job)] = spans
    return out


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


def timeline_chart(events, scenario, first, path: str | Path) -> Path:
    """Draw the timeline of replication 0 to `path` (.png, .svg or .pdf)."""
    path = Path(path)
    if path.suffix not in (".png", ".svg", ".pdf"):
        raise TpusimError(f"chart file {str(path)!r}: use .png, .svg or .pdf")
    if events is None:
        raise TpusimError("no event log to chart; run with the chart option")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    horizon = scenario.horizon_s
    spans = state_intervals(events, horizon)
    jobs = [j.name for j in scenario.jobs]
    fig, (ax, ax2) = plt.subplots(2, 1, sharex=True, figsize=(12, 2.0 + 0.5 * len(jobs) + 2.5),
                                  gridspec_kw={"height_ratios": [max(1.5, 0.5 * len(jobs)), 1.5]})
    for row, job in enumerate(jobs):
        by_state: dict[str, list[tuple[float, float]]] = {}
        for start, end, state in spans.get(job, []):
            by_state.setdefault(state, []).append((start / DAY_S, (end - start) / DAY_S))
        for state, bars in by_state.items():
            ax.broken_barh(bars, (row - 0.4, 0.8), facecolors=STATE_COLORS.get(state, "#999999"),
                           linewidth=0)
        hits = events[(events["kind"] == "interrupt") & (events["job"] == job)]
        for cause, part in hits.groupby("detail"):
            ax.scatter(part["time_s"] / DAY_S, [row + 0.45] * len(part), s=14, color="black",
                       marker=CAUSE_MARKERS.get(str(cause), "."), linewidths=0.8, zorder=3)
    ax.set_yticks(range(len(jobs)), jobs)
    ax.set_ylim(-0.6, len(jobs) - 0.2)
    ax.invert_yaxis()
    ax.set_title(f"{scenario.name}: job states and interruptions (replication 0, seed {scenario.seed})")
    handles = [Patch(color=c, label=s) for s, c in STATE_COLORS.items()]
    handles += [Line2D([], [], color="black", marker=m, linestyle="", label=f"{c} failure")
                for c, m in CAUSE_MARKERS.items()
                if ((events["kind"] == "interrupt") & (events["detail"] == c)).any()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for pod in range(scenario.pod_count):
        times, counts = healthy_steps(events, pod, scenario.usable_cubes, horizon)
        ax2.step([t / DAY_S for t in times], counts, where="post", label=f"pod {pod}", linewidth=0.9)
    need = sum(j.cubes for j in scenario.jobs) / scenario.pod_count
    ax2.axhline(need, color="gray", linestyle=":", linewidth=0.8, label="cubes the jobs need")
    ax2.set_ylabel("healthy cubes")
    ax2.set_xlabel("time (days)")
    ax2.set_xlim(0, horizon / DAY_S)
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
