"""What each report input is, and the section it becomes.

An input is a file or a shipped name:
- a TOML file: a sweep (`[sweep]`), a workload (`[model]`) or a scenario (`[pod]`/`[[jobs]]`):
  run, then reported;
- a results file written earlier: a sweep's rows (.csv/.jsonl/.parquet with `point_id`), a
  simulation's replication table (`replication` and `job` columns), or a `--json` output of
  plan, estimate or simulate (.json);
- a name: a shipped sweep, scenario or workload (in that order), e.g. `palm-540b-50d`.
Each input is recorded with its SHA-256, so a reader can tell which files made the report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tpusim.errors import TpusimError
from tpusim.inputs import load_toml
from tpusim.reports.sections import Section, estimate_section, plan_section, simulate_section, sweep_section
from tpusim.rows import has_rows, parts_dir

TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet")


@dataclass(frozen=True)
class Input:
    """One report input: what the user typed, the file it resolved to, its kind and hash."""

    given: str
    path: Path
    # sweep | workload | scenario | sweep-rows | replications | plan-json | estimate-json | simulate-json
    kind: str
    sha256: str


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file (of its parquet part files, in order, when only they exist)."""
    if not path.is_file() and path.suffix.lower() == ".parquet":
        digest = hashlib.sha256()
        for part in sorted(parts_dir(path).glob("part-*.parquet")):
            digest.update(part.read_bytes())
        return digest.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def identify(given: str | Path) -> Input:
    """Resolve and classify one input (see the module docstring); a TpusimError names the fix."""
    path = Path(given)
    suffix = path.suffix.lower()
    if suffix == ".parquet" and not path.is_file() and has_rows(path):
        pass  # parquet part files left by a crash (FILE.parquet.parts/) read like the file
    elif not path.is_file() and suffix in (*TABLE_SUFFIXES, ".json"):
        raise TpusimError(f"report input {str(given)!r}: file not found")
    elif path.is_dir():
        raise TpusimError(f"report input {str(given)!r} is a folder; give a file in it (a sweep's "
                          f"rows, a --json output, a TOML file) or a shipped name")
    elif not path.is_file():
        path = _shipped(str(given))
    suffix = path.suffix.lower()
    if suffix == ".toml":
        kind = _toml_kind(path)
    elif suffix in TABLE_SUFFIXES:
        kind = _table_kind(path)
    elif suffix == ".json":
        kind = _json_kind(path)
    else:
        raise TpusimError(f"report input {str(given)!r}: use a .toml file (sweep, workload, scenario), "
                          f"results (.csv, .jsonl, .parquet, .json) or a shipped name")
    return Input(str(given), path, kind, sha256_of(path))


def _shipped(name: str) -> Path:
    """A shipped sweep, scenario or workload by bare name (sweeps first, then scenarios)."""
    from tpusim.data import catalog
    from tpusim.errors import unknown_name

    stem = Path(name).stem if name.endswith(".toml") else name
    shipped: dict[str, Path] = {}
    for folder in ("workloads", "scenarios", "scenarios/sweeps"):  # later folders take precedence
        shipped.update(catalog(folder))
    if stem in shipped:
        return shipped[stem]
    raise unknown_name("report input (file or shipped sweep, scenario or workload)", name, shipped)


def _toml_kind(path: Path) -> str:
    doc = load_toml(path)  # UTF-8 only; a syntax error names the file and line
    if "sweep" in doc:
        return "sweep"
    if "model" in doc:
        return "workload"
    if "jobs" in doc or "pod" in doc:
        return "scenario"
    raise TpusimError(f"{path}: not a sweep ([sweep]), workload ([model]) or scenario ([pod], [[jobs]]) file")


def read_table(path: Path):
    """A results table (.csv, .jsonl, .parquet) as a DataFrame: the one row reader
    (`tpusim.rows`), so a torn last line or parquet parts left by a crash read like the rest."""
    from tpusim.rows import read_frame

    return read_frame(path)


def _table_kind(path: Path) -> str:
    columns = set(read_table(path).columns)
    if "point_id" in columns:
        return "sweep-rows"
    if {"replication", "job", "goodput"} <= columns:
        return "replications"
    raise TpusimError(f"{path}: not a sweep results file (point_id column) or a simulate "
                      f"replication table (replication, job, goodput columns)")


def _json_kind(path: Path) -> str:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TpusimError(f"{path}: not a JSON file ({exc})") from None
    if isinstance(doc, list) and doc and all(isinstance(d, dict) and "rows" in d and "pod" in d for d in doc):
        return "plan-json"
    if isinstance(doc, dict):
        if "rows" in doc and "pod" in doc:
            return "plan-json"
        if "badput" in doc and "goodput" in doc:
            return "simulate-json"
        if "step_time_s" in doc and "mfu" in doc:
            return "estimate-json"
        rows = doc.get("rows")
        if isinstance(rows, list) and rows and all(isinstance(r, dict) and "step_time_s" in r and "mfu" in r
                                                   for r in rows):
            return "estimates-json"  # estimate --compare-placements --json: one estimate per placement
    raise TpusimError(f"{path}: not a --json output of tpusim plan, estimate or simulate")


def section_of(item: Input, *, replications: int | None, workers: int | None) -> Section:
    """Run (TOML inputs) or read (results) one input and make its section."""
    source = f"{item.given} ({item.kind})"
    if item.kind == "sweep":
        from tpusim.api import sweep

        result = sweep(item.path, workers=workers, progress=False)
        return sweep_section(result.to_frame(), result.kind, result.name, source)
    if item.kind == "workload":
        from tpusim.api import estimate

        return estimate_section([estimate(item.path)], source)
    if item.kind == "scenario":
        from tpusim.api import simulate

        result = simulate(item.path, replications=replications, workers=workers, with_events=True,
                          progress=False)
        return simulate_section(result, source)
    if item.kind == "sweep-rows":
        frame = read_table(item.path)
        return sweep_section(frame, _sweep_kind(frame), item.path.stem, source)
    if item.kind == "replications":
        return simulate_section(read_table(item.path), source, name=item.path.stem)
    doc = json.loads(item.path.read_text(encoding="utf-8"))
    if item.kind == "plan-json":
        return plan_section(doc if isinstance(doc, list) else [doc], source)
    if item.kind == "estimate-json":
        return estimate_section([doc], source)
    if item.kind == "estimates-json":
        return estimate_section(doc["rows"], source)
    return simulate_section(doc, source)


def _sweep_kind(frame) -> str:
    if "scenario" in frame.columns:
        return "simulate"
    if "pod_name" in frame.columns:
        return "plan"
    return "estimate"


def plan_of(chips: int | None, availability: list[float]) -> Section:
    """The planner section asked for with --chips/--availability."""
    from tpusim.api import plan

    results = [plan(a, chips=chips) for a in availability]
    return plan_section(results, f"tpusim plan --chips {results[0].pod['chips']} --availability "
                                 f"{','.join(str(a) for a in availability)}")


def collect(items: list[Input], *, chips: int | None, availability: list[float] | None,
            replications: int | None, workers: int | None,
            on_step: Callable[[str], None] | None = None) -> list[Section]:
    """Every section of the report, in the order given (the planner section first)."""
    sections = []
    if chips is not None or availability:
        sections.append(plan_of(chips, availability or [_default_availability()]))
        if on_step:
            on_step("plan")
    for item in items:
        sections.append(section_of(item, replications=replications, workers=workers))
        if on_step:
            on_step(item.given)
    return sections


def _default_availability() -> float:
    from tpusim import defaults

    return defaults.HOST_AVAILABILITY
