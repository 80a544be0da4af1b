"""One published figure, its tolerance, and the check of the model's value against it.

A `Figure` is a row of the published table (`tpusim/validation/published.py`): what was
measured, where it was published, how far the model may be from it, and a recipe that computes
the model's value through the library. `check(figure, context)` runs the recipe and gives a
`Check`: the value, the error, and a status:

- `ok`: within tolerance;
- `fail`: outside it (or the recipe found a problem, e.g. a published run that does not fit);
- `known_miss`: outside it, and the table marks the figure as a known miss with its reason;
- `fixed`: a known miss that is now within tolerance (the mark is stale: remove it).

Invariants (tested): an `abs` tolerance accepts |model - published| <= value, a `rel` tolerance
|model - published| <= value x |published| (pytest.approx's rule), `bounds` lo <= model <= hi,
`margin` model - k x spread > published (and model + k x spread < ceiling when the recipe gives a
ceiling); a check is `ok` or `fixed` exactly when it is within tolerance and has no problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("abs", "rel", "bounds", "margin")
STATUSES = ("ok", "known_miss", "fixed", "fail")


@dataclass(frozen=True)
class Tolerance:
    """How far the model may be from the published value (see the module docstring)."""

    kind: str
    value: float | None = None  # abs: the distance; rel: the fraction; margin: k (spreads)
    lo: float | None = None  # bounds
    hi: float | None = None

    def within(self, model: Measured, published: float) -> bool:
        x = model.value
        if self.kind == "abs":
            return abs(x - published) <= self.value
        if self.kind == "rel":
            return abs(x - published) <= self.value * abs(published)
        if self.kind == "bounds":
            return self.lo <= x <= self.hi
        if model.spread is None:  # margin: a statistical figure needs its spread
            return False
        margin = self.value * model.spread
        return x - margin > published and (model.ceiling is None or x + margin < model.ceiling)

    def describe(self, unit: str, *, ceiling: bool = False) -> str:
        """'±2.5 pt', '±6%', 'in [3, 10]', '> published + 4 sd' (', < ceiling - 4 sd')."""
        if self.kind == "abs":
            if unit == "fraction":
                return f"±{self.value * 100:g} pt"
            return f"±{self.value / 1e9:g} GB" if unit == "bytes" else f"±{self.value:g}"
        if self.kind == "rel":
            return f"±{self.value * 100:g}%"
        if self.kind == "bounds":
            return f"in [{self.lo:g}, {self.hi:g}]"
        tail = f", < ceiling - {self.value:g} sd" if ceiling else ""
        return f"> published + {self.value:g} sd{tail}"


def absolute(value: float) -> Tolerance:
    return Tolerance("abs", value=value)


def relative(value: float) -> Tolerance:
    return Tolerance("rel", value=value)


def bounds(lo: float, hi: float) -> Tolerance:
    return Tolerance("bounds", lo=lo, hi=hi)


def margin(k: float) -> Tolerance:
    return Tolerance("margin", value=k)


@dataclass(frozen=True)
class Measured:
    """The model's value of a figure. `result`: the library object it came from (an Estimate,
    a SimulationResult, ...), for further checks in tests; `spread`: the standard error (or the
    interval half-width) of a statistical value; `ceiling`: an upper limit the recipe computed
    (e.g. the failure-free ratio); `problems`: conditions the published run met that the model
    does not (e.g. 'does not fit in HBM'): any makes the check fail."""

    value: float
    result: Any = None
    spread: float | None = None
    ceiling: float | None = None
    problems: tuple[str, ...] = ()


class Context:
    """One validation run's shared work: `get(key, make)` computes `make()` once per run (the
    PaLM estimate serves its MFU, HFU and tokens/s rows). No state outlives the run."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers  # simulator processes (None: its default)
        self._memo: dict[Any, Any] = {}

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


@dataclass(frozen=True)
class Figure:
    """A published figure and the recipe that computes the model's value of it."""

    id: str
    area: str  # estimate | embeddings | plan | simulate
    figure: str  # what it is: 'MFU', 'tokens/s', 'block time', ...
    workload: str
    system: str
    convention: str  # how it is counted (an MFU convention, a derivation); '' when obvious
    published: float
    unit: str  # fraction | tokens/s | s | x | probability | FLOPs/token | parameters
    source: str  # paper, URL or commit
    tolerance: Tolerance
    model: Callable[[Context], Measured] = field(repr=False, compare=False)
    published_high: float | None = None  # a published range: published .. published_high
    known_miss: str | None = None  # the reason, when the model is known to miss this figure


@dataclass(frozen=True)
class Check:
    """A figure checked: the model's value, its error and the status."""

    figure: Figure
    measured: Measured
    within: bool
    status: str
    seconds: float

    @property
    def error(self) -> float:
        """model - published (0 inside a published range), in the figure's unit."""
        f, x = self.figure, self.measured.value
        high = f.published if f.published_high is None else f.published_high
        return x - min(max(x, f.published), high)

    @property
    def relative_error(self) -> float | None:
        return None if self.figure.published == 0 else self.error / abs(self.figure.published)

    def error_text(self) -> str:
        """The error as a reader compares it with the tolerance: points for a fraction, the
        plain difference for other absolute tolerances (GB for bytes), else %."""
        f = self.figure
        if f.unit == "fraction":
            return f"{self.error * 100:+.1f} pt"
        if f.tolerance.kind == "abs":
            return f"{self.error / 1e9:+.3g} GB" if f.unit == "bytes" else f"{self.error:+.2g}"
        rel = self.relative_error
        return "-" if rel is None else f"{rel * 100:+.1f}%"

    def tolerance_text(self) -> str:
        return self.figure.tolerance.describe(self.figure.unit,
                                              ceiling=self.measured.ceiling is not None)

    def to_dict(self) -> dict[str, Any]:
        f, m, t = self.figure, self.measured, self.figure.tolerance
        return {
            "id": f.id, "area": f.area, "figure": f.figure, "workload": f.workload,
            "system": f.system, "convention": f.convention, "unit": f.unit,
            "published": f.published, "published_high": f.published_high, "model": m.value,
            "error": self.error, "relative_error": self.relative_error,
            "tolerance": {"kind": t.kind, "value": t.value, "lo": t.lo, "hi": t.hi},
            "spread": m.spread, "ceiling": m.ceiling, "within": self.within,
            "status": self.status, "problems": list(m.problems), "known_miss": f.known_miss,
            "source": f.source,
        }


def check(figure: Figure, context: Context | None = None) -> Check:
    """Run the figure's recipe and compare its value with the published one."""
    import time

    start = time.perf_counter()
    measured = figure.model(context if context is not None else Context())
    within = figure.tolerance.within(measured, figure.published) and not measured.problems
    if within:
        status = "fixed" if figure.known_miss else "ok"
    else:
        status = "known_miss" if figure.known_miss else "fail"
    return Check(figure, measured, within, status, time.perf_counter() - start)
