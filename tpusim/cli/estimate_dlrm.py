"""`tpusim estimate DLRM.toml`: the embedding-model rendering of the estimate command.

The command (cli/estimate.py) reads the file's `[model] kind` and hands DLRM workloads here.
"""

from __future__ import annotations

from pathlib import Path

from tpusim.cli.render import chart_written, console, print_json, table
from tpusim.errors import TpusimError
from tpusim.units import fmt_bytes, fmt_duration

BAR_WIDTH = 40
PHASE_LABELS = {
    "host": "host preprocessing (exposed)",
    "sc_forward": "embedding forward (gather, pool)",
    "sc_backward": "embedding backward (update)",
    "all_to_all_forward": "all-to-all forward",
    "all_to_all_backward": "all-to-all backward",
    "tensorcore": "TensorCore dense work",
    "dense_allreduce": "dense gradient all-reduce",
    "fixed": "fixed per-step overhead",
}


def run_dlrm(wl, *, chip, chips, slices, slice_shape, twisted, placement, sharding, global_batch,
             search_: bool, top: int, compare: bool, chart: Path | None, json_out: bool) -> None:
    from tpusim.workloads.dlrm import compare_placements, estimate_dlrm, search_dlrm

    given = {"chip": chip, "chips": chips, "slices": slices, "slice_shape": slice_shape, "twisted": twisted,
             "placement": placement, "sharding": sharding, "global_batch": global_batch}
    overrides = {k: v for k, v in given.items() if v is not None}
    if search_ and compare:
        raise TpusimError("--search and --compare-placements are separate views; choose one")
    if search_:
        result = search_dlrm(wl, top=top, **overrides)
        if chart is not None and result.best is not None:
            _chart([result.best], chart)
        if json_out:
            print_json(result.to_dict())
            return
        _print_search(result)
        chart_written(chart)
        return
    if compare:
        comparison = compare_placements(wl, **overrides)
        if chart is not None:
            _chart(comparison.rows, chart)
        if json_out:
            print_json(comparison.to_dict())
            return
        _print_compare(comparison)
        chart_written(chart)
        return
    est = estimate_dlrm(wl, **overrides)
    if chart is not None:
        _chart([est], chart)
    if json_out:
        print_json(est.to_dict())
        return
    print_estimate(est)
    chart_written(chart)


def _chart(ests, path: Path) -> None:
    from tpusim import charts

    charts.save(charts.step_breakdown(list(ests)), path)  # one bar each, labelled with placement


def _bar(share: float) -> str:
    n = round(max(0.0, min(1.0, share)) * BAR_WIDTH)
    return "█" * n + "·" * (BAR_WIDTH - n)


def print_estimate(est) -> None:
    fits = "fits" if est.fits_in_hbm else "DOES NOT FIT"
    rows = [
        ("system", f"{est.chips} x {est.chip} = {est.slices} slice(s) of {est.slice_shape}"
                   + (" twisted" if est.twisted else "")),
        ("embeddings", f"placement {est.placement}, sharding {est.sharding}, "
                       f"{'pipelined with' if est.pipelining else 'serial to'} the TensorCore"),
        ("step time", fmt_duration(est.step_time_s)
         + (f" (serial: {fmt_duration(est.serial_step_time_s)})" if est.pipelining else "")),
        ("samples / s", f"{est.samples_per_s:,.0f} (global batch {est.global_batch:,})"),
        ("bottleneck", est.bottleneck + (" (host-bound: preprocessing is the slowest phase)"
                                         if est.host_bound else "")),
        ("busy: SparseCore / TensorCore", f"{est.sparsecore_busy_fraction:.0%} / "
                                          f"{est.tensorcore_busy_fraction:.0%}"),
        ("utilisation: HBM / busiest ICI link", f"{est.hbm_utilization:.0%} / {est.ici_utilization:.0%}"),
        ("MFU (dense FLOPs only)", f"{est.mfu:.1%}"),
        ("memory per chip",
         f"{fmt_bytes(est.memory_per_chip_bytes)} of {fmt_bytes(est.hbm_bytes)} HBM: {fits}"),
    ]
    if est.placement == "host":
        host_fit = {True: "fits", False: "DOES NOT FIT", None: "capacity unknown"}[est.fits_in_host_dram]
        rows.append(("tables per host",
                     f"{fmt_bytes(est.host_memory_per_host_bytes)} of host DRAM: {host_fit}"))
    out = console()
    out.print(table(f"{est.workload} on {est.chip}", ["figure", "value"], rows, justify_right_from=2))
    step = est.step_time_s
    brows = [(PHASE_LABELS[k], fmt_duration(v), f"{v / step:.1%}", _bar(v / step),
              fmt_duration(est.phases_s[k]))
             for k, v in est.breakdown_s.items() if v > 0 or est.phases_s[k] > 0]
    out.print(table("where the step goes (exposed time; overlapped work shows only as its own duration)",
                    ["phase", "exposed", "share", "", "own duration"], brows))
    mrows = [(k.replace("_", " "), fmt_bytes(v)) for k, v in est.memory_breakdown_bytes.items() if v > 0]
    out.print(table("memory per chip", ["item", "bytes"], mrows))


