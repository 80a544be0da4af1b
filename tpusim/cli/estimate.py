"""`tpusim estimate`: step time, tokens/s, MFU, HFU and memory of a dense-LLM workload."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from tpusim import defaults
from tpusim.cli.app import app
from tpusim.cli.render import chart_written, console, print_json, table
from tpusim.errors import TpusimError
from tpusim.topology.shape import parse_shape
from tpusim.units import fmt_bytes, fmt_duration


def _per_slice(chips: int | None, slices: int | None, file_slices: int) -> int | None:
    if chips is None:
        return None
    n = slices if slices is not None else file_slices
    if chips < 1 or chips % n:
        raise TpusimError(f"--chips {chips} must be a positive multiple of the {n} slices")
    return chips // n


EXAMPLES = """Examples:

  tpusim estimate palm-540b

  tpusim estimate palm-62b --chip v5p --chips 1024 --search --chart breakdown.svg

  tpusim estimate workloads/dlrm-dcnv2.toml --chip v4 --chips 128 --compare-placements
"""


@app.command(epilog=EXAMPLES)
def estimate(
    workload: str = typer.Argument(..., help="Workload TOML file, or a shipped name like palm-540b."),
    chip: str | None = typer.Option(None, "--chip", help="Chip generation (v4, v5p, ...)."),
    chips: int | None = typer.Option(None, "--chips", help="Total chips (all slices together)."),
    slice_shape: str | None = typer.Option(
        None, "--slice", help="Slice shape in chips, e.g. 12x16x16, or a Cloud TPU name like v5p-128."),
    slices: int | None = typer.Option(None, "--slices", help="Slices joined over the data-center network."),
    global_batch: int | None = typer.Option(
        None, "--global-batch", help="Global batch: sequences (LLM) or samples (DLRM), all slices together."
    ),
    placement: str | None = typer.Option(
        None, "--placement", help="DLRM: where the tables live: sparsecore, tensorcore or host."),
    sharding: str | None = typer.Option(None, "--sharding", help="DLRM: mod, table or column."),
    twisted: bool | None = typer.Option(
        None, "--twisted/--no-twisted",
        help="Twisted torus (k x k x 2k, k x 2k x 2k slices): faster DLRM all-to-all; a dense "
        "LLM's rings on a short axis close only through the long axis (never faster)."),
    compare: bool = typer.Option(
        False, "--compare-placements", help="DLRM: the three placements side by side."),
    search_: bool = typer.Option(
        False, "--search", help="Rank every legal sharding that fits (DLRM: placements, shardings, slices)."),
    top: int | None = typer.Option(
        None, "--top", help=f"Rows shown with --search (default {defaults.SEARCH_TOP})."),
    chart: Path | None = typer.Option(
        None, "--chart", help="Where the step time goes, as a figure: .png, .svg or .pdf."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Step time, throughput, memory per chip and where the time goes (dense LLM or DLRM)."""
    from tpusim.workloads import estimate as run_estimate
    from tpusim.workloads import load_workload
    from tpusim.workloads.config import with_twist
    from tpusim.workloads.kinds import workload_kind
    from tpusim.workloads.search import search

    if slices is not None and slices < 1:
        raise TpusimError(f"--slices must be >= 1, got {slices}")
    if top is not None and not search_:
        raise TpusimError("--top sets the rows of a --search ranking; add --search or drop --top")
    top = defaults.SEARCH_TOP if top is None else top
    if top < 1:
        raise TpusimError(f"--top must be >= 1, got {top}")
    if chart is not None and chart.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise TpusimError(f"--chart {str(chart)!r}: use a .png, .svg or .pdf file name")
    from tpusim.hardware import chip_and_slice

    chip, slice_shape = chip_and_slice(chip, slice_shape)  # --slice v5p-128: a Cloud TPU name
    if workload_kind(workload) == "dlrm":
        from tpusim.cli.estimate_dlrm import run_dlrm
        from tpusim.workloads.dlrm.config import load_dlrm

        run_dlrm(load_dlrm(workload), chip=chip, chips=chips, slices=slices, slice_shape=slice_shape,
                 twisted=twisted, placement=placement, sharding=sharding, global_batch=global_batch,
                 search_=search_, top=top, compare=compare, chart=chart, json_out=json_out)
        return
    for flag, value in (("--placement", placement), ("--sharding", sharding),
                        ("--compare-placements", compare or None)):
        if value is not None:
            raise TpusimError(f"{flag} applies to dlrm workloads ([model] kind = \"dlrm\"); "
                              f"{workload} is a dense LLM")
    wl = load_workload(workload)
    if twisted is not None:  # its rings on a short axis close only through the long axis
        wl = with_twist(wl, twisted)
    per_slice = _per_slice(chips, slices, wl.system.slices)
    if per_slice is None and slice_shape is not None:  # --slice alone sets the slice size
        per_slice = math.prod(parse_shape(slice_shape))
    if search_:
        result = search(
            wl, top=top, chip=chip, chips_per_slice=per_slice, slices=slices, slice_shape=slice_shape,
            global_batch_seqs=global_batch,
        )
        if chart is not None and result.best is not None:
            _chart(result.best, chart)
        if json_out:
            print_json(result.to_dict())
            return
        _print_search(result)
        chart_written(chart)
        return
    est = run_estimate(wl, chip=chip, chips_per_slice=per_slice, slices=slices, slice_shape=slice_shape,
                       global_batch_seqs=global_batch)
    if chart is not None:
        _chart(est, chart)
    if json_out:
        print_json(est.to_dict())
        return
    plain = None
    if est.twisted:  # what the twist changed: the same estimate on the plain torus
        plain = run_estimate(with_twist(wl, False), chip=chip, chips_per_slice=per_slice, slices=slices,
                             slice_shape=slice_shape, global_batch_seqs=global_batch)
    _print_estimate(est, plain)
    chart_written(chart)


