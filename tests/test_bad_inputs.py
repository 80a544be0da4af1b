"""The bad-input catalogue: every command and every file kind, each bad input one line on stderr,
exit code 2, no traceback, nothing written.

Two parts:
- generated: each shipped file of each kind (chip, pod, dense and DLRM workload, scenario, the
  three sweep kinds) with one key renamed (a typo: keys and tables at every level), one value
  replaced by a table, a number by NaN, infinity or text, a string, a boolean or a list by a
  number. Every such file must be refused, and the message must name the key.
- written out: files that are not TOML or not UTF-8, missing and empty files, each command's
  options out of range or contradicting each other.

All run in this process (`conftest.run_main`), so the catalogue takes seconds.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, assert_clean_error, run_main
from tomlwrite import dumps

from tpusim.errors import TpusimError

# file kind -> (shipped file, paths under which keys are data, not schema)
KINDS: dict[str, tuple[str, tuple[tuple, ...]]] = {
    "chip": ("topologies/chip-v4.toml", ()),
    "pod": ("topologies/pod-tpu-v4-4096.toml", ()),
    "workload": ("workloads/palm-540b.toml", ()),
    "dlrm": ("workloads/dlrm-dcnv2.toml", ()),
    "scenario": ("scenarios/palm-540b-50d.toml", (("sources",), ("assumptions",))),
    "scenario-e2e": ("scenarios/palm-540b-e2e.toml", (("sources",), ("assumptions",))),
    "sweep-estimate": ("scenarios/sweeps/palm-540b-chips.toml", (("grid",),)),
    "sweep-simulate": ("scenarios/sweeps/palm-checkpoint-interval.toml", (("grid",),)),
    "sweep-plan": ("scenarios/sweeps/plan-availability.toml", (("grid",),)),
}


# keys whose value is a word or a number: spare_cubes = "all" | 4, checkpoint_interval_s = "auto" | 900
TEXT_OR_NUMBER = {"spare_cubes", "checkpoint_interval_s"}


def _load(kind: str) -> dict:
    return tomllib.loads((REPO / KINDS[kind][0]).read_text(encoding="utf-8"))


def _walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every key and array element below `node`."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield (*path, k), v
        yield from _walk(v, (*path, k))


def _under(path: tuple, prefixes: tuple[tuple, ...]) -> bool:
    return any(path[: len(p)] == p and len(path) > len(p) for p in prefixes)


def _mutations(kind: str) -> Iterator[tuple[str, tuple, str, Any]]:
    """(id, path, how, new value) for every generated bad variant of the kind's shipped file."""
    free = KINDS[kind][1]
    for path, value in _walk(_load(kind)):
        if any(isinstance(p, int) and p > 0 for p in path):
            continue  # the first of an array's elements stands for the others
        name = path[-1]
        where = ".".join(map(str, path))
        if isinstance(name, str) and not _under(path, free):
            yield f"{kind}:{where}:rename", path, "rename", None
        if isinstance(name, int) or isinstance(value, dict):
            continue  # array elements and tables: the renames above cover them
        if _under(path, free) and kind.startswith("sweep"):
            continue  # grid values are points: a bad one is that point's error row
        yield f"{kind}:{where}:table", path, "set", {"x": 1}
        if isinstance(value, bool):
            yield f"{kind}:{where}:int", path, "set", 1
        elif isinstance(value, int | float):
            for bad in (float("nan"), float("inf"), "12"):
                yield f"{kind}:{where}:{bad}", path, "set", bad
        elif isinstance(value, str) and not _under(path, free) and name not in TEXT_OR_NUMBER:
            yield f"{kind}:{where}:number", path, "set", 7
        elif isinstance(value, list) and value and not isinstance(value[0], dict):
            yield f"{kind}:{where}:text", path, "set", 5


def _apply(doc: dict, path: tuple, how: str, new: Any) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for k in path[:-1]:
        node = node[k]
    if how == "rename":
        node[f"{path[-1]}x"] = node.pop(path[-1])
    else:
        node[path[-1]] = new
    return doc


def _command(kind: str, tmp: Path, doc: dict) -> list[str]:
    """Write `doc` as a file of `kind` and return the command that reads it."""
    if kind == "chip":
        (tmp / "chip-x.toml").write_text(dumps(doc), encoding="utf-8")
        pod = (REPO / "topologies" / "pod-tpu-v4-4096.toml").read_text()
        (tmp / "pod-x.toml").write_text(pod.replace('chip = "v4"', 'chip = "chip-x.toml"'))
        return ["topology", "--pod", str(tmp / "pod-x.toml")]
    path = tmp / f"{kind}.toml"
    path.write_text(dumps(doc), encoding="utf-8")
    if kind == "pod":
        return ["topology", "--pod", str(path)]
    if kind in ("workload", "dlrm"):
        return ["estimate", str(path)]
    if kind.startswith("scenario"):
        return ["simulate", str(path), "--days", "1"]
    return ["sweep", str(path), "--out", str(tmp / "out.csv")]


