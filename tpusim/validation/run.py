"""`tpusim validate`: check the published figures of some areas and collect the result."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tpusim.errors import TpusimError
from tpusim.validation.figure import STATUSES, Check, Context, Figure, check
from tpusim.validation.published import AREAS, FIGURES


def parse_areas(areas: str | Iterable[str] | None) -> tuple[str, ...]:
    """The areas asked for, in table order: None = every area; each item may be a
    comma-separated list (empty items are skipped; nothing left is an error). An unknown
    area is a TpusimError naming the closest one."""
    if areas is None:
        return AREAS
    items = [areas] if isinstance(areas, str) else list(areas)
    wanted = {a.strip() for item in items for a in str(item).split(",") if a.strip()}
    for name in sorted(wanted):
        if name not in AREAS:
            close = difflib.get_close_matches(name, AREAS, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise TpusimError(f"unknown area {name!r}; {hint}areas: {', '.join(AREAS)}",
                              params=("area",))
    if not wanted:
        raise TpusimError(f"`area` names no area; give one or more of {', '.join(AREAS)}",
                          params=("area",))
    return tuple(a for a in AREAS if a in wanted)


def figures(areas: str | Iterable[str] | None = None) -> tuple[Figure, ...]:
    """The published figures of `areas` (default all), in table order."""
    chosen = parse_areas(areas)
    return tuple(f for f in FIGURES if f.area in chosen)


def figure(figure_id: str) -> Figure:
    """The published figure with this id."""
    for f in FIGURES:
        if f.id == figure_id:
            return f
    close = difflib.get_close_matches(figure_id, [f.id for f in FIGURES], n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise TpusimError(f"no published figure {figure_id!r}{hint}")


@dataclass(frozen=True)
class ValidationResult:
    """Every checked figure; `passed` is False when any figure fails (known misses do not)."""

    areas: tuple[str, ...]
    checks: tuple[Check, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    @property
    def passed(self) -> bool:
        return self.counts["fail"] == 0

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The --json output (stable keys, SI units, fractions as fractions)."""
        return {"areas": list(self.areas), "passed": self.passed, "counts": self.counts,
                "rows": [c.to_dict() for c in self.checks]}

    def to_frame(self):
        import pandas as pd

        rows = []
        for c in self.checks:
            row = c.to_dict()
            tol = row.pop("tolerance")
            row.update({f"tolerance_{k}": v for k, v in tol.items()})
            row["problems"] = "; ".join(row["problems"])
            rows.append(row)
        return pd.DataFrame(rows)


def validate(areas: str | Iterable[str] | None = None, *, workers: int | None = None,
             on_figure: Callable[[Check], None] | None = None) -> ValidationResult:
    """Check every published figure of `areas` (estimate, embeddings, plan, simulate; default
    all) against the model. `workers`: simulator processes; `on_figure(check)` after each."""
    chosen = parse_areas(areas)
    context = Context(workers=workers)
    checks = []
    for f in FIGURES:
        if f.area in chosen:
            checks.append(check(f, context))
            if on_figure is not None:
                on_figure(checks[-1])
    return ValidationResult(chosen, tuple(checks))
