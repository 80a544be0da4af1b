"""The documentation stays true to the repository: generated tables are current, links resolve,
nothing cites a file outside the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_benchmark_table_is_generated_from_results():
    """README's benchmark table equals what benchmarks/render.py builds from benchmarks/results."""
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "render.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (doc.parent / t).exists()]
    assert missing == []


def test_repository_cites_nothing_outside_itself():
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    outside = "shared"  # the design notes beside the repository, which a clone does not have
    notes = "hardware|validation|peers|stack-notes|DESIGN"  # their files, cited by bare name
    pattern = re.compile(rf"\.\./{outside}|{outside}/reference|{outside}/DESIGN"
                         rf"|(?<![\w/-])({notes})\.md|(?<![\w/-])sparsecore\.md")
    text_files = [REPO / n for n in listed.stdout.splitlines()
                  if Path(n).suffix in {".py", ".md", ".toml", ".ipynb", ".c", ".h", ".sh", ""}]
    offenders = [str(p.relative_to(REPO)) for p in text_files
                 if p.is_file() and pattern.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert offenders == []


def _documented_estimates() -> list[str]:
    """Every `tpusim estimate ...` line in a code block of the README and docs/*.md, without its
    comment and optional `[...]` parts; lines that write a file (--chart) are left out."""
    lines = []
    for doc in DOCS:
        blocks = re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
        for block in blocks:
            for line in block.splitlines():
                line = re.sub(r"\[[^\]]*\]", "", line.split("#")[0]).strip()
                if line.startswith("tpusim estimate ") and "--chart" not in line:
                    lines.append(line)
    return sorted(set(lines))


@pytest.mark.parametrize("command", _documented_estimates())
def test_documented_estimate_commands_run(command):
    """A user copies these from the docs: each must run (it once named a placement the file's
    chip cannot run)."""
    import shlex

    from conftest import run_main

    result = run_main(*shlex.split(command)[1:], "--json")
    assert result.returncode == 0, result.stderr


def test_every_event_log_kind_is_documented():
    """The event log (`simulate --out` with one replication) is a contract: every kind the
    simulator writes, and its columns, are named in docs/simulate.md and docs/contract.md."""
    from tpusim.sim.world import EVENT_COLUMNS

    source = "\n".join(p.read_text() for p in (REPO / "tpusim" / "sim").glob("*.py"))
    kinds = set(re.findall(r'\blog\("([a-z_]+)"', source))
    kinds |= set(re.findall(r'events\.append\(\([^,]+, "([a-z_]+)"', source))
    assert {"state", "swap", "rejoin", "cube_down", "checkpoint"} <= kinds  # the patterns still match
    for doc in ("simulate.md", "contract.md"):
        text = (REPO / "docs" / doc).read_text()
        assert [k for k in sorted(kinds) if f"`{k}`" not in text] == [], doc
        assert [c for c in EVENT_COLUMNS if f"`{c}`" not in text] == [], doc
