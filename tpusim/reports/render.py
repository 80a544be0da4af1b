"""Sections -> one self-contained HTML file, or Markdown plus image files.

HTML: figures are SVG data URIs (text kept as text inside each SVG; no id clashes between
figures), tables are HTML tables, the style sheet is inline; nothing is fetched from a network.
The page opens with the key numbers of every section and ends with the inputs and their SHA-256,
the seeds and the tpusim version. Markdown: `report.md` beside `figures/NN-*.png`.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

from tpusim.reports.collect import Input
from tpusim.reports.sections import Section

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.source { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f5f8; } td:first-child, th:first-child { text-align: left; }
table.summary td:last-child { font-weight: 600; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
footer { margin-top: 3em; border-top: 1px solid #ddd; color: #555; font-size: 0.85em; }
code { font-size: 0.95em; }
.wide { overflow-x: auto; max-width: 100%; }
"""


def _svg(fig) -> bytes:
    from tpusim.charts.style import _rc

    buf = io.BytesIO()
    with _rc():
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _png(fig) -> bytes:
    from tpusim.charts.style import DPI, _rc

    buf = io.BytesIO()
    with _rc():
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _table_html(frame) -> str:
    """A table in a box that scrolls sideways: a wide sweep table stays inside the page."""
    return '<div class="wide">' + frame.to_html(index=False, border=0, na_rep="", escape=True) + "</div>"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "figure"


def html_report(sections: list[Section], inputs: list[Input], *, title: str, version: str,
                command: str) -> str:
    """The whole report as one HTML document (a string)."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>", "<h2 id=\"summary\">Key numbers</h2><table class=\"summary\">"]
    for s in sections:
        for label, value in s.numbers:
            parts.append(f"<tr><td>{e(label)}</td><td>{e(value)}</td></tr>")
    parts.append("</table>")
    n = 0
    for i, s in enumerate(sections):
        parts.append(f"<section id=\"section-{i}\"><h2>{e(s.title)}</h2>"
                     f"<p class=\"source\">from {e(s.source)}</p>")
        for caption, fig in s.figures:
            n += 1
            data = base64.b64encode(_svg(fig)).decode("ascii")
            parts.append(f"<figure id=\"figure-{n}\"><img alt=\"{e(caption)}\" "
                         f"src=\"data:image/svg+xml;base64,{data}\">"
                         f"<figcaption>Figure {n}. {e(caption)}</figcaption></figure>")
        for table_title, frame in s.tables:
            parts.append(f"<h3>{e(table_title)}</h3>{_table_html(frame)}")
        parts.append("</section>")
    parts.append(_footer_html(sections, inputs, version=version, command=command))
    parts.append("</body></html>")
    return "\n".join(parts)


def _footer_html(sections: list[Section], inputs: list[Input], *, version: str, command: str) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(i.given)}</td><td>{e(i.kind)}</td><td><code>{e(str(i.path))}</code></td>"
                   f"<td><code>{i.sha256}</code></td></tr>" for i in inputs)
    seeds = "".join(f"<li>{e(seed)}</li>" for s in sections for seed in s.seeds)
    return (f"<footer><h2>Inputs and reproducibility</h2>"
            f"<table><tr><th>input</th><th>kind</th><th>file</th><th>SHA-256</th></tr>{rows}</table>"
            f"<ul>{seeds}</ul><p>Made by <code>{e(command)}</code> with tpusim {e(version)}.</p></footer>")


def markdown_report(sections: list[Section], inputs: list[Input], folder: Path, *, title: str,
                    version: str, command: str) -> Path:
    """Write `folder/report.md` and `folder/figures/NN-*.png`; returns the Markdown file."""
    figures = folder / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", "", "## Key numbers", "", "| figure | value |", "|---|---|"]
    lines += [f"| {_md(label)} | {_md(value)} |" for s in sections for label, value in s.numbers]
    n = 0
    for s in sections:
        lines += ["", f"## {s.title}", "", f"*from {_md(s.source)}*", ""]
        for caption, fig in s.figures:
            n += 1
            name = f"{n:02d}-{_slug(s.title)}.png"
            (figures / name).write_bytes(_png(fig))
            lines += [f"![Figure {n}. {_md(caption)}](figures/{name})", "",
                      f"*Figure {n}. {_md(caption)}*", ""]
        for table_title, frame in s.tables:
            lines += [f"### {table_title}", "", _md_table(frame), ""]
    lines += ["", "## Inputs and reproducibility", "", "| input | kind | SHA-256 |", "|---|---|---|"]
    lines += [f"| {_md(i.given)} | {i.kind} | `{i.sha256}` |" for i in inputs]
    lines += [""] + [f"- {seed}" for s in sections for seed in s.seeds]
    lines += ["", f"Made by `{command}` with tpusim {version}.", ""]
    out = folder / "report.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(frame) -> str:
    head = "| " + " | ".join(_md(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join("" if v is None or v != v else _md(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
