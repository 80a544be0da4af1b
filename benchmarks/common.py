"""What every benchmark script shares: the row format, the printed table, the JSON file.

A benchmark row is a dict with at least

    name         short stable id, e.g. "plan_cli_4096"
    description  what was timed, in words a reader of the README understands
    seconds      the measured figure (median of repeats where the script repeats)
    target_s     the target, or None when the case has no target

and any extra keys the script wants to keep (events per second, interval widths, ...).

`--json FILE` writes {"benchmark", "command", "date", "machine", "rows"}; the files committed in
`benchmarks/results/` are the ones `benchmarks/render.py` turns into the README's benchmark
table, so the README never holds a hand-typed timing.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REQUIRED = ("name", "description", "seconds", "target_s")


def check_rows(rows: Sequence[dict[str, Any]]) -> None:
    """Raise ValueError when a row lacks one of the required keys."""
    for row in rows:
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise ValueError(f"benchmark row {row.get('name', row)!r} lacks {', '.join(missing)}")


def met(row: dict[str, Any]) -> str:
    """'yes', 'NO' or '-' (no target)."""
    if row["target_s"] is None:
        return "-"
    return "yes" if row["seconds"] <= row["target_s"] else "NO"


def print_table(rows: Sequence[dict[str, Any]], *, file=sys.stdout) -> None:
    """The rows as a plain-text table (benchmark scripts are not library code: they print)."""
    check_rows(rows)
    width = max(len(r["description"]) for r in rows)
    print(f"{'case':<{width}}  {'seconds':>9}  {'target':>8}  met", file=file)
    for r in rows:
        target = "-" if r["target_s"] is None else f"{r['target_s']:.3g}"
        print(f"{r['description']:<{width}}  {r['seconds']:9.4g}  {target:>8}  {met(r)}", file=file)


def machine() -> dict[str, Any]:
    """Where the figures were measured, and how busy the machine was (1-minute load average:
    other processes competing for the CPUs slow every benchmark)."""
    return {"python": platform.python_version(), "system": platform.system(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def write_json(path: str | os.PathLike, benchmark: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write the rows with the benchmark's name, the command that made them, date and machine."""
    check_rows(rows)
    args = list(sys.argv[1:])
    if "--json" in args:  # the command that measured, without where it wrote
        i = args.index("--json")
        del args[i:i + 2]
    doc = {
        "benchmark": benchmark,
        "command": " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *args]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "rows": list(rows),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, default=float)
        fh.write("\n")


def finish(benchmark: str, rows: Sequence[dict[str, Any]], json_path: str | None) -> int:
    """Print the table, write JSON if asked; exit status 1 when a target is missed."""
    print_table(rows)
    if json_path:
        write_json(json_path, benchmark, rows)
    return 1 if any(met(r) == "NO" for r in rows) else 0
