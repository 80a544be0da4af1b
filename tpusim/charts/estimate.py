"""Performance-model figures: where the step time goes, and MFU / HFU against slice size.

Both take estimates (what `tpusim.estimate` returned, its `--json` dicts) or a DataFrame of
estimate rows (`Estimate.to_row()`, an estimate sweep: `breakdown_<cause>_s` columns).
"""

from __future__ import annotations

from typing import Any

from tpusim.charts.style import CAUSE_COLOURS, GOODPUT_COLOURS, axes_or_new, colour, provenance, styled
from tpusim.errors import TpusimError

BREAKDOWN_PREFIX, BREAKDOWN_SUFFIX = "breakdown_", "_s"


def records(estimates: Any) -> list[dict]:
    """Estimates in any of the accepted forms -> dicts with a `breakdown` dict (seconds)."""
    if hasattr(estimates, "columns"):  # a DataFrame of rows
        rows = estimates.to_dict("records")
    elif isinstance(estimates, dict) or hasattr(estimates, "to_dict"):
        rows = [estimates]
    else:
        rows = list(estimates)
    out = []
    for r in rows:
        d = r.to_dict() if hasattr(r, "to_dict") else dict(r)
        if "breakdown" not in d and isinstance(d.get("breakdown_s"), dict):  # an embedding model
            d["breakdown"] = d["breakdown_s"]
        if "breakdown" not in d:
            d["breakdown"] = {k[len(BREAKDOWN_PREFIX):-len(BREAKDOWN_SUFFIX)]: v for k, v in d.items()
                              if k.startswith(BREAKDOWN_PREFIX) and k.endswith(BREAKDOWN_SUFFIX)}
        out.append(d)
    if not out:
        raise TpusimError("estimate chart: nothing to draw; pass the result of tpusim.estimate(...)")
    return out


def _caption(recs: list[dict]) -> str:
    names = sorted({str(r.get("workload", "")) for r in recs} - {""})
    chips = sorted({str(r.get("chip", "")) for r in recs} - {""})
    return provenance(extra=f"{', '.join(names)} on {', '.join(chips)}" if names else None)


def _label(r: dict) -> str:
    shape = str(r.get("slice_shape", "?")) + (" twisted" if r.get("twisted") else "")
    tables = f" {r['placement']}/{r.get('sharding', '?')}" if r.get("placement") else ""  # a DLRM's
    return f"{r.get('chips', '?')} {r.get('chip', '')}{tables} ({r.get('slices', 1)} x {shape})"


@styled
def step_breakdown(estimates: Any, *, ax=None):
    """One horizontal bar per estimate, split by cause (compute, remat, collectives, ...), in
    seconds per step. Returns the Axes."""
    recs = records(estimates)
    causes = [c for c in dict.fromkeys(k for r in recs for k in r["breakdown"])
              if any(r["breakdown"].get(c, 0) > 0 for r in recs)]
    ax = axes_or_new(ax, 7.0, 1.6 + 0.45 * len(recs), _caption(recs))
    labels = [_label(r) for r in recs]
    left = [0.0] * len(recs)
    used = {CAUSE_COLOURS[c] for c in causes if c in CAUSE_COLOURS}
    for i, cause in enumerate(causes):
        widths = [float(r["breakdown"].get(cause, 0.0)) for r in recs]
        ax.barh(labels, widths, left=left, color=colour(CAUSE_COLOURS, cause, i, used),
                label=cause.replace("_", " "), height=0.6)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    from matplotlib.patheffects import withStroke

    halo = [withStroke(linewidth=4, foreground="white")]  # visible on a black segment too
    for y, r in enumerate(recs):
        if "step_time_s" in r:
            ax.plot([r["step_time_s"]], [y], marker="|", color="black", ms=14, mew=1.5,
                    path_effects=halo)
    ax.invert_yaxis()
    ax.set_xlabel("time per step (s); | = step time (overlap hides the rest)")
    ax.set_title("where the step time goes", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", visible=False)
    return ax


@styled
def mfu_vs_slice(estimates: Any, *, ax=None):
    """MFU and HFU against slice size (chips), one line per chip generation. Returns the Axes."""
    recs = sorted(records(estimates), key=lambda r: (str(r.get("chip", "")), r["chips"]))
    ax = axes_or_new(ax, 6.5, 4.0, _caption(recs))
    chips_of = list(dict.fromkeys(str(r.get("chip", "")) for r in recs))
    for i, chip in enumerate(chips_of):
        part = [r for r in recs if str(r.get("chip", "")) == chip]
        xs = [r["chips"] for r in part]
        suffix = f" {chip}" if len(chips_of) > 1 else ""
        style = ["-", "-.", ":"][i % 3]
        ax.plot(xs, [r["mfu"] for r in part], style, marker="o", ms=4,
                color=GOODPUT_COLOURS["program_goodput"], label=f"MFU{suffix}")
        if "hfu" in part[0]:
            ax.plot(xs, [r["hfu"] for r in part], style, marker="s", ms=4,
                    color=GOODPUT_COLOURS["goodput"], label=f"HFU{suffix}")
    ticks = sorted({r["chips"] for r in recs})
    if len(ticks) > 1:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(0, 1)
    ax.set_xlabel("chips")
    ax.set_ylabel("utilization (fraction of peak)")
    ax.set_title("MFU and HFU vs slice size", loc="left")
    ax.legend(loc="lower left")
    return ax
