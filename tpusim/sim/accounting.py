"""Goodput accounting in Google's ML Productivity Goodput terms, and tables from the engine.

For a job whose window is W (submission to completion, or to the horizon):

- scheduling goodput = (W - waiting_for_resources - ocs_reconfiguration) / W
  (the time all resources the job needs are formed into its slices; re-forming a slice on
  the OCS is "time to reschedule the slice", t_re in the MPG blog);
- runtime goodput = productive / (W - waiting - ocs_reconfiguration), reduced by TPU
  initialisation, program start-up, checkpoint save and restore, and progress lost;
- program goodput = MFU (from `tpusim estimate`, or the scenario's override);
- goodput = scheduling x runtime x program = productive x MFU / W.

Several jobs combine weighted by chips (chip-seconds), which keeps the product exact.
Badput is in seconds by category. The categories sum exactly to W (tested). The `straggler`
category (compute lost to slower steps) and cause appear only in scenarios with stragglers:
the rows, columns and keys of the others are as they were.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tpusim.sim.engine import ReplicationResult
from tpusim.sim.faults import STRAGGLER
from tpusim.sim.jobs import JobPlan
from tpusim.sim.world import ALL_CATEGORIES, CAUSES, EVENT_COLUMNS
from tpusim.stats import mean_ci95
from tpusim.topology.shape import fmt_shape

BADPUT = tuple(c for c in ALL_CATEGORIES if c != "productive")  # those in the table
SCHEDULING_BADPUT = ("waiting_for_resources", "ocs_reconfiguration", "host_selection")
ALL_CAUSES = (*CAUSES, STRAGGLER)  # those in the table
BY_CAUSE = (*ALL_CAUSES, "none")  # badput by the interruption it follows ("none": saves, first start)
QUANTILES = (0.1, 0.5, 0.9)


def job_rows(result: ReplicationResult, plans: tuple[JobPlan, ...], replication: int) -> list[dict]:
    """One row per job of one replication: times by category, interruptions, goodputs."""
    rows = []
    categories = result.categories
    causes = result.causes
    for raw, plan in zip(result.jobs, plans, strict=True):
        row: dict[str, Any] = {"replication": replication, "job": raw["job"], "chips": plan.chips,
                               "slices": plan.spec.slices, "slice_shape": fmt_shape(plan.spec.slice_shape),
                               "twisted": plan.spec.twisted, "mfu": plan.mfu, "window_s": raw["window_s"]}
        for c in categories:
            row[f"{c}_s"] = raw[c]
        for c in causes:
            row[f"interruptions_{c}"] = raw[f"interruptions_{c}"]
        row["interruptions"] = sum(raw[f"interruptions_{c}"] for c in causes)
        for c in (*causes, "none"):
            row[f"badput_{c}_s"] = raw[f"badput_{c}"]
        spike = plan.loss_spike
        row["skipped_batches"] = (raw["interruptions_loss_spike"] * spike.skip_batches
                                  if spike is not None else 0)
        row["waiting_fragmented_s"] = raw["waiting_fragmented_s"]
        finished = raw["end_s"] is not None
        row["started"] = raw["started"]
        row["finished"] = finished
        row["submitted_s"] = raw["submitted_s"]
        row["time_to_train_s"] = raw["end_s"] - raw["submitted_s"] if finished else math.nan
        row["tokens_trained"] = (raw["progress_s"] * plan.tokens_per_s
                                 if plan.tokens_per_s is not None else math.nan)
        row["samples_trained"] = (raw["progress_s"] * plan.samples_per_s
                                  if plan.samples_per_s is not None else math.nan)
        row.update(goodputs([row]))
        rows.append(row)
    return rows


def goodputs(rows: list[dict]) -> dict[str, float]:
    """Chip-weighted scheduling, runtime, program and overall goodput of job rows."""
    window = sum(r["chips"] * r["window_s"] for r in rows)
    sched_bad = sum(r["chips"] * sum(r[f"{c}_s"] for c in SCHEDULING_BADPUT) for r in rows)
    available = window - sched_bad
    productive = sum(r["chips"] * r["productive_s"] for r in rows)
    useful = sum(r["chips"] * r["productive_s"] * r["mfu"] for r in rows)
    return {
        "scheduling_goodput": available / window if window > 0 else math.nan,
        "runtime_goodput": productive / available if available > 0 else math.nan,
        "program_goodput": useful / productive if productive > 0 else math.nan,
        "goodput": useful / window if window > 0 else math.nan,
    }


def replication_row(rows: list[dict], fleet: dict | None = None) -> dict:
    """The all-jobs row of one replication (chip-weighted goodputs, seconds summed, chips of all
    jobs, the longest window) with the fleet's repair counters."""
    out: dict[str, Any] = {"replication": rows[0]["replication"], "job": "*"}
    out["chips"] = sum(r["chips"] for r in rows)  # every job's chips
    out["slices"] = sum(r["slices"] for r in rows)  # every job's slices; their shapes differ
    out["slice_shape"] = ""
    out["twisted"] = all(r["twisted"] for r in rows)  # like started / finished: every job's
    out["window_s"] = max(r["window_s"] for r in rows)  # the run's window
    out.update(goodputs(rows))
    first = rows[0]
    for c in ALL_CATEGORIES:
        if f"{c}_s" in first:
            out[f"{c}_s"] = sum(r[f"{c}_s"] for r in rows)
    for c in ALL_CAUSES:
        if f"interruptions_{c}" in first:
            out[f"interruptions_{c}"] = sum(r[f"interruptions_{c}"] for r in rows)
    out["interruptions"] = sum(r["interruptions"] for r in rows)
    for c in BY_CAUSE:
        if f"badput_{c}_s" in first:
            out[f"badput_{c}_s"] = sum(r[f"badput_{c}_s"] for r in rows)
    out["skipped_batches"] = sum(r["skipped_batches"] for r in rows)
    for key, n in (fleet or {}).items():
        out[f"fleet_{key}"] = n
    out["waiting_fragmented_s"] = sum(r["waiting_fragmented_s"] for r in rows)
    out["started"] = all(r["started"] for r in rows)
    out["finished"] = all(r["finished"] for r in rows)
    # the run's time to train: first submission to the last job's end
    out["time_to_train_s"] = (max(r["submitted_s"] + r["time_to_train_s"] for r in rows)
                              - min(r["submitted_s"] for r in rows)) if out["finished"] else math.nan
    out["submitted_s"] = min(r["submitted_s"] for r in rows)
    return out


