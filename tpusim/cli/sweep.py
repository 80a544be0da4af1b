"""`tpusim sweep`: run a grid of estimate / plan / simulate points, streaming rows to a file."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tpusim.cli.app import app
from tpusim.cli.render import console, print_json, table
from tpusim.errors import TpusimError

EXAMPLES = """Examples:

  tpusim sweep palm-checkpoint-interval --out runs/ckpt.csv        # a shipped sweep, by name

  tpusim sweep my-sweep.toml --backend ray --address auto --resume  # on a running Ray cluster
"""


@app.command(epilog=EXAMPLES)
def sweep(
    sweep_file: str = typer.Argument(
        ..., help="Sweep TOML (a [sweep] table: kind, base, out; a [grid]) or a shipped sweep name."),
    backend: str = typer.Option("local", "--backend", help="local (process pool) or ray."),
    out: Path | None = typer.Option(
        None, "--out", help="Results .csv or .jsonl (default: the sweep file's out)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Skip points already in --out and append."),
    workers: int | None = typer.Option(
        None, "--workers", help="Points at once (default: the CPUs of this machine or Ray cluster)."),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster to connect to (host:port or auto; default RAY_ADDRESS)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable summary."),
    no_limits: bool = typer.Option(
        False, "--no-limits", help="Run grids and points above the work limits (tpusim.limits)."),
) -> None:
    """Run every point of a parameter grid; rows are written as they finish, so --resume continues."""
    from tpusim.limits import check_workers
    from tpusim.sweeps import as_spec, point_id, points, run_sweep, to_frame

    if workers is not None:
        check_workers(workers)
    spec = as_spec(sweep_file)
    target = out or spec.out
    if target is None:
        raise TpusimError(f"{sweep_file}: no output file; pass --out runs/NAME.csv or set [sweep] out")
    show_bar = sys.stderr.isatty() and not json_out
    if show_bar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console().__class__(stderr=True)) as bar:
            task = bar.add_task(f"sweep {spec.name}", total=spec.size)
            result = run_sweep(spec, target, backend=backend, workers=workers, resume=resume,
                               address=address, check_limits=not no_limits,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        result = run_sweep(spec, target, backend=backend, workers=workers, resume=resume,
                           address=address, check_limits=not no_limits)
    summary = {"sweep": spec.name, "kind": spec.kind, "out": str(result.out),
               "total_points": result.total_points, "ran_points": result.ran_points,
               "skipped_points": result.skipped_points, "errors": result.errors}
    failed_all = result.ran_points > 0 and result.errors >= result.ran_points
    if json_out:
        print_json(summary)
        if failed_all:
            raise typer.Exit(1)
        return
    out_console = console()
    out_console.print(
        f"sweep {spec.name}: {result.ran_points} point(s) run, {result.skipped_points} already done, "
        f"{result.errors} with errors -> {result.out}"
    )
    frame = to_frame(result.out)
    if "point_id" in frame.columns:  # the file is in finishing order; show the grid's order
        order = {point_id(p): i for i, p in enumerate(points(spec))}
        frame = frame.sort_values("point_id", key=lambda ids: ids.map(order), kind="stable")
    # grid keys with one value are the same on every row: said once, under the table
    varying = [k for k, v in spec.grid.items() if len(v) > 1 and k in frame.columns]
    fixed = [f"{k} = {_fmt(v[0])}" for k, v in spec.grid.items() if len(v) == 1]
    shown = [c for c in frame.columns if c in varying or c == "job"] + [
        c for c in ("mfu", "step_time_s", "tokens_per_s", "samples_per_s", "bottleneck", "fits_in_hbm",
                    "slice_chips",
                    "p_schedulable_ocs", "goodput_ocs", "goodput", "runtime_goodput", "error")
        if c in frame.columns]
    notes = [("at every point: " + ", ".join(fixed))] if fixed else []
    if "job" in frame.columns and frame.loc[frame["job"] != "*", "job"].nunique() == 1:
        frame = frame[frame["job"] != "*"]  # one job: its all-jobs '*' row says the same again
        notes.append("one job, so the all-jobs rows (job '*') are left out; the file has them")
    head = frame[shown].head(20)
    names = short_names(varying)
    out_console.print(table(f"first {len(head)} of {len(frame)} rows", [names.get(c, c) for c in shown],
                            [[_fmt(v) for v in row] for row in head.itertuples(index=False)],
                            caption="; ".join(notes) or None))
    if failed_all:  # nothing useful was computed: say so with the exit code
        raise typer.Exit(1)


def short_names(keys: list[str]) -> dict[str, str]:
    """Each dotted grid key by its shortest ending that no other key shares, so that a column
    header is not cut to the same 'failures.straggl…' as its neighbours.

    >>> list(short_names(["failures.straggler.slowdown", "recovery.checkpoint_save_s", "chips"]).values())
    ['slowdown', 'checkpoint_save_s', 'chips']
    >>> short_names(["jobs.0.slice", "jobs.1.slice"])
    {'jobs.0.slice': '0.slice', 'jobs.1.slice': '1.slice'}
    """
    def ending(key: str, n: int) -> str:
        return ".".join(key.split(".")[-n:])

    out = {}
    for key in keys:
        n = 1
        while n < key.count(".") + 1 and any(
                ending(other, n) == ending(key, n) for other in keys if other != key):
            n += 1
        out[key] = ending(key, n)
    return out


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)
