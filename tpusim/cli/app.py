"""The typer application every command registers on (`@app.command()` in its own module)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tpusim",
    help="Simulator and topology planner for distributed training on TPU pods.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
