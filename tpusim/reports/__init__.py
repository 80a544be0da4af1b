"""Reports: inputs (files to run, results written earlier, a planner question) -> one
self-contained HTML file, or Markdown with image files.

    import tpusim
    tpusim.report(["palm-540b-50d", "scenarios/sweeps/palm-checkpoint-interval.toml"],
                  out="report.html", availability=[0.99, 0.999])

Modules: collect (what each input is, and running or reading it), sections (key numbers,
figures and tables of one input), render (HTML and Markdown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tpusim.errors import TpusimError

FORMATS = ("html", "md")


@dataclass(frozen=True)
class ReportResult:
    """A written report: its file, format, the inputs (with hashes) and every key number."""

    out: Path
    format: str
    inputs: tuple[Any, ...]
    numbers: tuple[tuple[str, str, str], ...]  # (section, label, value)
    figures: int

    def to_frame(self):
        """The key numbers: one row per (section, figure label, value)."""
        import pandas as pd

        return pd.DataFrame(list(self.numbers), columns=["section", "label", "value"])


def report_format(out: Path, fmt: str | None) -> str:
    """The format asked for, or the one the output name implies (.html; a folder for md)."""
    if fmt is None:
        fmt = "html" if out.suffix.lower() in (".html", ".htm") else "md" if out.suffix == "" else None
        if fmt is None:  # neither a .html file nor a folder, and no format given
            raise TpusimError(f"out {str(out)!r}: a report is a .html file, or a folder with format "
                              f"md (report.md and figures/); rename it", params=("out", "format"))
    if fmt not in FORMATS:
        raise TpusimError(f"format must be html (out: a .html file) or md (out: a folder), got "
                          f"{fmt!r} for out {str(out)!r}", params=("format", "out"))
    if fmt == "html" and out.suffix.lower() not in (".html", ".htm"):
        raise TpusimError(f"out {str(out)!r}: an HTML report needs a .html file name", params=("out",))
    if fmt == "md" and out.suffix:
        raise TpusimError(f"out {str(out)!r}: a Markdown report is a folder (report.md and "
                          f"figures/); give a folder name", params=("out",))
    return fmt


def build_report(inputs: Sequence[str | Path], *, out: str | Path, format: str | None = None,
                 chips: int | None = None, availability: Sequence[float] | None = None,
                 replications: int | None = None, workers: int | None = None,
                 title: str | None = None, command: str | None = None,
                 on_step: Callable[[str], None] | None = None) -> ReportResult:
    """Run or read every input, then write the report. Inputs are checked (resolved and
    classified) before anything runs; nothing is written when one of them is bad."""
    from tpusim.data import tpusim_version
    from tpusim.reports.collect import collect, identify
    from tpusim.reports.render import html_report, markdown_report

    out = Path(out)
    fmt = report_format(out, format)
    if not inputs and chips is None and not availability:
        raise TpusimError("a report needs inputs (files or shipped names) or a planner question "
                          "(chips, availability)", params=("chips", "availability"))
    items = [identify(i) for i in inputs]
    sections = collect(items, chips=chips, availability=list(availability) if availability else None,
                       replications=replications, workers=workers, on_step=on_step)
    title = title or "tpusim report: " + ", ".join(s.title for s in sections)
    version = tpusim_version()
    command = command or "tpusim.report(...)"
    if fmt == "html":
        out.parent.mkdir(parents=True, exist_ok=True)
        text = html_report(sections, items, title=title, version=version, command=command)
        out.write_text(text, encoding="utf-8")
        written = out
    else:
        written = markdown_report(sections, items, out, title=title, version=version, command=command)
    for s in sections:  # the figures are written: free their memory
        for _, fig in s.figures:
            fig.clear()
    numbers = tuple((s.title, label, value) for s in sections for label, value in s.numbers)
    return ReportResult(written, fmt, tuple(items), numbers, sum(len(s.figures) for s in sections))


def report(inputs: Any = (), *, out: str | Path, format: str | None = None,
           chips: int | None = None, availability: Sequence[float] | float | None = None,
           replications: int | None = None, workers: int | None = None,
           progress: bool | None = None):
    """`tpusim report`: run (TOML files, shipped names) or read (results files, --json outputs)
    the inputs, add a planner section for `chips`/`availability`, and write one report: a
    self-contained HTML file (`out="report.html"`) or Markdown and PNGs (`out="DIR"`,
    `format="md"`). Returns a ReportResult whose `.to_frame()` lists the key numbers."""
    from tpusim.api import progress_bar

    items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    levels = None
    if availability is not None:
        levels = [availability] if isinstance(availability, int | float) else list(availability)
    steps = len(items) + (1 if chips is not None or levels else 0)
    with progress_bar("report", steps, progress) as advance:
        return build_report(items, out=out, format=format, chips=chips, availability=levels,
                            replications=replications, workers=workers,
                            on_step=(lambda what: advance(1, what)) if advance else None)
