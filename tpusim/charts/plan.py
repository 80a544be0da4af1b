"""Goodput against slice size (the TPU v4 paper's OCS availability figure, recomputed).

One colour per host availability (99.0%, 99.5%, 99.9% and the requested one); solid lines with
OCS, dashed lines for a static torus. matplotlib is imported here, inside the function.
"""

from __future__ import annotations

from pathlib import Path

from tpusim.errors import TpusimError

STANDARD_AVAILABILITIES = (0.990, 0.995, 0.999)  # the TPU v4 paper's figure (Jouppi et al. 2023)


def chart_data(pod, host_availability: float, *, samples: int = 500, seed: int = 0,
               slice_shape: str | None = None) -> list[dict]:
    """The series drawn: one dict per availability with its plan rows (as dicts)."""
    from tpusim.planner.table import plan

    levels = sorted(set(STANDARD_AVAILABILITIES) | {round(float(host_availability), 6)})
    out = []
    for level in levels:
        result = plan(pod, level, slice_shape=slice_shape, samples=samples, seed=seed)
        out.append({"host_availability": level, "cube_availability": result.cube_availability,
                    "rows": [r.to_dict() for r in result.rows]})
    return out


def plan_chart(pod, host_availability: float, path: str | Path, *, samples: int = 500,
               seed: int = 0, slice_shape: str | None = None) -> list[dict]:
    """Write the goodput-vs-slice-size figure to `path` (.png, .svg or .pdf); returns its data."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise TpusimError(f"chart file {path}: use a .png, .svg or .pdf name")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = chart_data(pod, host_availability, samples=samples, seed=seed, slice_shape=slice_shape)
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, series in enumerate(data):
        xs = [r["slice_chips"] for r in series["rows"]]
        colour = colours[i % len(colours)]
        label = f"host {100 * series['host_availability']:.1f}% (p_cube {series['cube_availability']:.3f})"
        ax.plot(xs, [r["goodput_ocs"] for r in series["rows"]], "-o", color=colour, ms=3,
                label=f"{label}, OCS")
        ax.plot(xs, [r["goodput_static"] for r in series["rows"]], "--s", color=colour, ms=3,
                label=f"{label}, static")
    ax.set_xscale("log", base=2)
    ticks = [r["slice_chips"] for r in data[0]["rows"]]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks], rotation=45)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("slice size (chips)")
    ax.set_ylabel("goodput (fraction of pod chips busy)")
    ax.set_title(f"{pod.name}: goodput vs slice size (solid: OCS, dashed: static torus)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return data
