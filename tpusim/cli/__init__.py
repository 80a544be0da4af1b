"""The `tpusim` command line: each command parses, calls one library function, renders.

Errors: a TpusimError (bad input) becomes one line on stderr and exit code 2, no traceback.
Each command lives in its own module and registers itself on `app`.
"""

from __future__ import annotations

import sys

import typer

from tpusim.errors import TpusimError

app = typer.Typer(
    name="tpusim",
    help="Simulator and topology planner for distributed training on TPU pods.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules register themselves on `app` when imported.
from tpusim.cli import catalog as _catalog  # noqa: E402,F401
from tpusim.cli import topology as _topology  # noqa: E402,F401

for _optional in ("plan", "estimate", "simulate", "sweep", "report"):
    try:
        __import__(f"tpusim.cli.{_optional}")
    except ModuleNotFoundError as _exc:  # command not built yet
        if _exc.name != f"tpusim.cli.{_optional}":
            raise


def main() -> None:
    """Entry point: run the app, turning input errors into one stderr line and exit code 2."""
    try:
        app()
    except TpusimError as exc:
        print(f"tpusim: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("tpusim: interrupted", file=sys.stderr)
        sys.exit(130)
