"""`tpusim topology`: derived figures of a pod or a slice of it."""

from __future__ import annotations

import math

import typer

from tpusim import defaults
from tpusim.cli.app import app
from tpusim.cli.render import console, print_json, table
from tpusim.hardware import find_pod, load_pod, pod_and_slice, slice_named
from tpusim.topology.summary import topology_summary
from tpusim.units import fmt_rate


@app.command(epilog="Example: tpusim topology --pod tpu-v4-4096 --slice 4x4x8 --twisted")
def topology(
    pod: str | None = typer.Option(
        None, "--pod", help=f"Pod name (see `tpusim catalog`) or pod TOML (default: the "
                            f"{defaults.POD_CHIPS}-chip pod)."),
    slice_shape: str | None = typer.Option(
        None, "--slice",
        help="Slice shape in chips, e.g. 4x4x8, or a Cloud TPU name like v4-128 (default: the "
             "whole pod)."),
    twisted: bool = typer.Option(False, "--twisted", help="Twisted torus (k x k x 2k or k x 2k x 2k)."),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Chips, hosts, cubes, OCS ports, links, bisection, all-reduce and all-to-all bandwidth, diameter."""
    pod, slice_shape = slice_named(pod, slice_shape)  # --slice v4-8: that slice of the v4 pod
    if pod is None:
        pod = find_pod(defaults.POD_CHIPS).name
    slice_shape = pod_and_slice(pod, slice_shape)  # --pod v4-8: a Cloud TPU name is a slice
    summary = topology_summary(load_pod(pod), slice_shape, twisted=twisted)
    if json_out:
        print_json(summary.to_dict())
        return
    s = summary
    wrap = "".join("W" if w else "-" for w in s.wraparound)
    rows = [
        ("shape (chips)", s.shape + (" twisted" if s.twisted else "")),
        ("chips / hosts / cubes", f"{s.chips} / {s.hosts} / {s.cubes or '-'}"),
        ("wraparound per axis", f"{wrap}  (W = ring, - = line)"),
        ("OCSes used x ports used", f"{s.ocs_count} x {s.ocs_ports_used}" if s.ocs_count else "-"),
        ("optical links", s.optical_links or "-"),
        ("ICI links", s.ici_links),
        ("link degree (min..max)", f"{s.min_degree}..{s.max_degree}"),
        ("bisection", f"{fmt_rate(s.bisection_bytes_per_s, 'B/s')} ({s.bisection_links} links)"),
        ("all-reduce bandwidth", fmt_rate(s.allreduce_bytes_per_s, "B/s")),
        ("all-to-all throughput", _a2a(s.all_to_all_bytes_per_s)),
        ("diameter", f"{s.diameter_hops} hops"),
    ]
    console().print(table(f"{s.pod} ({s.chip})", ["figure", "value"], rows, justify_right_from=2))


def _a2a(rate: float) -> str:
    """Aggregate all-to-all throughput; '-' for a single chip (no links to cross)."""
    return fmt_rate(rate, "B/s") + " (busiest link, shortest paths)" if math.isfinite(rate) else "-"
