"""`tpusim catalog`: the chips and pods the catalog knows, with their key figures."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tpusim.cli.app import app
from tpusim.cli.render import console, print_json, table
from tpusim.hardware import Chip, Pod, all_chips, all_pods
from tpusim.topology.shape import fmt_shape
from tpusim.units import fmt_bytes, fmt_rate


def chip_record(chip: Chip) -> dict:
    record = asdict(chip)
    record.pop("sources")
    record["slice_shapes"] = [fmt_shape(s) for s in chip.slice_shapes]
    record["assumed"] = sorted(chip.assumptions)
    return record


def pod_record(pod: Pod) -> dict:
    return {
        "name": pod.name,
        "chip": pod.chip.name,
        "shape": fmt_shape(pod.shape),
        "chips": pod.chips,
        "hosts": pod.hosts,
        "cubes": pod.cubes,
        "ocs": pod.ocs,
        "ocs_ports": pod.ocs_ports,
        "ocs_spare_ports": pod.ocs_spare_ports,
        "assumed": sorted(pod.assumptions),
    }


def _workload_names() -> list[str]:
    from tpusim.data import data_dir

    try:
        return sorted(p.stem for p in data_dir("workloads").glob("*.toml"))
    except Exception:  # noqa: BLE001 - the catalog still lists hardware without workloads
        return []


@app.command(epilog="Example: tpusim catalog --json | jq '.pods[].name'")
def catalog(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the chips, pods and workloads tpusim knows."""
    chips = all_chips()
    pods = all_pods()
    workloads = _workload_names()
    cloud = cloud_records(chips)
    if json_out:
        print_json({"chips": [chip_record(c) for c in chips], "pods": [pod_record(p) for p in pods],
                    "workloads": workloads, "cloud_names": cloud})
        return
    out = console()
    out.print(table(
        "Chips",
        ["chip", "bf16 peak", "HBM", "HBM BW", "ICI links", "link BW (one-way)", "torus",
         "chips/host", "DRAM/host", "cube", "SparseCores", "assumed values"],
        [(c.name, fmt_rate(c.peak_bf16_flops_per_s, "FLOP/s"), fmt_bytes(c.hbm_bytes),
          fmt_rate(c.hbm_bytes_per_s, "B/s"), c.ici_links_per_chip,
          fmt_rate(c.ici_link_one_way_bytes_per_s, "B/s"), f"{c.torus_dims}D", c.chips_per_host,
          fmt_rate(c.host_dram_bytes, "B") if c.host_dram_bytes else "-",
          fmt_shape(c.cube_shape) if c.cube_shape else "-", c.sparsecores_per_chip or "-",
          len(c.assumptions)) for c in chips],
    ))
    out.print(table(
        "Pods",
        ["pod", "chip", "shape", "chips", "hosts", "cubes", "OCS"],
        [(p.name, p.chip.name, fmt_shape(p.shape), p.chips, p.hosts, p.cubes or "-",
          f"yes ({p.ocs_ports}-port)" if p.ocs else "no") for p in pods],
    ))
    out.print(table(
        "Cloud TPU names (accepted wherever a pod or slice is named: --pod, --slice)",
        ["chip", "pod", "names", "chips per name unit", "examples"],
        [(r["chip"], r["pod"], ", ".join(f"{p}-N" for p in (r["prefix"], *r["aliases"]))
          + f" ({r['count']} sizes)",
          f"N / {r['tensorcores_per_chip']} chips (N counts TensorCores)",
          ", ".join(f"{n} = {c}" for n, c in r["examples"])) for r in cloud],
    ))
    if workloads:
        out.print("Workloads: " + ", ".join(workloads))


def cloud_records(chips: list[Chip]) -> list[dict]:
    """Per chip with a catalog pod: its Cloud TPU name prefix, every legal name and a few
    examples as (name, chips)."""
    from tpusim.hardware import cloud_names, cloud_prefixes, cloud_slice

    out = []
    for chip in chips:
        names = cloud_names(chip)
        if not names:
            continue
        picks = list(dict.fromkeys([names[0], *names[len(names) // 2:len(names) // 2 + 1], names[-1]]))
        examples = [(n, cloud_slice(n).chips) for n in picks]
        out.append({"chip": chip.name, "pod": cloud_slice(names[-1]).pod.name,
                    "prefix": names[0].rpartition("-")[0], "aliases": cloud_prefixes(chip)[1:],
                    "tensorcores_per_chip": chip.tensorcores_per_chip,
                    "count": len(names), "names": names, "examples": examples})
    return out
