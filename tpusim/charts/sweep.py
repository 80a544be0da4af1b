"""Sweep figures from a tidy DataFrame (one row per point and job, `tpusim.sweep(...).to_frame()`
or a sweep output file read back): lines with 95% bands, and a heatmap for two-dimensional grids.

Bands come from the frame itself: a `<y>_ci95` column (half-width, simulate sweeps) or
`<y>_lo` / `<y>_hi` columns (the planner's static Monte Carlo rows). Nothing is recomputed.
"""

from __future__ import annotations

from typing import Any

from tpusim.charts.style import PALETTE, axes_or_new, provenance, styled
from tpusim.errors import TpusimError


def _frame(data: Any):
    frame = data.to_frame() if hasattr(data, "to_frame") and not hasattr(data, "columns") else data
    if not hasattr(frame, "columns"):
        raise TpusimError("sweep chart: pass a DataFrame or the result of tpusim.sweep(...)")
    return frame


def _need(frame, *names: str | None) -> None:
    missing = [n for n in names if n is not None and n not in frame.columns]
    if missing:
        raise TpusimError(f"sweep chart: no column {', '.join(map(repr, missing))}; columns are "
                          f"{', '.join(map(str, frame.columns))}")


def _pretty(name: str) -> str:
    """A column as an axis label: a dotted key of the base file ('recovery.checkpoint_interval_s')
    is written as the user wrote it in the grid; a plain output or option with spaces."""
    return name if "." in name else name.replace("_", " ")


def _caption(frame) -> str:
    seeds = sorted(frame["seed"].dropna().unique().tolist()) if "seed" in frame.columns else []
    reps = frame["replications"].iloc[0] if "replications" in frame.columns and len(frame) else None
    points = frame["point_id"].nunique() if "point_id" in frame.columns else len(frame)
    return provenance(seed=", ".join(map(str, seeds)) or None, replications=reps,
                      extra=f"{points} points")


@styled
def sweep_lines(data: Any, x: str, y: str, *, by: str | None = None, ax=None, logx: bool = False):
    """`y` against `x`, one line per value of `by`, with the frame's 95% band for `y` when it has
    one (`<y>_ci95`, or `<y>_lo` and `<y>_hi`). Rows with an error are left out. Returns the Axes."""
    frame = _frame(data)
    _need(frame, x, y, by)
    if "error" in frame.columns:
        frame = frame[frame["error"].isna() | (frame["error"] == "")]
    ax = axes_or_new(ax, 6.5, 4.0, _caption(frame))
    groups = [(None, frame)] if by is None else list(frame.groupby(by, sort=True))
    for i, (key, part) in enumerate(groups):
        part = part.sort_values(x)
        c = PALETTE[i % len(PALETTE)]
        label = None if key is None else f"{_pretty(by)} = {key}"
        ax.plot(part[x], part[y], "-o", ms=4, color=c, label=label)
        if f"{y}_ci95" in part.columns:
            half = part[f"{y}_ci95"].fillna(0.0)
            ax.fill_between(part[x], part[y] - half, part[y] + half, color=c, alpha=0.18, linewidth=0)
        elif f"{y}_lo" in part.columns and f"{y}_hi" in part.columns:
            ax.fill_between(part[x], part[f"{y}_lo"], part[f"{y}_hi"], color=c, alpha=0.18, linewidth=0)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(_pretty(x))
    ax.set_ylabel(_pretty(y))
    ax.set_title(f"{_pretty(y)} vs {_pretty(x)}" + (f" by {_pretty(by)}" if by else ""), loc="left")
    if by is not None:
        ax.legend(loc="best")
    return ax


@styled
def sweep_heatmap(data: Any, x: str, y: str, value: str, *, ax=None, fmt: str = "{:.3f}",
                  cmap: str = "viridis"):
    """A two-dimensional grid: `value` coloured over (`x`, `y`), each cell labelled. Each (x, y)
    must hold one row (filter other grid keys first). Returns the Axes."""
    frame = _frame(data)
    _need(frame, x, y, value)
    if frame.duplicated([x, y]).any():
        raise TpusimError(f"sweep heatmap: several rows per ({x}, {y}); select one value of the "
                          f"other grid keys first, e.g. frame[frame.job == '*']")
    grid = frame.pivot(index=y, columns=x, values=value).sort_index().sort_index(axis=1)
    ax = axes_or_new(ax, 1.6 + 0.9 * grid.shape[1], 1.4 + 0.5 * grid.shape[0], _caption(frame))
    image = ax.imshow(grid.to_numpy(dtype=float), cmap=cmap, aspect="auto", origin="lower")
    lo, hi = image.get_clim()
    for (r, c), v in _cells(grid):
        dark = (v - lo) / (hi - lo or 1) < 0.5
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xticks(range(grid.shape[1]), [str(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(v) for v in grid.index])
    ax.set_xlabel(_pretty(x))
    ax.set_ylabel(_pretty(y))
    ax.grid(False)
    ax.set_title(_pretty(value), loc="left")
    ax.figure.colorbar(image, ax=ax, shrink=0.9)
    return ax


def _cells(grid):
    values = grid.to_numpy(dtype=float)
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            if values[r, c] == values[r, c]:
                yield (r, c), float(values[r, c])
