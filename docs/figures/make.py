"""Remake the README's figures (docs/figures/*.png): python docs/figures/make.py

Each figure is what the command or call in the README draws; PNGs are then reduced to a
256-colour palette so the repository stays small.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "plan-goodput.png": ["plan", "--availability", "0.99,0.995,0.999", "--samples", "1000"],
    "cube-map.png": ["plan", "--slice", "8x16x16", "--faulty-cubes", "3,17,42", "--then-fail", "0"],
    "step-breakdown.png": ["estimate", "palm-540b"],
    "simulate.png": ["simulate", "palm-540b-50d", "--replications", "50"],
}


def python_figures() -> None:
    import tpusim
    from tpusim import charts

    estimates = [tpusim.estimate("palm-540b", chips=n, slices=1) for n in (1024, 2048, 3072)]
    charts.save(charts.mfu_vs_slice(estimates), HERE / "mfu-vs-slice.png")
    timeline = tpusim.simulate("palm-540b-50d", replications=1, with_events=True)
    charts.save(charts.timeline(timeline), HERE / "timeline.png")
    study = tpusim.sweep({"kind": "simulate", "base": "palm-540b-50d",
                          "grid": {"recovery.checkpoint_interval_s": [900, 1800, 3600, 7200],
                                   "failures.host.availability": [0.99, 0.995, 0.999],
                                   "replications": [4]}}, progress=False).to_frame()
    whole = study[study.job == "*"]
    charts.save(charts.sweep_lines(whole, "recovery.checkpoint_interval_s", "goodput",
                                   by="failures.host.availability"), HERE / "sweep-lines.png")
    charts.save(charts.sweep_heatmap(whole, "recovery.checkpoint_interval_s",
                                     "failures.host.availability", "goodput"), HERE / "sweep-heatmap.png")


def shrink(path: Path) -> None:
    from PIL import Image

    image = Image.open(path).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)


def main() -> None:
    for name, args in COMMANDS.items():
        subprocess.run([sys.executable, "-m", "tpusim", *args, "--chart", str(HERE / name)],
                       check=True, stdout=subprocess.DEVNULL)
    python_figures()
    for path in sorted(HERE.glob("*.png")):
        shrink(path)
        print(f"{path.name}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
