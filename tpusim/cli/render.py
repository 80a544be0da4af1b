"""Rendering helpers shared by the commands: JSON, CSV and rich tables on stdout. Text that
comes from users (names, paths, error messages) goes through `escape` before rich sees it."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _clean(value: Any) -> Any:
    """JSON-safe values: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def print_json(data: Any) -> None:
    """Write `data` as indented JSON to stdout."""
    sys.stdout.write(json.dumps(_clean(data), indent=2) + "\n")


def print_csv(rows: Sequence[dict[str, Any]]) -> None:
    """Write rows (dicts with the same keys) as CSV to stdout."""
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow(_clean(row))


def console() -> Console:
    """A console for tables: the terminal's width on a terminal, 160 columns in a pipe or file."""
    probe = Console()
    return Console(soft_wrap=False, width=probe.width if probe.is_terminal else 160)


def chart_written(chart: Path | None) -> None:
    """Say where a --chart figure went (after readable output only: --json keeps stdout JSON)."""
    if chart is not None:
        console().print(f"chart written to {escape(str(chart))}")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
          *, caption: str | None = None, justify_right_from: int = 1) -> Table:
    """A rich table; columns from `justify_right_from` on are right-aligned (numbers). Text is
    shown as given: rich markup is escaped, so '[model]' in a message stays visible."""
    out = Table(title=escape(title), caption=None if caption is None else escape(caption),
                caption_justify="left", title_justify="left")
    for i, col in enumerate(columns):
        out.add_column(escape(str(col)), justify="right" if i >= justify_right_from else "left")
    for row in rows:  # cells are text, not markup: '[recovery]' in a message stays visible
        out.add_row(*(escape(str(x)) for x in row))
    return out
