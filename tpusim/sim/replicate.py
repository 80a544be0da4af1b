"""Replications: seeds from one explicit seed, a process pool, streaming rows to a file.

Replication i uses `numpy.random.SeedSequence(seed).spawn(n)[i]`, so its numbers depend only on
(seed, i): the same whatever the number of workers or the order in which they finish.
Finished rows go to `on_rows` (progress bars) and to the row sink (`tpusim.rows`: CSV or
parquet) as soon as they arrive, so an interrupt, or a SIGKILL, loses no finished replication.
Replications run on the interruptible pool (`tpusim.pool`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tpusim.inputs import check_integer, fmt_shape
from tpusim.pool import imap_unordered
from tpusim.rows import open_sink
from tpusim.sim.accounting import events_frame, job_rows, replication_row, summarize
from tpusim.sim.budget import check_budget
from tpusim.sim.engine import ReplicationResult, run_replication
from tpusim.sim.jobs import JobPlan, plan_jobs
from tpusim.sim.scenario import Scenario

OUT_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class SimulationResult:
    scenario: Scenario
    plans: tuple[JobPlan, ...]
    table: Any  # pandas DataFrame: one row per (replication, job) plus '*' all-jobs rows
    summary: dict
    events: Any | None = None  # DataFrame of replication 0's event log, when asked for
    first: ReplicationResult | None = None

    def to_frame(self):
        """The replication table: one row per (replication, job) plus the all-jobs '*' rows."""
        return self.table


def replication_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(n)


def _rows_for(scenario: Scenario, plans: tuple[JobPlan, ...], index: int,
              seed: np.random.SeedSequence) -> list[dict]:
    result = run_replication(scenario, plans, seed, log=False)
    rows = job_rows(result, plans, index)
    return rows + [replication_row(rows, result.fleet)]


def _run_chunk_args(args: tuple) -> list[dict]:
    return _run_chunk(*args)


def _run_chunk(scenario: Scenario, plans: tuple[JobPlan, ...],
               chunk: list[tuple[int, np.random.SeedSequence]]) -> list[dict]:
    out: list[dict] = []
    for index, seed in chunk:
        out.extend(_rows_for(scenario, plans, index, seed))
    return out


def _typed(frame):
    """Stable column types across batches: numbers as float64 (except the replication index)."""
    for col in frame.columns:
        if col in ("job", "kind", "detail", "slice_shape"):
            frame[col] = frame[col].astype(str)
        elif col in ("finished", "started", "twisted"):
            frame[col] = frame[col].astype(bool)
        elif col in ("replication", "pod", "cube"):
            frame[col] = frame[col].astype("int64")
        else:
            frame[col] = frame[col].astype("float64")
    return frame


def simulate(scenario: Scenario, *, workers: int | None = None, with_events: bool = False,
             on_rows: Callable[[int], None] | None = None, out: str | Path | None = None,
             plans: tuple[JobPlan, ...] | None = None, check_limits: bool = True) -> SimulationResult:
    """Run `scenario.replications` replications from `scenario.seed`.

    - `workers`: processes (default: min(replications, CPUs)); 1 runs in this process.
    - `with_events`: also return replication 0's event log (re-run with logging, same seed).
    - `on_rows(k)`: called with the number of replications just finished.
    - `out`: with one replication, the event log; with several, the replication table;
      written as replications finish (.csv or .parquet).
    - `check_limits`: refuse, before anything runs, a run whose estimated events, processes or
      event log exceed `tpusim.limits` (False: run it anyway).
    """
    import pandas as pd

    plans = plan_jobs(scenario) if plans is None else plans
    if check_limits:
        check_budget(scenario, plans, logged=with_events or scenario.replications == 1)
    if workers is not None:
        check_integer(workers, "workers", "simulate", at_least=1)
    n = scenario.replications
    seeds = replication_seeds(scenario.seed, n)
    sink = None if out is None else open_sink(out, formats=OUT_SUFFIXES)  # checked before any run
    table_sink = sink if n > 1 else None  # one replication: the event log goes to `out` instead
    rows: list[dict] = []
    first: ReplicationResult | None = None
    events = None

    def keep(got: list[dict]) -> None:
        rows.extend(got)
        if table_sink is not None:
            table_sink.write(_typed(pd.DataFrame(got)).to_dict("records"))
        if on_rows:
            on_rows(len({r["replication"] for r in got}))

    try:
        if with_events or n == 1:
            first = run_replication(scenario, plans, seeds[0], log=True)
            r0 = job_rows(first, plans, 0)
            events = events_frame(first, plans)
            keep(r0 + [replication_row(r0, first.fleet)])
        todo = [(i, seeds[i]) for i in range(1 if first is not None else 0, n)]
        workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
        # small chunks: smooth progress, few output parts, and an interrupt (or a SIGKILL)
        # discards little unfinished work
        size = max(1, min(16, math.ceil(len(todo) / (max(workers, 8) * 8))))
        chunks = [(scenario, plans, todo[i:i + size]) for i in range(0, len(todo), size)]
        for got in imap_unordered(_run_chunk_args, chunks, workers):
            keep(got)
        if sink is not None and n == 1 and events is not None:
            sink.write(_typed(events.copy()).to_dict("records"))
    finally:
        if sink is not None:
            sink.close()
    table = pd.DataFrame(rows).sort_values(["replication", "job"], kind="stable").reset_index(drop=True)
    summary = summarize(table, scenario=scenario.name, seed=scenario.seed)
    summary["jobs_plan"] = {
        p.spec.name: {"slice_shape": fmt_shape(p.spec.slice_shape), "slices": p.spec.slices,
                      "twisted": p.spec.twisted,
                      "mfu": p.mfu, "program_goodput": p.mfu, "step_time_s": p.step_time_s,
                      "tokens_per_step": p.tokens_per_step, "samples_per_step": p.samples_per_step,
                      "work_s": p.work_s,
                      "checkpoint_interval_s": p.interval_s,
                      "failure_rate_per_hour": p.failure_rate_per_s * 3600.0,
                      "rate_source": p.rate_source}
        for p in plans
    }
    return SimulationResult(scenario, plans, table, summary, events, first)
