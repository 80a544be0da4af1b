"""Replications: seeds from one explicit seed, a process pool, streaming rows to a file.

Replication i uses `numpy.random.SeedSequence(seed).spawn(n)[i]`, so its numbers depend only on
(seed, i): the same whatever the number of workers or the order in which they finish.
Finished rows go to `on_rows` (progress bars) and to a `TableSink` (CSV or parquet) as soon
as they arrive, so an interrupt loses no finished replication.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tpusim.errors import TpusimError
from tpusim.inputs import check_integer
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


def _quiet_worker() -> None:
    """Workers ignore Ctrl-C: the parent cancels what is queued and keeps what finished."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class TableSink:
    """Append rows to a CSV or parquet file as they arrive; `close()` leaves a valid file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix not in OUT_SUFFIXES:
            raise TpusimError(f"out {str(path)!r}: use a .csv or .parquet file name", params=("out",))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = None
        self._csv = None
        self._schema = None

    def write(self, rows: list[dict]) -> None:
        import pandas as pd

        if not rows:
            return
        frame = _typed(pd.DataFrame(rows))
        if self.path.suffix == ".csv":
            header = self._csv is None
            if self._csv is None:
                self._csv = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            frame.to_csv(self._csv, header=header, index=False)
            self._csv.flush()
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False, schema=self._schema)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None


def _typed(frame):
    """Stable column types across batches: numbers as float64 (except the replication index)."""
    for col in frame.columns:
        if col in ("job", "kind", "detail"):
            frame[col] = frame[col].astype(str)
        elif col in ("finished", "started"):
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
    sink = TableSink(out) if (out is not None and n > 1) else None
    rows: list[dict] = []
    first: ReplicationResult | None = None
    events = None
    try:
        if with_events or n == 1 or (out is not None and n == 1):
            first = run_replication(scenario, plans, seeds[0], log=True)
            r0 = job_rows(first, plans, 0)
            rows.extend(r0 + [replication_row(r0, first.fleet)])
            events = events_frame(first, plans)
            if sink is not None:
                sink.write(rows)
            if on_rows:
                on_rows(1)
        todo = [(i, seeds[i]) for i in range(1 if first is not None else 0, n)]
        workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
        if workers <= 1 or len(todo) <= 1:
            for item in todo:
                got = _run_chunk(scenario, plans, [item])
                rows.extend(got)
                if sink is not None:
                    sink.write(got)
                if on_rows:
                    on_rows(1)
        elif todo:
            import multiprocessing

            # small chunks: smooth progress, and an interrupt discards little unfinished work
            size = max(1, min(16, math.ceil(len(todo) / (workers * 8))))
            chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
            pool = multiprocessing.get_context().Pool(workers, initializer=_quiet_worker)
            try:
                for got in pool.imap_unordered(_run_chunk_args, [(scenario, plans, c) for c in chunks]):
                    rows.extend(got)
                    if sink is not None:
                        sink.write(got)
                    if on_rows:
                        on_rows(len({r["replication"] for r in got}))
                pool.close()
            except BaseException:
                pool.terminate()  # unfinished chunks are dropped; finished rows are kept
                raise
            finally:
                pool.join()
    finally:
        if sink is not None:
            sink.close()
    if out is not None and n == 1 and events is not None:
        event_sink = TableSink(out)
        try:
            event_sink.write(events.to_dict("records"))
        finally:
            event_sink.close()
    table = pd.DataFrame(rows).sort_values(["replication", "job"], kind="stable").reset_index(drop=True)
    summary = summarize(table, scenario=scenario.name, seed=scenario.seed)
    summary["jobs_plan"] = {
        p.spec.name: {"mfu": p.mfu, "step_time_s": p.step_time_s, "work_s": p.work_s,
                      "checkpoint_interval_s": p.interval_s,
                      "failure_rate_per_hour": p.failure_rate_per_s * 3600.0,
                      "rate_source": p.rate_source}
        for p in plans
    }
    return SimulationResult(scenario, plans, table, summary, events, first)