def _chart(est, path: Path) -> None:
    from tpusim import charts

    charts.save(charts.step_breakdown(est), path)


TWIST_NOTE = ("a dense LLM has no all-to-all for the twist to shorten, and its rings on a short axis "
              "close only through the long axis")


def _twist_row(est, plain) -> tuple[str, str]:
    """('twist', what twisting the torus did to this step against the plain torus)."""
    if plain.step_time_s == est.step_time_s:
        return "twist", f"no change from the plain torus ({TWIST_NOTE})"
    diff = est.step_time_s - plain.step_time_s
    return "twist", (f"{'+' if diff > 0 else '-'}{fmt_duration(abs(diff))} per step against the plain "
                     f"torus ({fmt_duration(plain.step_time_s)}; {TWIST_NOTE})")


def _print_estimate(est, plain=None) -> None:
    """The readable estimate; `plain`: the same estimate on an untwisted torus, for a twisted one."""
    par = est.parallelism
    sharding = (
        f"data {par['data']} x fsdp {par['fsdp']} x tensor {par['tensor']} x "
        f"pipeline {par['pipeline']}, microbatches {par['microbatches']}, remat {est.remat}"
        + (", int8 matmuls" if est.matmul_dtype == "int8" else "")
        + (", optimizer state on the host" if est.offload_optimizer else "")
    )
    conventions = ", ".join(f"{k} {v:.1%}" for k, v in est.mfu_by_convention.items())
    mapping = ", ".join(f"{k}: {v}" for k, v in est.mapping.items() if v != "-") or "-"
    fits = "fits" if est.fits_in_hbm else "DOES NOT FIT"
    rows = [
        (
            "system",
            f"{est.chips} x {est.chip} = {est.slices} slice(s) of {est.slice_shape}"
            + (" twisted" if est.twisted else ""),
        ),
        ("sharding", sharding),
        ("mesh on torus axes", mapping),
        *([_twist_row(est, plain)] if plain is not None else []),
        ("step time", fmt_duration(est.step_time_s)),
        ("tokens / step", f"{est.tokens_per_step:,}"),
        ("tokens / s", f"{est.tokens_per_s:,.0f}"),
        ("MFU", f"{est.mfu:.1%} (6N + 12LHQT; by convention: {conventions})"
         + (" of the bf16 peak: int8 matmuls run faster" if est.matmul_dtype == "int8" else "")),
        ("HFU", f"{est.hfu:.1%}"),
        ("parameters", _count(est.params)),
        (
            "memory per chip",
            f"{fmt_bytes(est.memory_per_chip_bytes)} of {fmt_bytes(est.hbm_bytes)} HBM: {fits}",
        ),
    ]
    if est.host_memory_per_chip_bytes > 0:
        host_fit = {True: ": fits", False: ": DOES NOT FIT", None: ""}[est.fits_in_host_dram]
        rows.append(("host memory per chip", fmt_bytes(est.host_memory_per_chip_bytes)
                     + (" (host DRAM" + host_fit + ")" if est.fits_in_host_dram is not None else "")))
    out = console()
    out.print(table(f"{est.workload} on {est.chip}", ["figure", "value"], rows, justify_right_from=2))
    step = est.step_time_s
    brows = [(k, fmt_duration(v), f"{v / step:.1%}") for k, v in est.breakdown.items() if v > 0]
    out.print(table("where the step time goes", ["cause", "time", "share"], brows))
    mrows = [(k, fmt_bytes(v)) for k, v in est.memory_breakdown.items() if v > 0]
    out.print(table("memory per chip", ["item", "bytes"], mrows))


