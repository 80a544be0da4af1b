"""What every tpusim figure shares: colours per series, fonts, new figures, the provenance
caption and saving to PNG / SVG / PDF.

Rules (tested in tests/test_charts.py):
- Nothing here picks a backend or touches pyplot: figures are `matplotlib.figure.Figure`
  objects, so a notebook's inline backend keeps working and a script needs no display.
- A series keeps its colour in every figure: a goodput component, a badput category, a job
  state, OCS or static, and a host availability are looked up in the tables below by name.
- Text sizes come from `STYLE`, applied inside `styled()` (a temporary rc context; the
  global rcParams are restored afterwards).
- SVG keeps text as text (`svg.fonttype = none`), PDF embeds TrueType fonts (type 42).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tpusim.errors import TpusimError

FORMATS = (".png", ".svg", ".pdf")
DPI = 110  # PNG resolution: ~60 KB for a 7 x 4.2 inch line chart

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
}

# Okabe-Ito colour-blind-safe palette, then a few more distinct colours.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#7F7F7F", "#8C564B")

# The TPU v4 paper's three host availabilities keep fixed colours; other levels take the rest.
AVAILABILITY_COLOURS = {0.99: PALETTE[0], 0.995: PALETTE[1], 0.999: PALETTE[2]}
MODEL_LINES = {"ocs": "-", "static": "--"}  # OCS solid, static torus dashed, in every figure
MODEL_MARKERS = {"ocs": "o", "static": "s"}

GOODPUT_COLOURS = {"scheduling_goodput": "#56B4E9", "runtime_goodput": "#009E73",
                   "program_goodput": "#E69F00", "goodput": "#0072B2"}

# Time categories of the simulator (Google's ML Productivity Goodput badput names).
CATEGORY_COLOURS = {
    "productive": "#2ca02c",
    "wasted_progress": "#d62728",
    "waiting_for_resources": "#7f7f7f",
    "ocs_reconfiguration": "#9467bd",
    "tpu_initialization": "#ffbb78",
    "program_startup": "#fdd0a2",
    "checkpoint_restore": "#ff7f0e",
    "checkpoint_save": "#1f77b4",
    "straggler": "#8c564b",
}
# Job states in the timeline share the category colours.
STATE_COLOURS = {
    "running": CATEGORY_COLOURS["productive"],
    "saving": CATEGORY_COLOURS["checkpoint_save"],
    "restoring": CATEGORY_COLOURS["checkpoint_restore"],
    "initializing": CATEGORY_COLOURS["tpu_initialization"],
    "starting": CATEGORY_COLOURS["program_startup"],
    "reconfiguring": CATEGORY_COLOURS["ocs_reconfiguration"],
    "waiting": "#c0392b",
}
# Step-time causes of the performance model.
CAUSE_COLOURS = {
    "compute": "#0072B2", "remat": "#56B4E9", "vector": "#009E73", "optimizer": "#F0E442",
    "tensor_collectives": "#E69F00", "fsdp_collectives": "#D55E00", "pipeline_bubble": "#CC79A7",
    "data_collectives": "#7F7F7F", "dcn": "#8C564B", "pipeline_sends": "#000000",
    # embedding (DLRM) phases
    "host": "#7F7F7F", "sc_forward": "#56B4E9", "sc_backward": "#0072B2",
    "all_to_all_forward": "#E69F00", "all_to_all_backward": "#D55E00", "tensorcore": "#009E73",
    "dense_allreduce": "#CC79A7", "fixed": "#000000",
}
# Cube map: what a cube is doing.
CUBE_COLOURS = {"faulty": "#D55E00", "spare": "#E8E8E8", "failed": "#000000",
                "replacement": "#F0E442"}
SLICE_COLOURS = (PALETTE[0], PALETTE[5], PALETTE[2], PALETTE[4], PALETTE[9], PALETTE[1])

T = TypeVar("T")


def colour(table: dict[str, str], key: str, index: int = 0, used: set[str] | None = None) -> str:
    """The colour of series `key` in `table`; an unknown key takes a palette colour by `index`,
    skipping the colours in `used` (those already in the figure) while any are left."""
    if key in table:
        return table[key]
    free = [c for c in PALETTE if c not in (used or set())] or list(PALETTE)
    return free[index % len(free)]


def availability_colours(levels: list[float]) -> dict[float, str]:
    """Host availability -> colour: the paper's levels fixed, the others from the unused colours
    in increasing order of availability."""
    free = [c for c in PALETTE if c not in AVAILABILITY_COLOURS.values()]
    out: dict[float, str] = {}
    for level in sorted(levels):
        key = round(float(level), 6)
        out[level] = AVAILABILITY_COLOURS.get(key) or free[len(out) % len(free)]
    return out


@contextlib.contextmanager
def _rc() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def styled(draw: Callable[..., T]) -> Callable[..., T]:
    """Decorator: run a drawing function with the tpusim text sizes (rcParams restored after)."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with _rc():
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width_in: float, height_in: float, *, caption: str | None = None):
    """A pyplot-free Figure with constrained layout; room for a one-line caption at the bottom."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    if caption:
        fig.get_layout_engine().set(rect=(0, 0.06 * 4.2 / height_in, 1, 1 - 0.06 * 4.2 / height_in))
        fig.text(0.01, 0.012, caption, fontsize=7.5, color="#555555", ha="left", va="bottom")
    return fig


def axes_or_new(ax, width_in: float, height_in: float, caption: str | None):
    """`ax` itself, or the one Axes of a new Figure (with the caption) when `ax` is None."""
    if ax is not None:
        return ax
    return new_figure(width_in, height_in, caption=caption).add_subplot()


def provenance(*, pod: str | None = None, seed: Any = None, samples: Any = None,
               replications: Any = None, extra: str | None = None) -> str:
    """The caption line: what the figure was computed from, and the tpusim version."""
    from tpusim.data import tpusim_version

    parts = []
    if pod:
        parts.append(f"pod {pod}")
    if seed is not None:
        parts.append(f"seed {seed}")
    if samples:
        parts.append(f"{samples} Monte Carlo samples")
    if replications:
        parts.append(f"{replications} replications")
    if extra:
        parts.append(extra)
    parts.append(f"tpusim {tpusim_version()}")
    return " · ".join(parts)


def save(figure_or_axes, path: str | Path) -> Path:
    """Write a Figure (or the figure of an Axes) to .png, .svg (text kept as text) or .pdf."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise TpusimError(f"chart file {str(path)!r}: use a .png, .svg or .pdf file name")
    fig = figure_or_axes
    while getattr(fig, "figure", fig) is not fig:  # Axes or SubFigure -> the root Figure
        fig = fig.figure
    path.parent.mkdir(parents=True, exist_ok=True)
    with _rc():
        fig.savefig(path, dpi=DPI, metadata=_metadata(path.suffix.lower()))
    return path


def _metadata(suffix: str) -> dict[str, str] | None:
    """Reproducible files: no creation date in SVG and PDF."""
    if suffix == ".svg":
        return {"Date": None}
    if suffix == ".pdf":
        return {"CreationDate": None}
    return None