def _system(e) -> str:
    """'128 x v4, 1 x 4x4x8 twisted': the system an estimate ran on."""
    return f"{e.chips} x {e.chip}, {e.slices} x {e.slice_shape}" + (" twisted" if e.twisted else "")


def _skipped(skipped: dict[str, str]) -> str:
    return "; ".join(f"{p} not available ({why})" for p, why in skipped.items())


def _fits(e) -> str:
    """'yes', or what does not fit: HBM, or the host DRAM that holds a host placement's tables."""
    if not e.fits_in_hbm:
        return "NO (HBM)"
    return "NO (host DRAM)" if e.fits_in_host_dram is False else "yes"


def _print_compare(comparison) -> None:
    ests, ratio = comparison.rows, comparison.sparsecore_over_host
    rows = []
    host = next((e for e in ests if e.placement == "host"), None)
    for e in ests:
        rows.append((e.placement, e.sharding, fmt_duration(e.step_time_s), f"{e.samples_per_s:,.0f}",
                     e.bottleneck, fmt_bytes(e.memory_per_chip_bytes), _fits(e),
                     f"{host.step_time_s / e.step_time_s:.2f}x" if host else "-"))
    notes = ([f"SparseCore over host: {ratio:.2f}x"] if ratio is not None else []) \
        + ([_skipped(comparison.skipped_placements)] if comparison.skipped_placements else [])
    first = ests[0] if ests else None
    title = f"{first.workload}: placements on {_system(first)}" if first else "placements"
    console().print(table(title, ["placement", "sharding", "step", "samples/s", "bottleneck", "memory",
                                  "fits", "vs host"], rows, caption="\n".join(notes) or None))


def _print_search(result) -> None:
    out = console()
    if not result.rows:
        out.print(f"{result.workload}: none of {result.evaluated} candidates fits on {result.chips} x "
                  f"{result.chip}; the one needing the least memory:")
        if result.best is not None:
            print_estimate(result.best)
        return
    rows = [(i, r["placement"], r["sharding"], r["slice_shape"] + (" T" if r["twisted"] else ""),
             fmt_duration(r["step_time_s"]), f"{r['samples_per_s']:,.0f}", r["bottleneck"],
             fmt_bytes(r["memory_per_chip_bytes"]), f"{r['slower_than_best']:.2f}x")
            for i, r in enumerate(result.rows, 1)]
    skipped = _skipped(result.skipped_placements)
    caption = (f"{result.feasible} of {result.evaluated} candidates fit; T = twisted torus"
               + (f"; {skipped}" if skipped else ""))
    out.print(table(f"{result.workload}: placements, shardings and slices on {result.chips} x "
                    f"{result.chip} ({result.slices} slice(s))",
                    ["#", "placement", "sharding", "slice", "step", "samples/s", "bottleneck", "memory",
                     "vs best"], rows, caption=caption))