GENERATED = [case for kind in KINDS for case in _mutations(kind)]


@pytest.mark.parametrize(("case", "path", "how", "new"), GENERATED, ids=[c[0] for c in GENERATED])
def test_generated_bad_file(tmp_path, case, path, how, new):
    kind = case.split(":")[0]
    args = _command(kind, tmp_path, _apply(_load(kind), path, how, new))
    named = next(str(p) for p in reversed(path) if isinstance(p, str))
    result = run_main(*args)
    assert_clean_error(result, f"{named}x" if how == "rename" else named)
    assert not (tmp_path / "out.csv").exists()


def test_the_generated_catalogue_covers_every_kind_and_key_kind():
    kinds = {c[0].split(":")[0] for c in GENERATED}
    assert kinds == set(KINDS)
    assert {c[0].rsplit(":", 1)[1] for c in GENERATED} >= {"rename", "table", "int", "nan", "inf", "12",
                                                           "number", "text"}
    assert len(GENERATED) > 400


# --- files that are not TOML, not UTF-8, or not there ------------------------------------------------

TEXT = (REPO / "workloads" / "palm-8b.toml").read_text()
BAD_BYTES = {
    "utf16-bom": (TEXT.encode("utf-16"), "UTF-16"),
    "utf16-le": (TEXT.encode("utf-16-le"), "UTF-16"),
    "binary": (bytes(range(256)) * 8, "binary"),
    "latin1": (TEXT.replace("kind", "kïnd").encode("latin-1"), "not UTF-8"),
    "syntax": (b"[model]\nlayers = = 3\n", "line 2"),
    "empty": (b"", "missing [model]"),
    "control": (b'[model]\nkind = "a\x01b"\n', "malformed TOML"),
}


def _file_command(kind: str, path: Path, tmp: Path) -> list[str]:
    return {
        "workload": ["estimate", str(path)],
        "scenario": ["simulate", str(path)],
        "sweep": ["sweep", str(path), "--out", str(tmp / "o.csv")],
        "pod": ["topology", "--pod", str(path)],
        "plan-pod": ["plan", "--pod", str(path)],
        "report": ["report", str(path), "--out", str(tmp / "r.html")],
    }[kind]


@pytest.mark.parametrize("kind", ["workload", "scenario", "sweep", "pod", "plan-pod", "report"])
@pytest.mark.parametrize("bad", sorted(BAD_BYTES))
def test_files_that_are_not_toml(tmp_path, kind, bad):
    data, needle = BAD_BYTES[bad]
    path = tmp_path / "f.toml"
    path.write_bytes(data)
    if bad == "empty":
        needle = {"scenario": "missing [pod]", "sweep": "missing [sweep]", "pod": "missing [pod]",
                  "plan-pod": "missing [pod]"}.get(kind, "")
    result = run_main(*_file_command(kind, path, tmp_path))
    assert_clean_error(result, "f.toml", needle)


def test_a_chip_file_that_is_not_utf8(tmp_path):
    text = (REPO / "topologies" / "chip-v4.toml").read_text()
    (tmp_path / "chip-x.toml").write_bytes(text.encode("utf-16"))
    pod = (REPO / "topologies" / "pod-tpu-v4-4096.toml").read_text()
    (tmp_path / "pod-x.toml").write_text(pod.replace('chip = "v4"', 'chip = "chip-x.toml"'))
    assert_clean_error(run_main("topology", "--pod", str(tmp_path / "pod-x.toml")), "chip-x.toml", "UTF-16")


@pytest.mark.parametrize("kind", ["workload", "scenario", "sweep", "pod"])
def test_missing_files_and_directories(tmp_path, kind):
    assert_clean_error(run_main(*_file_command(kind, tmp_path / "nope.toml", tmp_path)), "not found")
    assert_clean_error(run_main(*_file_command(kind, tmp_path, tmp_path)))


def test_efficiency_file_is_read_strictly(tmp_path, monkeypatch):
    from tpusim.workloads import efficiency

    text = (REPO / "topologies" / "efficiency.toml").read_text()
    (tmp_path / "efficiency.toml").write_text(text.replace("mxu_fraction = 0.85", "mxu_fracton = 0.85"))
    monkeypatch.setattr(efficiency, "data_dir", lambda folder: tmp_path)
    efficiency.load_efficiency.cache_clear()
    try:  # the library call: estimates already made are cached with the shipped constants
        typo = r"efficiency.toml .*'mxu_fraction' \(is 'mxu_fracton' a typo of it\?\)$"
        with pytest.raises(TpusimError, match=typo):
            efficiency.load_efficiency()
    finally:
        efficiency.load_efficiency.cache_clear()


