"""The `tpusim` command line: each command parses, calls one library function, renders.

Errors: a TpusimError (bad input) becomes one line on stderr and exit code 2, no traceback.
Each command lives in its own module and registers itself on `app` (`tpusim/cli/app.py`).
"""

from __future__ import annotations

import sys

import typer

from tpusim.cli import (  # noqa: F401 (registers)
    catalog,
    estimate,
    plan,
    report,
    simulate,
    sweep,
    topology,
    validate,
)
from tpusim.cli.app import app
from tpusim.errors import TpusimError
from tpusim.pool import WorkerDied


def main() -> None:
    """Entry point: run the app; every input problem becomes one stderr line and exit code 2.

    Handled here, once for every command: TpusimError (bad input), usage errors from the
    option parser, files that cannot be written (OSError), Ctrl-C (exit 130; what a command
    already wrote stays on disk), and a worker process that died (exit 1, the same).
    """
    try:  # typer >= 0.16 vendors click; older typer uses click itself
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click.exceptions import UsageError

    try:
        code = app(standalone_mode=False)  # Ctrl-C comes back as exit code 130, --help as 0
    except TpusimError as exc:
        _fail(as_flags(str(exc), exc.params))
    except UsageError as exc:
        if not exc.format_message().strip():  # no arguments at all: the help was shown
            sys.exit(2)
        command = exc.ctx.command_path if exc.ctx is not None else "tpusim"
        _fail(f"{exc.format_message()} (see `{command} --help`)")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _interrupted()
    except WorkerDied as exc:
        print(f"tpusim: error: {exc}; results already written are kept (a sweep continues with --resume)",
              file=sys.stderr)
        sys.exit(1)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _fail(f"cannot access{where}: {exc.strerror or exc} (check the path and its permissions)")
    if code == INTERRUPTED_EXIT_CODE:
        _interrupted()
    if isinstance(code, int) and not isinstance(code, bool):
        sys.exit(code)


INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, the shell convention

# Python parameter -> command-line flag, where the flag is not `--` + the name with dashes.
FLAG_OF = {"n_slices": "--slices", "slice_shape": "--slice", "host_availability": "--availability",
           "chips_per_slice": "--chips", "global_batch_seqs": "--global-batch",
           "check_limits=False": "--no-limits"}


def as_flags(message: str, params: tuple[str, ...]) -> str:
    """A library message with each named parameter written as the flag a CLI user types: the
    name in backticks (`chips`) where the message marks it so, else every bare word `name`."""
    import re

    for name in params:
        flag = FLAG_OF.get(name, "--" + name.replace("_", "-"))
        if f"`{name}`" in message:
            message = message.replace(f"`{name}`", flag)
        else:
            message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message)
    return message


def _interrupted() -> None:
    print("tpusim: interrupted; results already written are kept", file=sys.stderr)
    sys.exit(INTERRUPTED_EXIT_CODE)


def _fail(message: str) -> None:
    print(f"tpusim: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)
