"""`tpusim plan`: which slice sizes a pod can schedule, with OCS and on a static torus."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tpusim import defaults, limits
from tpusim.cli.app import app
from tpusim.errors import TpusimError

EXAMPLES = """Examples:

  tpusim plan --chips 4096 --availability 0.995

  tpusim plan --availability 0.99,0.995,0.999 --chart goodput.svg   # the TPU v4 paper's figure

  tpusim plan --slice 8x16x16 --faulty-cubes 3,17,42 --then-fail 0 --chart cubes.png
"""


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise TpusimError(
            f"cannot read {what} {text!r}; write whole numbers separated by commas, e.g. 3,17,42"
        ) from None


def availability_levels(text: str) -> list[float]:
    """'0.99,0.995' -> [0.99, 0.995] (one or more host availabilities, in the order given)."""
    try:
        levels = [float(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise TpusimError(f"cannot read --availability {text!r}; write one or more numbers in "
                          f"(0, 1] separated by commas, e.g. 0.995 or 0.99,0.995,0.999") from None
    if not levels:
        raise TpusimError("--availability needs at least one number, e.g. 0.995")
    return list(dict.fromkeys(levels))


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _num(x: float) -> str:
    """Three decimals; a value too small for them but not zero (a whole pod at 99% hosts:
    3.4e-05) in scientific notation, so 0.000 means zero."""
    return f"{x:.1e}" if 0 < x < 0.0005 else f"{x:.3f}"


def _prob(x: float) -> str:
    """A probability: 1.000 only for 1 (up to floating-point rounding, 1e-9), four decimals
    where three would round up to 1.000, and >0.9999 above that."""
    if x >= 1 - 1e-9:
        return "1.000"
    if x >= 0.99995:
        return ">0.9999"
    return f"{x:.4f}" if x >= 0.9995 else _num(x)


@app.command(epilog=EXAMPLES)
def plan(
    chips: int | None = typer.Option(
        None, "--chips",
        help=f"Pod size in chips (default {defaults.POD_CHIPS}: v4; 8960: v5p; 9216: v7)."),
    availability: str = typer.Option(
        str(defaults.HOST_AVAILABILITY), "--availability",
        help="Host availability in (0, 1], e.g. 0.995; several separated by commas.",
    ),
    generation: str | None = typer.Option(
        None, "--generation",
        help="Chip generation when --chips is ambiguous.",
    ),
    pod_name: str | None = typer.Option(
        None, "--pod",
        help="Pod name or pod TOML file (instead of --chips).",
    ),
    target: float | None = typer.Option(
        None, "--target",
        help="Schedulability target, e.g. 0.99: largest slice and spare cubes.",
    ),
    slice_shape: str | None = typer.Option(
        None, "--slice",
        help="One slice shape in chips, e.g. 8x16x24, or a Cloud TPU name like v4-128 "
             "(default: all sizes).",
    ),
    slices: int = typer.Option(1, "--slices", help="Disjoint slices of --slice wanted at once."),
    faulty_cubes: str | None = typer.Option(
        None, "--faulty-cubes",
        help="Faulty cube ids, e.g. 3,17,42: a concrete assignment.",
    ),
    faulty_hosts: str | None = typer.Option(
        None, "--faulty-hosts",
        help="Faulty host ids; their cubes count as faulty.",
    ),
    then_fail: int | None = typer.Option(
        None, "--then-fail",
        help="Then this cube fails: re-form the first slice around it.",
    ),
    samples: int = typer.Option(
        defaults.PLAN_SAMPLES, "--samples",
        help="Monte Carlo failure patterns for the static model.",
    ),
    seed: int = typer.Option(defaults.SEED, "--seed", min=0,
                             help="Random seed for the static model's patterns."),
    chip_availability: float = typer.Option(
        1.0, "--chip-availability",
        help="Per-chip availability (1 = chips fail only with hosts).",
    ),
    ocs_availability: float = typer.Option(
        1.0, "--ocs-availability",
        help="Per-OCS availability (every cube slice uses every OCS).",
    ),
    domain_cubes: int = typer.Option(
        1, "--domain-cubes",
        help="Cubes per correlated failure domain (rack row, power).",
    ),
    domain_availability: float = typer.Option(
        1.0, "--domain-availability",
        help="Availability of each failure domain.",
    ),
    chart: Path | None = typer.Option(
        None, "--chart",
        help="Figure to FILE (.png, .svg, .pdf): goodput vs slice size, or the cube map "
             "with --faulty-cubes.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    csv_out: bool = typer.Option(False, "--csv", help="Rows as CSV."),
    no_limits: bool = typer.Option(
        False, "--no-limits",
        help=f"Allow more than {limits.PLAN_SAMPLES:,} --samples, or a pod of more than "
             f"{limits.PLAN_STATIC_CUBES} cubes."),
) -> None:
    """Slice sizes a pod can count on: P(schedulable) and goodput, with OCS and on a static torus."""
    if json_out and csv_out:
        raise TpusimError("--json and --csv both print to stdout; give one of them")
    if chart is not None and chart.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise TpusimError(f"--chart {chart}: use a .png, .svg or .pdf file name")
    levels = availability_levels(availability)
    kwargs = {"chips": chips, "pod": pod_name, "generation": generation, "slice": slice_shape,
              "slices": slices, "target": target, "samples": samples, "seed": seed,
              "faulty_cubes": _int_list(faulty_cubes, "--faulty-cubes"),
              "faulty_hosts": _int_list(faulty_hosts, "--faulty-hosts"), "then_fail": then_fail,
              "chip_availability": chip_availability, "ocs_availability": ocs_availability,
              "domain_cubes": domain_cubes, "domain_availability": domain_availability,
              "check_limits": not no_limits}
    results = [_run(level, kwargs) for level in levels]
    if chart is not None:
        from tpusim import charts

        concrete = results[0].assignment is not None
        charts.save(charts.cube_map(results[0]) if concrete else charts.plan_goodput(results), chart)
    if json_out:
        from tpusim.cli.render import print_json

        dicts = [r.to_dict() for r in results]
        print_json(dicts[0] if len(dicts) == 1 else dicts)
        return
    if csv_out:
        from tpusim.cli.render import print_csv

        print_csv([{**({"host_availability": res.host_availability} if len(results) > 1 else {}),
                    **r.to_dict(), "cube_shape": "x".join(map(str, r.cube_shape))}
                   for res in results for r in res.rows])
        return
    for result in results:
        _print_readable(result, None)
    if chart is not None:
        from tpusim.cli.render import console, escape

        console().print(f"chart written to {escape(str(chart))}")


def _run(level: float, kwargs: dict):
    """One plan, with a progress bar over slice sizes on a terminal (the static model takes s)."""
    from tpusim.api import plan as make_plan

    if not sys.stderr.isatty():
        return make_plan(level, **kwargs)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(f"host {level}: static torus, slice sizes", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task("plan", total=None)
        return make_plan(level, **kwargs,
                         on_shape=lambda done, total: bar.update(task, completed=done, total=total))


def _print_readable(result, chart: Path | None) -> None:
    from tpusim.cli.render import console, escape, table

    pod = result.pod
    out = console()
    title = (f"{pod['name']} ({pod['chip']}, {pod['shape']} chips, {pod['cubes']} cubes of "
             f"{pod['hosts_per_cube']} hosts): host availability {_pct(result.host_availability)} "
             f"-> p_cube {result.cube_availability:.4f}")
    with_target = any(r.spare_cubes_for_target is not None for r in result.rows) or result.target
    columns = ["slice chips", "shape", "cubes", "P(sched) OCS", "P(sched) static",
               "goodput OCS", "goodput static"]
    if with_target:
        columns.append("OCS spares for target")
    rows = []
    for r in result.rows:
        static_p = _prob(r.p_schedulable_static)
        static_g = _num(r.goodput_static)
        if r.p_schedulable_static_hi > r.p_schedulable_static_lo:
            static_p += f" [{r.p_schedulable_static_lo:.3f}, {r.p_schedulable_static_hi:.3f}]"
        if r.goodput_static_hi > r.goodput_static_lo:
            static_g += f" ±{(r.goodput_static_hi - r.goodput_static_lo) / 2:.3f}"
        row = [r.slice_chips if r.n_slices == 1 else f"{r.n_slices} x {r.slice_chips}", r.shape,
               r.slice_cubes, _prob(r.p_schedulable_ocs), static_p, _num(r.goodput_ocs), static_g]
        if with_target:
            row.append("-" if r.spare_cubes_for_target is None else r.spare_cubes_for_target)
        rows.append(row)
    if result.static_method == "exact":
        how = "static: exact enumeration of every failure pattern"
    else:
        how = (f"static: exact packing on {result.static_patterns} Monte Carlo failure patterns "
               f"(seed {result.seed}), 95% intervals (--samples for more); one-cube and whole-pod "
               f"rows are exact")
    sizes = result.model.get("ocs_group_cubes", [])
    groups = f" of one OCS group ({len(sizes)} groups of {max(sizes)} cubes)" if len(sizes) > 1 else ""
    caption = ("P(sched): at least one slice (or --slices of them) can be formed. goodput: expected "
               "fraction of the pod's chips that slices of this size keep busy. OCS: any healthy "
               "cubes" + groups + "; static: contiguous boxes of cubes on the pod torus.\n" + how)
    out.print(table(title, columns, rows, caption=caption, justify_right_from=2))
    if result.target:
        t = result.target
        def largest(chips: int | None) -> str:
            return f"{chips} chips" if chips else "no slice size reaches it"

        # the lower end a Monte Carlo row reaches when every pattern succeeded: the best it can do
        ceiling = max((r.p_schedulable_static_lo for r in result.rows
                       if r.p_schedulable_static >= 1.0 > r.p_schedulable_static_lo), default=None)
        judged = "" if result.static_method == "exact" else (
            f" (Monte Carlo sizes count when the lower end of their 95% interval reaches "
            f"{t['target']}" + (f"; with {result.static_patterns} patterns it is at most "
                                f"{ceiling:.3f}" if ceiling is not None else "") + "; --samples for more)")
        out.print(f"target {t['target']}: largest slice with OCS: "
                  f"{largest(t['largest_slice_chips_ocs'])}; static torus: "
                  f"{largest(t['largest_slice_chips_static'])}" + escape(judged))
        if result.model["domain_cubes"] > 1 or result.model["p_domain"] < 1:
            out.print("OCS spares are not computed with correlated failure domains (--domain-cubes, "
                      "--domain-availability): they depend on which domains the spare cubes sit in")
    if result.assignment:
        _print_assignment(out, result.assignment)
    if chart is not None:
        out.print(f"chart written to {escape(str(chart))}")


def _print_assignment(out, a: dict) -> None:
    out.print(f"assignment: {a['n_slices']} slice(s) of {'x'.join(map(str, a['slice_cube_shape']))} cubes; "
              f"faulty cubes {a['faulty_cubes'] or 'none'}")
    if a["ocs"] is None:
        out.print("  OCS: not enough healthy cubes")
    else:
        for i, s in enumerate(a["ocs"]):
            out.print(f"  OCS slice {i}: cubes (slice axis order) {s['cubes']}; "
                      f"{s['cross_connect_count']} cross-connects")
    if a["static"] is None:
        out.print("  static torus: no contiguous placement exists")
    else:
        for i, s in enumerate(a["static"]):
            out.print(f"  static slice {i}: cubes {s['cubes']}")
    if "reform" in a:
        r = a["reform"]
        out.print(f"  cube {r['failed_cube']} fails: replace it with spare cube {r['spare_cube']}; "
                  f"{len(r['removed'])} cross-connects removed, {len(r['added'])} added; "
                  f"every other cube keeps its position")
