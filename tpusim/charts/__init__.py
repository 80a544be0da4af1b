"""Figures for reports and notebooks (matplotlib, imported only when a figure is drawn).

Every function draws what it is given and never computes: `f(result, *, ax=None) -> Axes`
(multi-panel figures return a Figure), on a new pyplot-free Figure when no `ax` is given, with
a provenance caption (pod, seed, samples or replications, tpusim version). `save(fig_or_ax,
path)` writes PNG, SVG (text as text) or PDF. No backend is ever chosen, so inline plotting in
a notebook keeps working.

    >>> import tpusim.charts as charts
    >>> from tpusim.hardware import load_pod
    >>> from tpusim.planner.table import plan
    >>> ax = charts.plan_goodput([plan(load_pod("tpu-v4-4096"), a) for a in (0.99, 0.999)])
    >>> ax.get_xlabel(), len(ax.lines)  # OCS and static for each availability
    ('slice size (chips)', 4)

`charts.save(ax, "goodput.svg")` writes the file.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "plan_goodput": "plan", "cube_map": "plan",
    "step_breakdown": "estimate", "mfu_vs_slice": "estimate",
    "goodput_decomposition": "simulate", "badput_bar": "simulate", "goodput_distribution": "simulate",
    "time_to_train_distribution": "simulate", "timeline": "simulate",
    "simulate_overview": "simulate",
    "sweep_lines": "sweep", "sweep_heatmap": "sweep",
    "save": "style", "new_figure": "style", "FORMATS": "style",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'tpusim.charts' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tpusim.charts.{_WHERE[name]}"), name)
