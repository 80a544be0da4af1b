"""Property tests of the input contract: any document of any file kind, valid or not, gives
exit 0 with finite figures or exit 2 with one line on stderr (never a traceback or a hang).

Documents are the shipped files with up to three random edits: a value scaled (mostly still
valid), replaced by a random TOML value (ints to 2^63, floats with NaN, infinities, denormals,
text, booleans, arrays, tables), deleted, or its key renamed. Runs in this process with the
work limits lowered, so a valid but huge run is refused quickly (exit 2) instead of running.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib

import pytest
from conftest import REPO, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tomlwrite import dumps

from tpusim import limits

FILES = {
    "workload": "workloads/palm-8b.toml",
    "dlrm": "workloads/dlrm-mlperf-v1.toml",
    "scenario": "scenarios/multi-job-v4.toml",
    "pod": "topologies/pod-tpu-v4-4096.toml",
    "chip": "topologies/chip-v4.toml",
    "sweep": None,  # written below: an estimate sweep over palm-8b
}
SWEEP = {"sweep": {"kind": "estimate", "base": "workloads/palm-8b.toml"},
         "grid": {"global_batch_seqs": [128, 256], "remat": ["full"], "training.optimizer": ["adam"]}}

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2, 64, 4096, 0.5, 1e-300, 5e-324, 1e308, "4x4x4", "8x8x16", "auto",
                     "all", "v4", "exponential", "weibull", "full", "none", "", True, False]),
    TEXT, st.booleans(),
    st.lists(st.integers(min_value=-2, max_value=300), max_size=4),
    st.builds(lambda: {"x": 1}), st.builds(lambda: [{"y": 2}]),  # fresh objects: no cycles
)


def _doc(kind: str) -> dict:
    if FILES[kind] is None:
        return copy.deepcopy(SWEEP)
    return tomllib.loads((REPO / FILES[kind]).read_text(encoding="utf-8"))


def _paths(node, path=()):
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(k, int) and k > 0:
            continue
        yield (*path, k)
        yield from _paths(v, (*path, k))


@st.composite
def edited(draw, kind: str) -> dict:
    doc = _doc(kind)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        leaf = path[-1]
        how = draw(st.sampled_from(["scale", "scale", "set", "set", "delete", "rename"]))
        old = parent[leaf]
        if how == "scale" and isinstance(old, int | float) and not isinstance(old, bool):
            factor = draw(st.sampled_from([0.5, 0.9, 1.1, 2.0, 10.0]))
            parent[leaf] = type(old)(old * factor) if isinstance(old, float) else max(1, round(old * factor))
        elif how in ("scale", "set"):
            parent[leaf] = draw(VALUES)
        elif how == "delete" and isinstance(parent, dict):
            del parent[leaf]
        elif how == "rename" and isinstance(parent, dict):
            parent[f"{leaf}{draw(st.sampled_from(['x', 's', '_']))}"] = parent.pop(leaf)
    return doc


def _args(kind: str, tmp, doc: dict) -> list[str]:
    if kind == "chip":
        (tmp / "chip-x.toml").write_text(dumps(doc), encoding="utf-8")
        pod = (REPO / "topologies" / "pod-tpu-v4-4096.toml").read_text()
        (tmp / "pod-x.toml").write_text(pod.replace('chip = "v4"', 'chip = "chip-x.toml"'))
        return ["topology", "--pod", str(tmp / "pod-x.toml"), "--slice", "4x4x8", "--json"]
    path = tmp / f"{kind}.toml"
    path.write_text(dumps(doc), encoding="utf-8")
    return {
        "workload": ["estimate", str(path), "--json"],
        "dlrm": ["estimate", str(path), "--json"],
        "scenario": ["simulate", str(path), "--days", "2", "-n", "1", "--json"],
        "pod": ["topology", "--pod", str(path), "--slice", "4x4x8", "--json"],
        "sweep": ["sweep", str(path), "--out", str(tmp / "out.jsonl"), "--workers", "1", "--json"],
    }[kind]


# figures that must be finite numbers on exit 0 (runtime goodput is undefined, null, when no
# job ever ran; goodput and scheduling goodput are always defined)
FIGURES = {"workload": ("step_time_s", "mfu", "memory_per_chip_bytes"), "dlrm": ("step_time_s",),
           "scenario": ("goodput", "scheduling_goodput"), "pod": ("bisection_bytes_per_s", "chips"),
           "chip": ("bisection_bytes_per_s", "allreduce_bytes_per_s"), "sweep": ("total_points",)}


def _check(kind: str, result) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode == 2:
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert lines[0].startswith("tpusim: error: ")
        return
    # a sweep whose every point failed exits 1: its rows say why
    assert result.returncode in ((0, 1) if kind == "sweep" else (0,)), (result.returncode, result.stderr)
    data = json.loads(result.stdout)
    for key in FIGURES[kind]:
        value = data[key]
        assert isinstance(value, int | float) and math.isfinite(value), (key, value)


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(limits, "SIM_EVENTS", 20_000)
    monkeypatch.setattr(limits, "SIM_PROCESSES", 20_000)
    monkeypatch.setattr(limits, "SIM_LOG_ENTRIES", 50_000)
    monkeypatch.setattr(limits, "SWEEP_POINTS", 8)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_any_document_exits_0_with_finite_figures_or_2_with_one_line(kind, tmp_path_factory, small_limits):
    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(edited(kind))
    def check(doc):
        tmp = tmp_path_factory.mktemp(kind)
        _check(kind, run_main(*_args(kind, tmp, doc)))

    check()


def test_a_scenario_without_failures_runs(tmp_path):
    """bug (found by the property test): with no [failures] the checkpoint interval is infinite
    and a job that trains to the horizon hit inf - inf = NaN laying out its run."""
    doc = _doc("scenario")
    del doc["failures"]
    (tmp_path / "s.toml").write_text(dumps(doc), encoding="utf-8")
    result = run_main("simulate", str(tmp_path / "s.toml"), "--days", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["interruptions"]["total"] == 0