# --- every command's options ---------------------------------------------------------------------------

OPTIONS = [
    (("catalog", "--jsn"), ("no such option",)),
    (("topology", "--pod", "tpu-v4-4069"), ("unknown pod", "tpu-v4-4096")),
    (("topology", "--slice", "4x4x0"), ("positive",)),
    (("topology", "--slice", "4x4x4", "--twisted"), ("cannot be twisted",)),
    (("plan", "--availability", "1.5"), ("availability",)),
    (("plan", "--availability", "nan"), ("availability",)),
    (("plan", "--availability", "0.99,abc"), ("availability",)),
    (("plan", "--samples", "0"), ("samples",)),
    (("plan", "--samples", "100000000000"), ("--samples", "limit", "--no-limits")),
    (("plan", "--slices", "0"), ("slices",)),
    (("plan", "--chips", "4000"), ("4000", "known pods")),
    (("plan", "--pod", "tpu-v4-4096", "--chips", "9216"), ("4096 chips, not 9216",)),
    (("plan", "--pod", "tpu-v4-4096", "--generation", "v5p"), ("not v5p",)),
    (("plan", "--generation", "v9"), ("v9",)),
    (("plan", "--target", "2"), ("target",)),
    (("plan", "--faulty-cubes", "1,x"), ("faulty-cubes",)),
    (("plan", "--faulty-cubes", "64"), ("64",)),
    (("plan", "--chip-availability", "0"), ("(0, 1]",)),
    (("plan", "--domain-cubes", "3", "--domain-availability", "0.5"), ("domain",)),
    (("plan", "--chart", "x.txt"), (".png",)),
    (("plan", "--seed", "-1"), ("seed",)),
    (("estimate", "no-such-model"), ("unknown workload", "not found")),
    (("estimate", "palm-8b", "--chip", "v9"), ("unknown chip",)),
    (("estimate", "palm-8b", "--chips", "100"), ("100",)),
    (("estimate", "palm-8b", "--chips", "-64"), ("chips",)),
    (("estimate", "palm-8b", "--slices", "0"), ("slices",)),
    (("estimate", "palm-8b", "--slice", "4x4x5"), ("4x4x5",)),
    (("estimate", "palm-8b", "--global-batch", "0"), ("global-batch",)),
    (("estimate", "palm-8b", "--search", "--top", "0"), ("top",)),
    (("simulate", "no-such-scenario"), ("unknown scenario",)),
    (("simulate", "palm-540b-50d", "--days", "0"), ("--days",)),
    (("simulate", "palm-540b-50d", "--days", "1e9"), ("--days", "3650")),
    (("simulate", "palm-540b-50d", "--days", "nan"), ("--days",)),
    (("simulate", "palm-540b-50d", "-n", "0"), ("--replications",)),
    (("simulate", "palm-540b-50d", "-n", "10000000"), ("--replications",)),
    (("simulate", "palm-540b-50d", "--seed", "-2"), ("--seed",)),
    (("simulate", "palm-540b-50d", "--workers", "0"), ("--workers",)),
    (("simulate", "palm-540b-50d", "--workers", "100000"), ("--workers", "per CPU")),
    (("simulate", "palm-540b-50d", "--out", "x.xlsx"), (".csv",)),
    (("simulate", "palm-540b-50d", "--chart", "x.txt"), (".png",)),
    (("sweep", "no-such-sweep", "--out", "o.csv"), ("unknown sweep",)),
    (("sweep", "plan-availability", "--out", "o.txt"), (".csv",)),
    (("sweep", "plan-availability", "--out", "o.csv", "--backend", "mpi"), ("backend",)),
    (("sweep", "plan-availability", "--out", "o.csv", "--workers", "0"), ("--workers",)),
    (("report", "--out", "r.html"), ()),
    (("report", "no-such-thing", "--out", "r.html"), ("no-such-thing",)),
    (("validate", "--area", "estimat"), ("unknown --area", "did you mean 'estimate'")),
    (("validate", "--area", ","), ("names no area", "estimate, embeddings, plan, simulate")),
    (("validate", "--workers", "0"), ("--workers",)),
]


@pytest.mark.parametrize(("args", "needles"), OPTIONS, ids=[" ".join(a) for a, _ in OPTIONS])
def test_command_options(tmp_path, args, needles):
    args = [str(tmp_path / a) if a in ("o.csv", "o.txt", "r.html", "x.xlsx", "x.txt") else a for a in args]
    assert_clean_error(run_main(*args, cwd=REPO), *needles)


def test_every_command_is_in_the_catalogue():
    from tpusim.cli.app import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    covered = {a[0] for a, _ in OPTIONS}
    assert commands <= covered, commands - covered
