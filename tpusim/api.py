"""The Python face of tpusim: one function per command, the same defaults as the CLI.

    import tpusim
    tpusim.plan(availability=0.995).to_frame()            # slice sizes, OCS vs static
    tpusim.estimate("palm-540b").to_frame()               # step time, MFU, memory
    tpusim.simulate("palm-540b-50d", replications=8).to_frame()
    tpusim.sweep({"kind": "plan", "grid": {"availability": [0.99, 0.999]}}).to_frame()
    tpusim.report(["palm-540b-50d"], out="report.html")   # tpusim.reports.report
    tpusim.validate("estimate").to_frame()              # the models against published figures

Every function returns a frozen dataclass with `.to_frame()` (a pandas DataFrame). Arguments
are named like the CLI's flags (`chips`, `slice`, `slices`, `availability`, ...), and defaults
come from `tpusim.defaults`, so a notebook, the CLI, a sweep and a chart give the same numbers
for the same question. Errors are `TpusimError` naming the parameter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tpusim import defaults
from tpusim.errors import TpusimError
from tpusim.inputs import check_integer


def plan(availability: float = defaults.HOST_AVAILABILITY, *, chips: int | None = None,
         pod: str | None = None, generation: str | None = None, slice: str | None = None,
         slices: int = 1, target: float | None = None, samples: int = defaults.PLAN_SAMPLES,
         seed: int = defaults.SEED, faulty_cubes: Sequence[int] | None = None,
         faulty_hosts: Sequence[int] | None = None, then_fail: int | None = None,
         chip_availability: float = 1.0, ocs_availability: float = 1.0, domain_cubes: int = 1,
         domain_availability: float = 1.0,
         on_shape: Callable[[int, int], None] | None = None, check_limits: bool = True):
    """`tpusim plan`: P(schedulable) and goodput per slice size with OCS and on a static torus
    (a PlanResult; `.to_dict()` is the --json output). `pod` is a name or TOML file; `chips`
    (default tpusim.defaults.POD_CHIPS) and `generation` pick a catalog pod instead."""
    from tpusim.hardware import planned_pod
    from tpusim.planner.assign import cubes_of_hosts
    from tpusim.planner.table import plan as make_plan

    samples = check_integer(samples, "samples", "", at_least=1, param=True)
    slices = check_integer(slices, "slices", "", at_least=1, param=True)
    the_pod, slice = planned_pod(pod=pod, chips=chips, generation=generation, slice_shape=slice)
    faulty = None if faulty_cubes is None else [int(c) for c in faulty_cubes]
    if faulty_hosts:
        faulty = sorted(set(faulty or []) | set(cubes_of_hosts(the_pod, list(faulty_hosts))))
    return make_plan(the_pod, availability, slice_shape=slice, n_slices=slices, target=target,
                     samples=samples, seed=seed, p_chip=chip_availability, p_ocs=ocs_availability,
                     domain_cubes=domain_cubes, p_domain=domain_availability, faulty_cubes=faulty,
                     then_fail=then_fail, on_shape=on_shape, check_limits=check_limits)


def estimate(workload: Any, *, chip: str | None = None, chips: int | None = None,
             slice: str | None = None, slices: int | None = None, global_batch: int | None = None,
             search: bool = False, top: int = defaults.SEARCH_TOP, placement: str | None = None,
             sharding: str | None = None, twisted: bool | None = None,
             compare_placements: bool = False):
    """`tpusim estimate`: an Estimate (or, with `search=True`, the ranked SearchResult) of a
    workload name, TOML path or loaded Workload (a DLRM workload gives a DlrmEstimate or
    DlrmSearchResult). `chips` counts all slices together. `twisted`: a twisted torus
    (DLRM: it pins that choice in a search, and shortens the all-to-all; a dense LLM's rings on a
    short axis close only through the long axis, so its step is never faster than the plain
    torus's and the same when its mesh axes span the long axis). DLRM only: `placement`,
    `sharding` (they pin that choice in a search) and `compare_placements` (a
    PlacementComparison, the three placements side by side)."""
    import math

    from tpusim.hardware import chip_and_slice
    from tpusim.topology.shape import parse_shape
    from tpusim.workloads import estimate as run_estimate
    from tpusim.workloads import load_workload
    from tpusim.workloads.config import with_twist
    from tpusim.workloads.dlrm import compare_placements as compare
    from tpusim.workloads.dlrm import estimate_dlrm, load_dlrm, search_dlrm
    from tpusim.workloads.kinds import workload_kind
    from tpusim.workloads.search import search as run_search

    chip, slice = chip_and_slice(chip, slice)  # slice="v5p-128": a Cloud TPU name
    if isinstance(workload, str | Path) and workload_kind(workload) == "dlrm":
        workload = load_dlrm(workload)
    if getattr(workload, "kind", "dense_llm") == "dlrm":  # embedding model: docs/embeddings.md
        over = {k: v for k, v in {"chip": chip, "chips": chips, "slices": slices, "slice_shape": slice,
                                  "global_batch": global_batch, "placement": placement,
                                  "sharding": sharding, "twisted": twisted}.items() if v is not None}
        if search and compare_placements:
            raise TpusimError("search and compare_placements are separate views; choose one",
                              params=("search", "compare_placements"))
        if compare_placements:
            return compare(workload, **over)
        if search:
            return search_dlrm(workload, top=check_integer(top, "top", "", at_least=1, param=True), **over)
        return estimate_dlrm(workload, **over)
    for name, value in (("placement", placement), ("sharding", sharding),
                        ("compare_placements", compare_placements or None)):
        if value is not None:
            raise TpusimError(f"{name} applies to dlrm workloads ([model] kind = \"dlrm\"); "
                              f"{getattr(workload, 'name', workload)} is a dense LLM", params=(name,))
    wl = load_workload(workload) if isinstance(workload, str | Path) else workload
    if twisted is not None:  # checked against the slice when the estimate resolves it
        wl = with_twist(wl, twisted)
    if slices is not None:
        slices = check_integer(slices, "slices", "", at_least=1, param=True)
    per_slice = None
    if chips is not None:
        chips = check_integer(chips, "chips", "", at_least=1, param=True)
        n = slices if slices is not None else wl.system.slices
        if chips < 1 or chips % n:
            raise TpusimError(f"chips {chips} must be a positive multiple of the {n} slices",
                              params=("chips",))
        per_slice = chips // n
    elif slice is not None:  # the slice shape alone sets the slice size
        per_slice = math.prod(parse_shape(slice))
    kwargs = {"chip": chip, "chips_per_slice": per_slice, "slices": slices, "slice_shape": slice,
                  "global_batch_seqs": global_batch}
    if search:
        top = check_integer(top, "top", "", at_least=1, param=True)
        return run_search(wl, top=top, **kwargs)
    return run_estimate(wl, **kwargs)


def simulate(scenario: Any, *, seed: int | None = None, replications: int | None = None,
             days: float | None = None, workers: int | None = None, out: str | Path | None = None,
             with_events: bool = False, progress: bool | None = None, check_limits: bool = True):
    """`tpusim simulate`: a SimulationResult (`.summary` is the --json output, `.to_frame()` the
    replication table) of a scenario name, TOML path, loaded Scenario or dict. `progress`: a bar
    in a notebook or on a terminal (None: when one of them is there)."""
    from tpusim.sim import Scenario, load_scenario, scenario_from_dict, with_overrides
    from tpusim.sim import simulate as run

    if workers is not None:
        workers = check_integer(workers, "workers", "", at_least=1, param=True)
    if isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, dict):
        sc = scenario_from_dict(scenario, "scenario dict")
    else:
        sc = load_scenario(scenario)
    sc = with_overrides(sc, days=days, seed=seed, replications=replications)
    show = False if sc.replications < 2 else progress
    with progress_bar(f"simulate {sc.name}", sc.replications, show) as advance:
        return run(sc, workers=workers, with_events=with_events, out=out,
                   on_rows=(lambda k: advance(k)) if advance else None, check_limits=check_limits)


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: `frame` holds one row per point and job (inputs and outputs as
    columns, units in the names); `out` is the file it was also written to, if any."""

    name: str
    kind: str
    frame: Any
    out: Path | None
    total_points: int
    ran_points: int
    skipped_points: int
    errors: int

    def to_frame(self):
        return self.frame

    def _repr_html_(self) -> str:  # a notebook shows the table
        return self.frame._repr_html_()


def sweep(spec: Any, *, out: str | Path | None = None, backend: str = defaults.SWEEP_BACKEND,
          workers: int | None = None, address: str | None = None,
          progress: bool | None = None, check_limits: bool = True) -> SweepResult:
    """Run a sweep and return its rows. `spec`: a sweep TOML path, the name of a shipped sweep
    (`palm-checkpoint-interval`), a SweepSpec, or a dict {"kind", "base", "grid"}.

    Every point is checked before any runs. Without `out` the rows stay in memory (re-running
    runs again); with `out` (.csv or .jsonl) rows are appended as points finish and a re-run
    skips the points already there, so re-running a cell continues an interrupted sweep."""
    from tpusim import sweeps

    spec = sweeps.as_spec(spec)
    if check_limits:
        sweeps.check_size(spec)
    sweeps.check_grid(spec)
    import pandas as pd

    out = None if out is None else Path(out)
    with progress_bar(f"sweep {spec.name}", spec.size, progress) as advance:
        run = sweeps.run_sweep(spec, out, backend=backend, workers=workers, resume=True,
                               address=address, check_limits=check_limits,
                               progress=(lambda _done, todo: advance(1, total=todo)) if advance else None)
    frame = sweeps.to_frame(out) if out is not None else pd.DataFrame(run.rows)
    return SweepResult(spec.name, spec.kind, frame, out, run.total_points, run.ran_points,
                       run.skipped_points, run.errors)


def validate(area: str | Sequence[str] | None = None, *, workers: int | None = None,
             progress: bool | None = None):
    """`tpusim validate`: the models against published figures (a ValidationResult: `.checks`,
    `.passed`, `.counts`, `.to_dict()` is the --json output, `.to_frame()` one row per figure).
    `area`: estimate, embeddings, plan, simulate (a name, a comma list or a list; default all);
    `workers`: simulator processes; `progress`: a bar in a notebook or on a terminal."""
    from tpusim.validation import figures
    from tpusim.validation import validate as run

    if workers is not None:
        workers = check_integer(workers, "workers", "", at_least=1, param=True)
    total = len(figures(area))
    with progress_bar("validate", total, progress) as advance:
        return run(area, workers=workers,
                   on_figure=(lambda c: advance(1, c.figure.id)) if advance else None)


# --- progress: a bar in a notebook (IPython display) or on a terminal (rich, on stderr) -----------

class progress_bar:
    """Context manager yielding `advance(k=1, what=None)`, or None when no bar is shown.

    `show`: True, False, or None for "when there is someone to see it" (a Jupyter kernel, or
    stderr on a terminal). In a notebook the bar is an HTML <progress> element updated in
    place (no ipywidgets needed); on a terminal a rich progress bar on stderr."""

    def __init__(self, title: str, total: int | None, show: bool | None) -> None:
        self.title, self.total, self.show = title, total, show
        self._done = 0
        self._bar = self._task = self._handle = None

    def __enter__(self):
        where = _where_to_show() if self.show is None or self.show else None
        if self.show is False or where is None:
            return None
        if where == "notebook":
            from IPython.display import HTML, display

            self._html = HTML
            self._handle = display(HTML(self._render()), display_id=True)
        else:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(file=sys.stderr),
                                 transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.title, total=self.total)
        return self.advance

    def advance(self, k: int = 1, what: str | None = None, *, total: int | None = None) -> None:
        """`k` more steps done (`what`: the step's name; `total`: the number of steps, when it
        turns out smaller than announced, e.g. points already in a resumed file)."""
        if total is not None and total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.update(self._task, total=total)
        self._done += k
        if self._handle is not None:
            self._handle.update(self._html(self._render(what)))
        elif self._bar is not None:
            self._bar.update(self._task, advance=k,
                             description=f"{self.title}: {what}" if what else self.title)

    def _render(self, what: str | None = None) -> str:
        import html

        total = f' max="{self.total}"' if self.total else ""
        count = f"{self._done}/{self.total}" if self.total else f"{self._done}"
        note = f" {html.escape(what)}" if what else ""
        return (f'<div><progress value="{self._done}"{total} style="width:24em"></progress> '
                f"{html.escape(self.title)}: {count}{note}</div>")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _where_to_show() -> str | None:
    """'notebook' inside a Jupyter kernel, 'terminal' when stderr is a terminal, else None."""
    shell = sys.modules.get("IPython")
    if shell is not None:
        try:
            ip = shell.get_ipython()
        except AttributeError:
            ip = None
        if ip is not None and type(ip).__name__ == "ZMQInteractiveShell":
            return "notebook"
    return "terminal" if sys.stderr.isatty() else None