def _mean_ci(values: np.ndarray) -> dict[str, float]:
    mean, half = mean_ci95(values)  # Student-t: honest with few replications
    return {"mean": mean, "ci95": half}


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    done = values[~np.isnan(values)]
    out: dict[str, float | None] = {f"p{round(q * 100)}": None for q in QUANTILES}
    if done.size:
        for q in QUANTILES:
            out[f"p{round(q * 100)}"] = float(np.quantile(done, q))
    out["finished_fraction"] = float(done.size / values.size) if values.size else math.nan
    return out


def summarize(table, *, scenario: str = "", seed: int | None = None) -> dict:
    """The JSON summary over replications from a replication table (DataFrame with one row per
    replication and job, plus the '*' all-jobs rows). Means with 95% confidence half-widths."""
    whole = table[table["job"] == "*"]
    out: dict[str, Any] = {"scenario": scenario, "seed": seed, "replications": int(len(whole))}
    columns = set(table.columns)
    badput = [c for c in BADPUT if f"{c}_s" in columns]
    causes = [c for c in ALL_CAUSES if f"interruptions_{c}" in columns]
    by_cause = [*causes, "none"]
    for key in ("goodput", "scheduling_goodput", "runtime_goodput", "program_goodput"):
        stats = _mean_ci(whole[key].to_numpy(dtype=float))
        out[key] = stats["mean"]
        out[f"{key}_ci95"] = stats["ci95"]
    out["badput"] = {c: float(whole[f"{c}_s"].mean()) for c in badput}
    out["productive_s"] = float(whole["productive_s"].mean())
    # part of waiting_for_resources during which enough free healthy cubes existed in total
    out["waiting_fragmented_s"] = float(whole["waiting_fragmented_s"].mean())
    out["interruptions"] = {c: float(whole[f"interruptions_{c}"].mean()) for c in causes}
    out["interruptions"]["total"] = float(whole["interruptions"].mean())
    out["badput_by_cause"] = {c: float(whole[f"badput_{c}_s"].mean()) for c in by_cause}
    out["skipped_batches"] = float(whole["skipped_batches"].mean())
    out["fleet"] = {c[6:]: float(whole[c].mean()) for c in whole.columns if c.startswith("fleet_")}
    out["time_to_train_s"] = _quantiles(whole["time_to_train_s"].to_numpy(dtype=float))
    jobs = {}
    for name, part in table[table["job"] != "*"].groupby("job", sort=False):
        entry: dict[str, Any] = {k: float(part[k].mean()) for k in
                                 ("goodput", "scheduling_goodput", "runtime_goodput", "program_goodput")}
        entry["badput"] = {c: float(part[f"{c}_s"].mean()) for c in badput}
        entry["interruptions"] = float(part["interruptions"].mean())
        entry["interruptions_by_cause"] = {c: float(part[f"interruptions_{c}"].mean())
                                           for c in causes}
        entry["badput_by_cause"] = {c: float(part[f"badput_{c}_s"].mean()) for c in by_cause}
        entry["waiting_fragmented_s"] = float(part["waiting_fragmented_s"].mean())
        entry["never_started_fraction"] = float(1.0 - part["started"].astype(float).mean())
        entry["time_to_train_s"] = _quantiles(part["time_to_train_s"].to_numpy(dtype=float))
        for unit in ("tokens_trained", "samples_trained"):
            done = part[unit].to_numpy(dtype=float)
            entry[unit] = float(np.nanmean(done)) if np.isfinite(done).any() else None
        jobs[str(name)] = entry
    out["jobs"] = jobs
    return out