def _offloads(row: dict) -> bool:
    """Whether a search row keeps something in host memory (activations or optimizer state)."""
    from tpusim.workloads.remat import OFFLOADED

    return bool(row["offload_optimizer"]) or row["remat"] in OFFLOADED


def _print_search(result) -> None:
    out = console()
    if not result.rows:
        best = result.best
        where = ("in HBM with its offload in host DRAM" if best is not None and best.fits_in_hbm
                 else "in HBM")
        out.print(
            f"{result.workload}: none of {result.evaluated} shardings fits {where} on "
            f"{result.chips} x {result.chip}; the closest:"
        )
        if result.best is not None:
            _print_estimate(result.best)
        return
    rows = []
    for i, r in enumerate(result.rows, 1):
        rows.append(
            (
                i,
                r["data"],
                r["fsdp"],
                r["tensor"],
                r["pipeline"],
                r["microbatches"],
                r["remat"] + (" + optimizer on host" if r.get("offload_optimizer") else ""),
                fmt_duration(r["step_time_s"]),
                f"{r['tokens_per_s']:,.0f}",
                f"{r['mfu']:.1%}",
                f"{r['hfu']:.1%}",
                fmt_bytes(r["memory_per_chip_bytes"]),
                r["loses_by"] or "best",
            )
        )
    caption = (
        f"{result.feasible} of {result.evaluated} candidates fit in HBM"
        f"{' and host DRAM (host offload)' if any(_offloads(r) for r in result.rows) else ''}; "
        f"'loses by' = the cause that costs each row the most time against the best"
        + (f"; twisted torus: {TWIST_NOTE}" if result.twisted else "")
    )
    out.print(
        table(
            f"{result.workload}: shardings on {result.chips} x {result.chip} "
            f"({result.slices} x {result.slice_shape}{' twisted' if result.twisted else ''})",
            [
                "#",
                "data",
                "fsdp",
                "tensor",
                "pipe",
                "mb",
                "remat",
                "step",
                "tokens/s",
                "MFU",
                "HFU",
                "memory",
                "loses by",
            ],
            rows,
            caption=caption,
        )
    )


def _count(n: float) -> str:
    """12_345_678_901 -> '12.35 B' (T for trillions)."""
    return f"{n / 1e12:.2f} T" if n >= 1e12 else f"{n / 1e9:.2f} B"
