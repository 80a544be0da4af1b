"""Shared test helpers. `run_cli(*args)` runs the real `tpusim` entry point in a subprocess
(the way a user runs it) and returns (exit code, stdout, stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", COLUMNS="160")
    return subprocess.run(
        [sys.executable, "-m", "tpusim", *args],
        capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=timeout,
    )


@pytest.fixture
def cli():
    """The `run_cli` helper as a fixture."""
    return run_cli


def assert_clean_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit code 2, exactly one line on stderr, no traceback, mentioning every needle."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])


def run_main(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `tpusim.cli.main` in this process (fast: no interpreter start-up) and return what a
    subprocess would: exit code, stdout, stderr. For error paths and quick commands."""
    import contextlib
    import io

    from tpusim.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, Path.cwd()
    sys.argv = ["tpusim", *args]
    code = 0
    try:
        os.chdir(cwd or REPO)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return subprocess.CompletedProcess(["tpusim", *args], code, out.getvalue(), err.getvalue())
