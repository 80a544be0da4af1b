"""`tpusim validate`: the models against published figures, one table per area.

Exit code 0 when every figure is within its tolerance or a known miss; 1 when any fails.
"""

from __future__ import annotations

import typer

from tpusim.cli.app import app
from tpusim.cli.render import console, print_json, table

EXAMPLES = """Examples:

  tpusim validate                        # every published figure, about 5 s

  tpusim validate --area estimate,plan --json | jq '.rows[] | select(.status != "ok") | .id'
"""

TITLES = {"estimate": "estimate: dense LLMs (step time, MFU, FLOPs)",
          "embeddings": "embeddings: DLRM on SparseCores",
          "plan": "plan: cube and pod availability",
          "simulate": "simulate: goodput with failures (seeded replications)"}
STATUS_TEXT = {"ok": "ok", "known_miss": "known miss", "fixed": "ok (was a known miss)",
               "fail": "FAIL"}


def fmt_value(value: float, unit: str) -> str:
    """A published or model value in its unit, as a reader writes it."""
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if unit == "probability":
        return f"{value:.4g}"
    if unit == "x":
        return f"{value:.3g}x"
    if unit == "s":
        return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.4g} s"
    if unit == "bytes":
        return f"{value / 1e9:.4g} GB"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{prefix} {unit}"
    return f"{value:.4g} {unit}"


@app.command(epilog=EXAMPLES)
def validate(
    area: list[str] = typer.Option(
        None, "--area", help="estimate, embeddings, plan or simulate; repeat the option or give a "
                             "comma list (default: every area)."),
    workers: int | None = typer.Option(None, "--workers", help="Simulator processes (default: CPUs)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The models against published numbers: published, model, error, tolerance, status.

    Exit code 0 when every figure is within tolerance or a known miss, 1 when any fails."""
    from tpusim.api import validate as run

    result = run(area or None, workers=workers, progress=False if json_out else None)
    if json_out:
        print_json(result.to_dict())
    else:
        _render(result)
    if not result.passed:
        raise typer.Exit(1)


def _render(result) -> None:
    out = console()
    for area in result.areas:
        checks = [c for c in result.checks if c.figure.area == area]
        rows = []
        for c in checks:
            f = c.figure
            published = fmt_value(f.published, f.unit)
            if f.published_high is not None:
                published += f" - {fmt_value(f.published_high, f.unit)}"
            what = f"{f.workload}: {f.figure}" if f.workload != "-" else f"{f.figure}: {f.system}"
            rows.append((f.id, what, published, fmt_value(c.measured.value, f.unit),
                         c.error_text(), c.tolerance_text(), STATUS_TEXT[c.status]))
        seconds = sum(c.seconds for c in checks)
        out.print(table(f"{TITLES[area]} ({len(checks)} figures, {seconds:.1f} s)",
                        ["id", "figure", "published", "model", "error", "tolerance", "status"],
                        rows, justify_right_from=2))
    notes = [c for c in result.checks if c.status != "ok"]
    for c in notes:
        why = "; ".join(c.measured.problems) or c.figure.known_miss or "outside its tolerance"
        if c.status == "fixed":
            why = "within tolerance now: the known-miss mark is stale"
        out.print(f"{c.figure.id} ({STATUS_TEXT[c.status]}): {why}", highlight=False, markup=False)
    n = result.counts
    out.print(f"{n['ok'] + n['fixed']} ok, {n['known_miss']} known misses, {n['fail']} failed "
              f"({result.seconds:.1f} s); sources and every figure's details: --json",
              highlight=False, markup=False)
