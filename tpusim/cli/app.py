"""The typer application every command registers on (`@app.command()` in its own module)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tpusim",
    help="Simulator and topology planner for distributed training on TPU pods.",
    no_args_is_help=True,
    epilog="Example: tpusim plan --chips 4096 --availability 0.995  (each command's --help has more)",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from tpusim import __version__

        typer.echo(f"tpusim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the tpusim version and exit."),
) -> None:
    """Simulator and topology planner for distributed training on TPU pods."""
