"""Build the README's benchmark table from the JSON files in `benchmarks/results/`.

    python benchmarks/bench_plan.py --json benchmarks/results/plan.json   # (each benchmark)
    python benchmarks/render.py            # rewrite the table between the README markers
    python benchmarks/render.py --check    # exit 1 if the README's table is stale

The table sits between `<!-- benchmarks:begin -->` and `<!-- benchmarks:end -->` in README.md;
nothing else in the README holds a measured time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import check_rows, met  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BEGIN = "<!-- benchmarks:begin -->"
END = "<!-- benchmarks:end -->"


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} us"


def table(results_dir: Path = RESULTS) -> str:
    """The markdown table of every results file, in file-name order."""
    lines = [
        "| benchmark | case | target | measured | met | measured on |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted(results_dir.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        check_rows(doc["rows"])
        load = doc["machine"].get("load_average_1min")
        where = f"{doc['date']}, {doc['machine']['cpus']} CPUs" + ("" if load is None else f", load {load:g}")
        for row in doc["rows"]:
            lines.append(
                f"| `{doc['command']}` | {row['description']} | {_fmt_s(row['target_s'])} | "
                f"{_fmt_s(row['seconds'])} | {met(row)} | {where} |"
            )
    return "\n".join(lines)


def render(readme_text: str, results_dir: Path = RESULTS) -> str:
    """`readme_text` with the table between the markers replaced."""
    head, sep, rest = readme_text.partition(BEGIN)
    if not sep or END not in rest:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table(results_dir)}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = render(old)
    if args.check:
        if new != old:
            print("README.md's benchmark table is stale: run python benchmarks/render.py")
            return 1
        return 0
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
