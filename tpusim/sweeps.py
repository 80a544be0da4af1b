"""Scenario sweeps: a grid of parameters, each point run by one library function, results
streamed to a file as they finish so an interrupted sweep resumes where it stopped.

A sweep TOML names what to run and the grid:

    [sweep]
    kind = "estimate"                    # estimate | plan | simulate
    base = "workloads/palm-540b.toml"    # the workload or scenario file (not for plan)
    out = "runs/palm-sweep.csv"          # optional; --out overrides

    [grid]                               # every combination, in this order
    chips_per_slice = [1024, 2048, 3072] # an argument of the runner, or
    "training.global_batch_seqs" = [1024, 2048]   # a dotted key replacing a value of the base file

Each point gets a stable `point_id` (a hash of its parameters), so `--resume` skips the points
already in the output file. Runners return rows (flat dicts); every row carries the point's
parameters. Library code never prints: progress goes through a callback.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tpusim import defaults, limits
from tpusim.data import find_input
from tpusim.errors import TpusimError
from tpusim.inputs import Section, UnknownKeyError, check_integer, load_toml, read_toml, show
from tpusim.pool import imap_unordered
from tpusim.rows import has_rows, open_sink, read_frame, read_rows

KINDS = ("estimate", "plan", "simulate")
OUT_SUFFIXES = (".csv", ".jsonl", ".parquet")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file."""

    name: str
    kind: str
    base: Path | None  # workload or scenario file the grid modifies
    grid: dict[str, list]  # parameter -> values, in file order
    out: Path | None

    @property
    def size(self) -> int:
        n = 1
        for values in self.grid.values():
            n *= len(values)
        return n


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep TOML file (see the module docstring); `run_sweep` checks the grid
    keys against the runner and the base file (`check_grid`) before any point runs."""
    path = Path(path)
    with read_toml(path) as doc:
        return _sweep(doc, path)


def _kind_and_base(table: Section, relative_to: Path | None) -> tuple[str, Path | None]:
    """A sweep's kind and base file: a workload for estimate, a scenario for simulate, none for
    plan (the same rules for a sweep file and a dict)."""
    kind = table.choice("kind", KINDS)
    table.allow("base")
    if kind == "plan":
        if table.has("base"):
            raise TpusimError(f"{table.label}: a plan sweep has no base file; remove base")
        return kind, None
    what = "workload" if kind == "estimate" else "scenario"
    ref = table.raw("base", None)
    if not isinstance(ref, str | Path) or not str(ref).strip():
        raise TpusimError(f"{table.label}: a {kind} sweep needs base, the {what} (name or file) "
                          f"the grid changes")
    return kind, find_input(ref, kind=f"sweep base ({what})", folder=f"{what}s", relative_to=relative_to)


def _sweep(doc: Section, path: Path) -> SweepSpec:
    table = doc.section("sweep")
    kind, base = _kind_and_base(table, path.parent)
    out = table.string("out", None, hint="a .csv or .jsonl file name")
    grid_table = doc.section("grid")
    grid = {key: grid_table.array(key, non_empty=True) for key in grid_table.names()}
    doc.done(hint="grid values go in [grid], e.g. seed = [5]")
    return SweepSpec(name=path.stem, kind=kind, base=base, grid=grid, out=Path(out) if out else None)


def check_grid(spec: SweepSpec) -> None:
    """Refuse, before anything runs, a grid key that no point could use: a plain key the runner
    does not take, or a dotted key the base file's schema does not know ('model.layerz'). Each
    point's document is built and read with the strict reader; other input errors (a value out
    of range at some point) are left to that point's row."""
    allowed = _runner_keys(spec)
    plain = [k for k in spec.grid if "." not in k]
    for key in plain:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            guess = f"did you mean {close[0]!r}? " if close else ""
            example = _example_key(spec, allowed)
            dotted_hint = "" if example is None else f" or a dotted key of the base file such as {example!r}"
            raise UnknownKeyError(
                f"sweep {spec.kind}: unknown grid key {key!r}; {guess}use {', '.join(allowed)}{dotted_hint}")
    dotted = [k for k in spec.grid if "." in k]
    if not dotted:
        return
    if spec.kind == "plan":
        raise TpusimError(f"sweep plan: dotted grid keys ({', '.join(dotted)}) need a base file; a plan "
                          f"sweep takes only {', '.join(allowed)}")
    base_doc = load_toml(spec.base)
    seen: set[str] = set()
    for params in points(spec):
        overrides = {k: params[k] for k in dotted}
        key = json.dumps(overrides, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            _parse_base(spec, apply_overrides(base_doc, overrides))
        except UnknownKeyError as exc:
            raise UnknownKeyError(f"sweep grid key not in the base file {spec.base.name}: {exc}") from None
        except TpusimError:
            continue  # a bad value at this point: reported in its row


def check_size(spec: SweepSpec) -> None:
    """Refuse a grid of more than `tpusim.limits.SWEEP_POINTS` points (before they are listed)."""
    if spec.size > limits.SWEEP_POINTS:
        raise limits.over_limit(f"sweep {spec.name}: grid points", spec.size, limits.SWEEP_POINTS,
                                "split the grid into several sweeps")


def _parse_base(spec: SweepSpec, doc: dict[str, Any]):
    """The base document (with a point's overrides) read strictly: a Workload or a Scenario."""
    if spec.kind == "estimate" and _is_dlrm(doc):
        from tpusim.workloads.dlrm.config import dlrm_from_section

        with Section(doc, str(spec.base)) as top:
            return dlrm_from_section(top, spec.base.stem)
    if spec.kind == "estimate":
        from tpusim.workloads.config import workload_from_dict

        return workload_from_dict(doc, str(spec.base), spec.base.stem)
    from tpusim.sim import scenario_from_dict

    return scenario_from_dict(doc, str(spec.base), base=spec.base.parent)


def as_spec(spec: Any) -> SweepSpec:
    """A SweepSpec from a sweep TOML path, the name of a shipped sweep, a dict or a SweepSpec."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        return spec_from_dict(spec)
    if isinstance(spec, str | Path):  # a path, or a shipped sweep by name (the one resolver)
        return load_sweep(find_input(spec, kind="sweep", folder="scenarios/sweeps"))
    raise TpusimError(f"spec must be a sweep file, a shipped sweep name, a SweepSpec or a dict, "
                      f"got {type(spec).__name__}", params=("spec",))


def spec_from_dict(doc: dict[str, Any], *, name: str = "sweep") -> SweepSpec:
    """A sweep from a plain dict: {"kind": ..., "base": ... (not for plan), "grid": {...}},
    optionally "name" and "out"; the same rules as a sweep file, read by the strict reader
    (grid values may be lists or tuples)."""
    if not isinstance(doc, dict):
        raise TpusimError(f"spec must be a dict, got {type(doc).__name__}", params=("spec",))
    with Section(doc, f"sweep {doc.get('name', name)!r}") as top:
        kind, base = _kind_and_base(top, None)
        name = top.string("name", name)
        out = top.raw("out", None)
        if out is not None and not isinstance(out, str | Path):
            raise TpusimError(f"{top.label}: out must be a file name, got {show(out)}")
        grid = top.raw("grid", None)
        if not isinstance(grid, dict) or not grid:
            raise TpusimError(f"{top.label}: grid must be a table of key -> list of values, e.g. "
                              f"{{'availability': [0.99, 0.995]}}")
        for key, values in grid.items():
            if not isinstance(values, list | tuple) or not values:
                raise TpusimError(f"{top.label}: grid {key} must be a non-empty list of values, e.g. [1, 2]")
    return SweepSpec(name=str(name), kind=kind, base=base, grid={k: list(v) for k, v in grid.items()},
                     out=Path(out) if out else None)


def point_id(params: dict[str, Any]) -> str:
    """A stable 12-hex-digit id of a parameter set (same parameters, same id, any order)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of the grid, the last key varying fastest."""
    keys = list(spec.grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*spec.grid.values())]


def apply_overrides(doc: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `doc` with each dotted key ('training.global_batch_seqs') set to its value;
    an array of tables is entered by index or by its entries' `name` ('jobs.0.slice',
    'jobs.palm-540b.slice'). Keys without a dot are left to the runner."""
    out = copy.deepcopy(doc)
    for key, value in params.items():
        if "." not in key:
            continue
        *tables, leaf = key.split(".")
        node: Any = out
        parent = ""
        for name in tables:
            child = _entry(node, name, key, parent) if isinstance(node, list) else node.setdefault(name, {})
            if isinstance(child, list) and not all(isinstance(c, dict) for c in child) or not isinstance(
                    child, dict | list):
                raise TpusimError(f"sweep key {key!r}: {name!r} is a value, not a table")
            node, parent = child, name
        if isinstance(node, list):
            raise UnknownKeyError(f"sweep key {key!r}: [[{parent}]] is a list of tables; name one "
                                  f"by index or name before the key ('{parent}.0.{leaf}')")
        node[leaf] = value
    return out


def _entry(tables: list[dict[str, Any]], name: str, key: str, parent: str) -> dict[str, Any]:
    """One table of an array of tables, by index ('0') or by its `name`."""
    if name.isdigit() and int(name) < len(tables):
        return tables[int(name)]
    named = [t for t in tables if t.get("name") == name]
    if len(named) == 1:
        return named[0]
    names = [str(t.get("name")) for t in tables if "name" in t]
    raise UnknownKeyError(f"sweep key {key!r}: [[{parent}]] has no entry {name!r}; use an index "
                          f"0 to {len(tables) - 1}" + (f" or a name: {', '.join(names)}" if names else ""))


# --- runners: (spec, params) -> rows ---------------------------------------------------------

# The plain grid keys each runner takes (arguments of its library call).
RUNNER_KEYS: dict[str, tuple[str, ...]] = {
    "estimate": ("chip", "chips_per_slice", "slices", "slice_shape", "global_batch_seqs", "remat"),
    "plan": ("chips", "generation", "pod", "availability", "slice", "slices", "target", "samples",
             "seed"),
    "simulate": ("days", "seed", "replications"),
}
# An estimate sweep over a DLRM workload ([model] kind = "dlrm") takes estimate_dlrm's overrides.
DLRM_ESTIMATE_KEYS = ("chip", "chips", "slices", "slice_shape", "twisted", "placement", "sharding",
                      "pipelining", "global_batch")
_EXAMPLE_KEYS = {"estimate": "training.global_batch_seqs", "plan": None,
                 "simulate": "recovery.checkpoint_save_s"}


def _example_key(spec: SweepSpec, allowed: tuple[str, ...]) -> str | None:
    """A dotted key the base file's kind has (a DLRM workload has no training.global_batch_seqs;
    a plan sweep has no base file: None)."""
    return "embedding.skew" if allowed == DLRM_ESTIMATE_KEYS else _EXAMPLE_KEYS[spec.kind]


def _is_dlrm(doc: dict[str, Any]) -> bool:
    model = doc.get("model")
    return isinstance(model, dict) and model.get("kind") == "dlrm"


def _runner_keys(spec: SweepSpec) -> tuple[str, ...]:
    if spec.kind == "estimate" and _is_dlrm(load_toml(spec.base)):
        return DLRM_ESTIMATE_KEYS
    return RUNNER_KEYS[spec.kind]


def _split(params: dict[str, Any], kind: str, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The point's plain (runner) keys; `check_grid` has refused any the runner does not take."""
    allowed = RUNNER_KEYS[kind] if keys is None else keys
    return {k: v for k, v in params.items() if "." not in k and k in allowed}


def run_estimate_point(spec: SweepSpec, params: dict[str, Any], *,
                       check_limits: bool = True) -> list[dict[str, Any]]:
    """One `tpusim estimate` of the base workload with the point's overrides."""
    from tpusim.workloads.estimator import estimate

    workload = _parse_base(spec, apply_overrides(load_toml(spec.base), params))
    if getattr(workload, "kind", "dense_llm") == "dlrm":
        from tpusim.workloads.dlrm import estimate_dlrm

        return [estimate_dlrm(workload, **_split(params, "estimate", DLRM_ESTIMATE_KEYS)).to_row()]
    return [estimate(workload, **_split(params, "estimate")).to_row()]


def run_plan_point(spec: SweepSpec, params: dict[str, Any], *,
                   check_limits: bool = True) -> list[dict[str, Any]]:
    """One `tpusim plan`: a row per slice size (or per requested slice)."""
    from tpusim.hardware import planned_pod
    from tpusim.planner.table import plan

    kwargs = _split(params, "plan")
    kwargs.setdefault("availability", defaults.HOST_AVAILABILITY)  # as tpusim plan and tpusim.plan
    where = "sweep plan point"
    for key in ("pod", "generation", "slice"):
        if key in kwargs and not isinstance(kwargs[key], str):
            raise TpusimError(f"{where}: {key} must be a string, got {show(kwargs[key])}")
    # pod = "v5p-128" or slice = "v5p-128": that slice, as tpusim plan --pod/--slice v5p-128
    pod, kwargs["slice"] = planned_pod(pod=kwargs.get("pod"), chips=kwargs.get("chips"),
                                       generation=kwargs.get("generation"),
                                       slice_shape=kwargs.get("slice"))
    samples = check_integer(kwargs.get("samples", defaults.PLAN_SAMPLES), "samples", where, at_least=1)
    seed = check_integer(kwargs.get("seed", defaults.SEED), "seed", where, at_least=0)
    result = plan(pod, kwargs["availability"], slice_shape=kwargs.get("slice"),
                  n_slices=kwargs.get("slices", 1), target=kwargs.get("target"),
                  samples=samples, seed=seed, check_limits=check_limits)
    head = {"pod_name": pod.name, "cube_availability": result.cube_availability}
    return [{**head, **{k: v for k, v in asdict(row).items() if k != "cube_shape"}}
            for row in result.rows]


def run_simulate_point(spec: SweepSpec, params: dict[str, Any], *,
                       check_limits: bool = True) -> list[dict[str, Any]]:
    """One `tpusim simulate` of the base scenario with the point's overrides (all replications in
    this process): the tidy rows of its summary (`summary_rows`)."""
    from tpusim.sim import simulate, with_overrides

    scenario = _parse_base(spec, apply_overrides(load_toml(spec.base), params))
    scenario = with_overrides(scenario, **_split(params, "simulate"))
    return summary_rows(simulate(scenario, workers=1, check_limits=check_limits).summary)


def summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """A simulate summary as tidy rows: the all-jobs row (job '*', with 95% half-widths) and one
    row per job; the same columns for every job, units in the names."""
    def common(entry: dict[str, Any]) -> dict[str, Any]:
        row = {k: entry[k] for k in ("goodput", "scheduling_goodput", "runtime_goodput",
                                     "program_goodput") if k in entry}
        row.update({f"badput_{c}_s": v for c, v in entry["badput"].items()})
        row["waiting_fragmented_s"] = entry.get("waiting_fragmented_s")
        ttt = entry["time_to_train_s"]
        row.update({f"time_to_train_{q}_s": ttt[q] for q in ttt if q.startswith("p")})
        row["finished_fraction"] = ttt.get("finished_fraction")
        return row

    whole = {"job": "*", **common(summary)}
    whole.update({f"{k}_ci95": summary[f"{k}_ci95"] for k in ("goodput", "scheduling_goodput",
                                                               "runtime_goodput", "program_goodput")})
    whole["productive_s"] = summary["productive_s"]
    whole.update({f"interruptions_{c}": n for c, n in summary["interruptions"].items() if c != "total"})
    whole["interruptions"] = summary["interruptions"]["total"]
    head = {"scenario": summary.get("scenario"), "seed": summary.get("seed"),
            "replications": summary.get("replications")}
    rows = [{**head, **whole}]
    plans = summary.get("jobs_plan", {})
    for name, entry in summary["jobs"].items():
        row = {**head, "job": name, **common(entry), "interruptions": entry["interruptions"],
               "never_started_fraction": entry["never_started_fraction"],
               "tokens_trained": entry.get("tokens_trained"), "samples_trained": entry.get("samples_trained")}
        # the plan's figures, but not its program_goodput: the row has the measured one
        row.update({k: v for k, v in plans.get(name, {}).items()
                    if k not in ("rate_source", "program_goodput")})
        rows.append(row)
    return rows


RUNNERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "estimate": run_estimate_point,
    "plan": run_plan_point,
    "simulate": run_simulate_point,
}


def run_point(spec: SweepSpec, params: dict[str, Any], check_limits: bool = True) -> list[dict[str, Any]]:
    """Run one point; every row starts with the point id and its parameters. An input error at a
    point becomes a row with an `error` column rather than stopping the sweep."""
    head = {"point_id": point_id(params), **params}
    try:
        rows = RUNNERS[spec.kind](spec, params, check_limits=check_limits)
    except TpusimError as exc:
        return [{**head, "error": str(exc)}]
    return [{**head, **row} for row in rows]


# --- result files -----------------------------------------------------------------------------

def check_out_path(out: Path) -> Path:
    if Path(out).suffix not in OUT_SUFFIXES:
        raise TpusimError(f"out {str(out)!r}: use a {' or '.join(OUT_SUFFIXES)} file name", params=("out",))
    return Path(out)


def sweep_id(spec: SweepSpec) -> str:
    """12 hex digits naming what makes rows of one output file comparable: the kind, the base
    file's content and the grid's keys (values may be added to a grid and the sweep resumed)."""
    digest = hashlib.sha256(spec.kind.encode() + b"\0")
    if spec.base is not None:
        digest.update(spec.base.read_bytes())
    digest.update(json.dumps(sorted(spec.grid)).encode())
    return digest.hexdigest()[:12]


def done_ids(out: Path) -> set[str]:
    """Point ids already in an output file (empty if the file does not exist)."""
    return {str(row.get("point_id")) for row in read_rows(out)}


def to_frame(out: str | Path):
    """A sweep output file as a pandas DataFrame (for notebooks); a torn last line is ignored."""
    return read_frame(out)


# --- execution --------------------------------------------------------------------------------

def _run_point_args(args: tuple[SweepSpec, dict[str, Any], bool]) -> list[dict[str, Any]]:
    return run_point(*args)


def _run_local(spec: SweepSpec, todo: list[dict[str, Any]], workers: int | None,
               check_limits: bool = True) -> Iterator[list[dict]]:
    workers = workers or os.cpu_count() or 1
    return imap_unordered(_run_point_args, [(spec, params, check_limits) for params in todo], workers)


def _run_ray(spec: SweepSpec, todo: list[dict[str, Any]], workers: int | None,
             address: str | None = None, check_limits: bool = True) -> Iterator[list[dict]]:
    """Points as Ray tasks. Connects to `address` (or RAY_ADDRESS) when given: an existing
    cluster, whose CPUs set the parallelism (no resources are passed when connecting); otherwise
    starts a local Ray with `workers` CPUs (default: all of this machine's). With `workers` and a
    cluster, at most that many points run at once. A Ray started here is shut down here; one
    already initialised in this process (a notebook's) is left running."""
    try:
        import ray
    except ModuleNotFoundError:
        raise TpusimError("backend 'ray' needs Ray: pip install 'tpusim[ray]'",
                          params=("backend",)) from None
    address = address or os.environ.get("RAY_ADDRESS") or None
    started = not ray.is_initialized()
    if started and address:
        ray.init(address=address, log_to_driver=False)
    elif started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    pending: list = []
    try:
        remote = ray.remote(run_point)
        limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < limit:
                pending.append(remote.remote(spec, queue.pop(0), check_limits))
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    except BaseException:  # Ctrl-C or an error: cancel what is still running
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


BACKENDS = ("local", "ray")


def run_points(spec: SweepSpec, todo: list[dict[str, Any]], *, backend: str = "local",
               workers: int | None = None, address: str | None = None,
               check_limits: bool = True) -> Iterator[list[dict]]:
    """Run the points `todo`, yielding each point's rows as it finishes (any order). `workers`:
    processes or Ray tasks at once (None: the machine's or the cluster's CPUs); `address`: a Ray
    cluster to connect to (backend 'ray'); `check_limits`: the runners' work limits."""
    if backend not in BACKENDS:
        raise TpusimError(f"backend {backend!r} is unknown; use local or ray", params=("backend",))
    if workers is not None:
        check_integer(workers, "workers", "sweep", at_least=1)
    if address and backend != "ray":
        raise TpusimError("address is for backend 'ray' (a Ray cluster)", params=("address", "backend"))
    if backend == "local":
        return _run_local(spec, todo, workers, check_limits)
    return _run_ray(spec, todo, workers, address, check_limits)


@dataclass(frozen=True)
class SweepRun:
    out: Path | None  # None: the rows are in `rows`
    total_points: int
    skipped_points: int  # already in the output file (--resume)
    ran_points: int
    errors: int
    rows: list[dict[str, Any]] | None = None  # in memory (out None), in grid order


def run_sweep(
    spec: SweepSpec,
    out: Path | None,
    *,
    backend: str = defaults.SWEEP_BACKEND,
    workers: int | None = None,
    resume: bool = False,
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    check_limits: bool = True,
) -> SweepRun:
    """Run every point of `spec` not already in `out` (with resume) and append its rows to `out`
    (None: keep them in memory, `SweepRun.rows`, in grid order).

    Without `resume`, an existing non-empty `out` is an error (nothing is overwritten). With it,
    the file's complete points are kept (a torn last line or a point cut short by a crash is
    dropped and runs again), and a file written by a different sweep (`sweep_id`: kind, base
    content, grid keys) is refused. Every row written carries `point_rows` (the rows of its
    point) and `sweep_id`. `progress(done, total)` is called after each point. `check_limits`:
    refuse a grid of more than `tpusim.limits.SWEEP_POINTS` points, and apply each runner's
    limits (False: neither).
    """
    out = None if out is None else check_out_path(out)
    if check_limits:
        check_size(spec)
    check_grid(spec)
    if out is not None and has_rows(out) and not resume:
        raise TpusimError(f"{out} already exists; pass resume to continue it or choose another out",
                          params=("resume", "out"))
    sid = sweep_id(spec)
    all_points = points(spec)
    sink = open_sink(out, formats=OUT_SUFFIXES, resume=resume, group_key="point_id",
                     group_size="point_rows")
    errors = finished = 0
    try:
        found = {str(r.get("sweep_id")) for r in sink.existing}
        if "None" in found:
            raise TpusimError(f"{out}: not a sweep's results file (rows without sweep_id); the file "
                              f"is kept as it is: choose another out", params=("out",))
        if found and found != {sid}:
            raise TpusimError(
                f"{out} holds rows of a different sweep (another kind, base file content or grid "
                f"keys: sweep_id {', '.join(sorted(found))} here, {sid} now); choose another out",
                params=("out",))
        done = {str(r.get("point_id")) for r in sink.existing}
        todo = [p for p in all_points if point_id(p) not in done]
        for rows in run_points(spec, todo, backend=backend, workers=workers, address=address,
                               check_limits=check_limits):
            sink.write(rows if out is None else
                       [{**row, "point_rows": len(rows), "sweep_id": sid} for row in rows])
            errors += sum(1 for r in rows if r.get("error"))
            finished += 1
            if progress is not None:
                progress(finished, len(todo))
    finally:
        sink.close()
    kept = None
    if out is None:  # in grid order (points finish in any order)
        order = {point_id(p): i for i, p in enumerate(all_points)}
        kept = sorted(sink.rows, key=lambda r: order[r["point_id"]])
    return SweepRun(out=out, total_points=len(all_points), skipped_points=len(all_points) - len(todo),
                    ran_points=finished, errors=errors, rows=kept)


