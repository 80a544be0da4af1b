"""Caches keyed on the files they read (tpusim.filecache): an edit made in the same process (a
notebook) is noticed by every loader, however the files nest (a pod and the chip file it names,
a simulated job's estimate and its workload file)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tpusim.data import data_dir
from tpusim.filecache import file_cached
from tpusim.hardware import load_pod
from tpusim.inputs import load_toml


def _edit(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` (same length: size and, within a tick, mtime stay the same)."""
    text = path.read_text()
    assert old in text
    assert len(old) == len(new)
    path.write_text(text.replace(old, new))


def test_an_edit_is_noticed_through_nested_cached_calls(tmp_path):
    calls = []

    @file_cached()
    def inner(path: Path) -> int:
        calls.append("inner")
        return load_toml(path)["x"]

    @file_cached()
    def outer(path: Path) -> int:
        calls.append("outer")
        return inner(path) + 1

    f = tmp_path / "a.toml"
    f.write_text("x = 1\n")
    assert inner(f) == 1  # cached before outer runs: outer must still learn that it read f
    assert outer(f) == 2
    assert outer(f) == 2
    assert calls == ["inner", "outer"]
    _edit(f, "x = 1", "x = 7")
    assert outer(f) == 8
    assert calls == ["inner", "outer", "outer", "inner"]


def _pod(folder: Path) -> None:
    (folder / "pod.toml").write_text(
        '[pod]\nname = "q"\nchip = "chip-q.toml"\nshape = "4x4x4"\nocs = false\n'
        '[sources]\nshape = "test"\nocs = "test"\n')


def test_unchanged_files_give_the_same_object(tmp_path):
    shutil.copy(data_dir("topologies") / "chip-v4.toml", tmp_path / "chip-q.toml")
    _pod(tmp_path)
    assert load_pod(tmp_path / "pod.toml") is load_pod(tmp_path / "pod.toml")


def test_a_pod_notices_an_edit_of_its_chip_file(tmp_path):
    """The pod cache used to be keyed on the pod file alone: an edited chip file was ignored."""
    chip = tmp_path / "chip-q.toml"
    shutil.copy(data_dir("topologies") / "chip-v4.toml", chip)
    _pod(tmp_path)
    assert load_pod(tmp_path / "pod.toml").chip.peak_bf16_flops_per_s == 275e12
    _edit(chip, "peak_bf16_flops_per_s = 275e12", "peak_bf16_flops_per_s = 175e12")
    assert load_pod(tmp_path / "pod.toml").chip.peak_bf16_flops_per_s == 175e12


def test_a_simulated_job_notices_an_edit_of_its_workload_file(tmp_path):
    """The simulator's per-job estimate used to be keyed on the workload's path alone."""
    from tpusim.sim import scenario_from_dict
    from tpusim.sim.jobs import performance

    wl = tmp_path / "w.toml"
    shutil.copy(data_dir("workloads") / "palm-8b.toml", wl)
    doc = {"name": "edit", "pod": {"name": "tpu-v4-4096", "ocs": True},
           "jobs": [{"name": "j", "workload": str(wl), "slice": "4x4x4"}], "run": {"days": 1}}
    scenario = scenario_from_dict(doc, "test")
    before = performance(scenario, scenario.jobs[0])
    _edit(wl, "layers = 32", "layers = 16")
    after = performance(scenario, scenario.jobs[0])
    assert after.step_time_s < 0.75 * before.step_time_s  # half the layers: about half the time


def test_a_settled_status_spares_the_read_and_an_unsettled_one_does_not(tmp_path):
    """`unchanged` trusts an equal status only when the change time had settled at the read."""
    from tpusim.filecache import Version, path_status, unchanged

    f = tmp_path / "a.toml"
    f.write_text("x = 1\n")
    status = path_status(f)
    wrong = b"not the digest of the file"
    assert unchanged(f, Version(wrong, status, settled=True))  # status alone decides
    assert not unchanged(f, Version(wrong, status, settled=False))  # the bytes decide
    _edit(f, "x = 1", "x = 2")
    assert not unchanged(f, Version(wrong, status, settled=True))  # a write changes the status
