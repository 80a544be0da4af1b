"""`tpusim report`: turn inputs into one self-contained report (HTML, or Markdown and images)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from tpusim.cli.app import app
from tpusim.cli.render import console, print_json

EXAMPLES = """Examples:

  tpusim report palm-540b-50d palm-checkpoint-interval --replications 50 --out report.html

  tpusim report runs/ckpt.csv runs/palm.json --availability 0.99,0.995,0.999 --out report --format md
"""


@app.command(epilog=EXAMPLES)
def report(
    inputs: list[str] = typer.Argument(
        None, help="Scenario, workload or sweep TOML files or shipped names (run, then reported), "
                   "or results: sweep .csv/.jsonl/.parquet, simulate --out tables, --json outputs."),
    out: Path = typer.Option(..., "--out", help="report.html (one self-contained file) or a folder "
                                                "with --format md."),
    fmt: str | None = typer.Option(None, "--format", help="html or md (default: from --out)."),
    chips: int | None = typer.Option(None, "--chips", help="Add a planner section for this pod size."),
    availability: str | None = typer.Option(
        None, "--availability", help="Host availabilities for the planner section, e.g. 0.99,0.999."),
    replications: int | None = typer.Option(
        None, "--replications", "-n", help="Replications for scenarios (default: each scenario's)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes (default: CPUs)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """One report from runs and results: key numbers, figures, tables, inputs with hashes."""
    from tpusim.api import progress_bar
    from tpusim.cli.plan import availability_levels
    from tpusim.reports import build_report

    levels = availability_levels(availability) if availability is not None else None
    items = list(inputs or [])
    steps = len(items) + (1 if chips is not None or levels else 0)
    command = "tpusim report " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    with progress_bar("report", steps, None if not json_out else False) as advance:
        result = build_report(items, out=out, format=fmt, chips=chips, availability=levels,
                              replications=replications, workers=workers, command=command,
                              on_step=(lambda what: advance(1, what)) if advance else None)
    if json_out:
        print_json({"out": str(result.out), "format": result.format, "figures": result.figures,
                    "inputs": [{"input": i.given, "kind": i.kind, "path": str(i.path),
                                "sha256": i.sha256} for i in result.inputs],
                    "numbers": [{"section": s, "label": label, "value": v}
                                for s, label, v in result.numbers]})
        return
    from rich.markup import escape

    con = console()
    for _section, label, value in result.numbers:  # labels may hold [brackets]: not markup
        con.print(f"{escape(label)}: [bold]{escape(value)}[/bold]", highlight=False)
    con.print(f"wrote {result.format} report with {result.figures} figures to {result.out}")
