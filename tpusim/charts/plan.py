"""Planner figures: goodput against slice size (the TPU v4 paper's OCS figure) and the pod's
cube map for a concrete assignment.

Both take what `tpusim.plan` returned (a PlanResult) or its `--json` output (a dict); the goodput
figure also takes several of them, one per host availability. They draw, never compute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tpusim.charts.style import (
    CUBE_COLOURS,
    MODEL_LINES,
    MODEL_MARKERS,
    PALETTE,
    SLICE_COLOURS,
    availability_colours,
    axes_or_new,
    provenance,
    styled,
)
from tpusim.errors import TpusimError


def as_dict(result: Any) -> dict:
    """A PlanResult (or anything with to_dict()) or a plan --json dict -> the dict."""
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def _plans(results: Any) -> list[dict]:
    if isinstance(results, dict) or hasattr(results, "to_dict"):
        results = [results]
    plans = [as_dict(r) for r in results]
    if not plans or not all(p.get("rows") for p in plans):
        raise TpusimError("plan chart: nothing to draw; pass the result of tpusim.plan(...)")
    return plans


def plan_caption(plans: Sequence[dict]) -> str:
    first = plans[0]
    samples = first.get("static_patterns") if first.get("static_method") == "monte-carlo" else None
    how = "static: exact enumeration" if samples is None else None
    return provenance(pod=first["pod"]["name"], seed=first.get("seed"), samples=samples, extra=how)


@styled
def plan_goodput(results: Any, *, ax=None, bands: bool = True):
    """Goodput against slice size, one colour per host availability, OCS solid and static torus
    dashed; static Monte Carlo rows carry their 95% interval as a band. Returns the Axes.

    `results`: one plan result (or its JSON dict) per host availability to show; only those are
    drawn (pass the paper's 0.99, 0.995 and 0.999 to get its figure)."""
    plans = _plans(results)
    ax = axes_or_new(ax, 7.0, 4.2, plan_caption(plans))
    colours = availability_colours([p["host_availability"] for p in plans])
    for p in sorted(plans, key=lambda p: p["host_availability"]):
        rows = p["rows"]
        xs = [r["slice_chips"] for r in rows]
        c = colours[p["host_availability"]]
        label = f"host {100 * p['host_availability']:.4g}%"
        ax.plot(xs, [r["goodput_ocs"] for r in rows], MODEL_LINES["ocs"], marker=MODEL_MARKERS["ocs"],
                ms=3.5, color=c, label=f"{label}, OCS")
        ax.plot(xs, [r["goodput_static"] for r in rows], MODEL_LINES["static"],
                marker=MODEL_MARKERS["static"], ms=3.5, color=c, label=f"{label}, static torus")
        lo = [r.get("goodput_static_lo", r["goodput_static"]) for r in rows]
        hi = [r.get("goodput_static_hi", r["goodput_static"]) for r in rows]
        if bands and any(h > low for h, low in zip(hi, lo, strict=True)):
            ax.fill_between(xs, lo, hi, color=c, alpha=0.18, linewidth=0)
    ticks = sorted({r["slice_chips"] for p in plans for r in p["rows"]})
    if len(ticks) > 1:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks], rotation=45)
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("slice size (chips)")
    ax.set_ylabel("goodput (fraction of pod chips busy)")
    ax.set_title(f"{plans[0]['pod']['name']}: goodput vs slice size")
    ax.legend(loc="lower left", ncols=1 if len(plans) < 3 else 2)
    return ax


def _layers(grid: Sequence[int]) -> tuple[int, int, int]:
    """The cube grid as (panels, rows, columns): a 3D grid is drawn as its first-axis layers."""
    g = list(grid) + [1] * (3 - len(grid))
    return g[0], g[1], g[2]


@styled
def cube_map(result: Any, *, ax=None, model: str = "ocs"):
    """The pod's cubes for a concrete assignment (plan with faulty cubes): faulty cubes, the cubes
    of each slice, healthy spares and, after `--then-fail`, the failed cube and its replacement.
    The 3D cube grid is drawn as side-by-side layers x = 0, 1, ... (cube id = x*Y*Z + y*Z + z).
    `model`: "ocs" or "static" placement. Returns the Axes."""
    plan = as_dict(result)
    a = plan.get("assignment")
    if not a:
        raise TpusimError("cube map: the plan has no assignment; pass faulty_cubes (--faulty-cubes)")
    grid = plan["pod"]["cube_grid"]
    panels, rows, cols = _layers(grid)
    n = math.prod(grid)
    status: dict[int, tuple[str, str]] = dict.fromkeys(range(n), ("spare", CUBE_COLOURS["spare"]))
    for c in a["faulty_cubes"]:
        status[c] = ("faulty", CUBE_COLOURS["faulty"])
    placed = a.get(model) or []
    for i, s in enumerate(placed):
        for c in _flat(s["cubes"]):
            status[c] = (f"slice {i}", SLICE_COLOURS[i % len(SLICE_COLOURS)])
    reform = a.get("reform") if model == "ocs" else None
    if reform:
        status[reform["failed_cube"]] = ("failed", CUBE_COLOURS["failed"])
        status[reform["spare_cube"]] = ("replacement", CUBE_COLOURS["replacement"])
    caption = provenance(pod=plan["pod"]["name"], extra=f"{len(a['faulty_cubes'])} faulty cubes")
    ax = axes_or_new(ax, min(11.0, 1.2 + 2.1 * panels), 3.2, caption)
    gap = 1
    from matplotlib.patches import Patch, Rectangle

    for c, (_what, col) in status.items():
        x, y, z = _coords(c, (panels, rows, cols))
        left = x * (cols + gap) + z
        ax.add_patch(Rectangle((left, rows - 1 - y), 0.92, 0.92, facecolor=col, edgecolor="white"))
        dark = col in (CUBE_COLOURS["failed"], CUBE_COLOURS["faulty"], PALETTE[0])
        ax.text(left + 0.46, rows - 1 - y + 0.46, str(c), ha="center", va="center", fontsize=6,
                color="white" if dark else "black", in_layout=False)  # inside the axes: no layout
    for x in range(panels):
        ax.text(x * (cols + gap) + cols / 2, rows + 0.15, f"x = {x}", ha="center", va="bottom")
    ax.set_xlim(-0.2, panels * (cols + gap) - gap + 0.1)
    ax.set_ylim(-0.2, rows + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    order = ["faulty"] + [f"slice {i}" for i in range(len(placed))] + ["spare", "failed", "replacement"]
    shown = dict(status.values())
    handles = [Patch(facecolor=shown[w], edgecolor="#999999", label=_label(w, reform))
               for w in order if w in shown]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    shape = "x".join(map(str, a["slice_cube_shape"]))
    ax.set_title(f"{plan['pod']['name']}: {a['n_slices']} slice(s) of {shape} cubes "
                 f"({'OCS' if model == 'ocs' else 'static torus'})", loc="left")
    return ax


def _label(what: str, reform: dict | None) -> str:
    if what == "failed" and reform:
        return f"cube {reform['failed_cube']} fails"
    if what == "replacement" and reform:
        return f"spare {reform['spare_cube']} replaces it"
    return {"spare": "healthy spare", "faulty": "faulty"}.get(what, what)


def _flat(nested: Any) -> list[int]:
    if isinstance(nested, list | tuple):
        return [c for item in nested for c in _flat(item)]
    return [int(nested)]


def _coords(c: int, dims: tuple[int, int, int]) -> tuple[int, int, int]:
    _, rows, cols = dims
    return c // (rows * cols), (c // cols) % rows, c % cols