def events_frame(result: ReplicationResult, plans: tuple[JobPlan, ...]):
    """The event log as a DataFrame: time_s, kind, job (name or ''), pod, cube, detail."""
    import pandas as pd

    # recovery phases are logged when they end, with their start times: sort (stable)
    frame = pd.DataFrame(sorted(result.events, key=lambda e: e[0]), columns=list(EVENT_COLUMNS))
    names = {i: p.spec.name for i, p in enumerate(plans)}
    frame["job"] = frame["job"].map(lambda j: names.get(j, ""))
    return frame


def healthy_fraction_at_least(result: ReplicationResult, k: int) -> float:
    """Fraction of (pod) time with at least k healthy cubes, averaged over the pods."""
    fractions = []
    for pod in result.pods:
        hist = np.asarray(pod["healthy_hist_s"])
        fractions.append(hist[k:].sum() / hist.sum())
    return float(np.mean(fractions))


def formable_fraction(result: ReplicationResult, pod_index: int, n_cubes: int, can_form) -> float:
    """Fraction of the horizon during which `can_form(healthy_mask)` holds for one pod,
    replaying the cube_down/cube_up events of the log (needs a replication run with log=True).
    `can_form` gets a boolean array of n_cubes and is cached per distinct failure pattern."""
    down = np.zeros(n_cubes, dtype=bool)
    cache: dict[bytes, bool] = {}
    total = 0.0
    last = 0.0

    def ok() -> bool:
        key = down.tobytes()
        if key not in cache:
            cache[key] = bool(can_form(~down))
        return cache[key]

    for t, kind, _job, pod, cube, _detail in result.events:
        if pod != pod_index or kind not in ("cube_down", "cube_up"):
            continue
        if t > last and ok():
            total += t - last
        last = max(last, t)
        down[cube] = kind == "cube_down"
    if result.horizon_s > last and ok():
        total += result.horizon_s - last
    return total / result.horizon_s
