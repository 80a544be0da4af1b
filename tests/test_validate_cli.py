"""`tpusim validate` and the published table: the table's rules, the tolerance arithmetic, the
readable table, --json keys, --area, bad input, and the exit code (1 when a figure fails)."""

from __future__ import annotations

import json

import pytest
from conftest import assert_clean_error, run_main

from tpusim.errors import TpusimError
from tpusim.validation import AREAS, FIGURES, Context, Figure, Measured, check, figures, parse_areas
from tpusim.validation import published as published_table
from tpusim.validation.figure import absolute, bounds, margin, relative

ROW_KEYS = {"id", "area", "figure", "workload", "system", "convention", "unit", "published",
            "published_high", "model", "error", "relative_error", "tolerance", "spread", "ceiling",
            "within", "status", "problems", "known_miss", "source"}


def test_table_is_well_formed():
    ids = [f.id for f in FIGURES]
    assert len(ids) == len(set(ids))
    assert {f.area for f in FIGURES} == set(AREAS)
    for f in FIGURES:
        assert f.source and f.figure and f.unit, f.id
        assert f.tolerance.kind in ("abs", "rel", "bounds", "margin"), f.id
        assert f.known_miss is None or len(f.known_miss) > 20, f.id
        assert "/work/" not in f.source and "shared/" not in f.source, f.id
    misses = {f.id for f in FIGURES if f.known_miss}
    assert misses == {"maxtext-v4-52b-1x", "maxtext-v5p-dec2023-256b-v5p-1024",
                      "maxtext-v5p-dec2023-512b-v5p-1024", "maxtext-v5p-dec2023-1024b-v5p-2048"}


@pytest.mark.parametrize(("tolerance", "value", "expect"), [
    (absolute(0.25), 0.75, True),    # |0.75 - 0.5| = 0.25 <= 0.25 (exact in binary)
    (absolute(0.25), 0.25, True),
    (absolute(0.25), 0.76, False),
    (relative(0.5), 0.75, True),     # |model - p| <= 0.5 x 0.5
    (relative(0.5), 0.2, False),
    (bounds(0.3, 0.5), 0.5, True),
    (bounds(0.3, 0.5), 0.29, False),
])
def test_tolerance_rules(tolerance, value, expect):
    assert tolerance.within(Measured(value), 0.5) is expect


def test_margin_rule():
    # published 0.67, k = 4, sd 0.01: model must exceed 0.71 and stay below ceiling - 0.04
    t = margin(4)
    assert t.within(Measured(0.72, spread=0.01, ceiling=0.80), 0.67)
    assert not t.within(Measured(0.70, spread=0.01, ceiling=0.80), 0.67)  # 0.70 - 0.04 < 0.67
    assert not t.within(Measured(0.77, spread=0.01, ceiling=0.80), 0.67)  # 0.77 + 0.04 > 0.80
    assert t.within(Measured(0.77, spread=0.01), 0.67)  # no ceiling
    assert not t.within(Measured(0.90), 0.67)  # a statistical figure without its spread


def _fig(value: float, *, known_miss: str | None = None, problems: tuple[str, ...] = ()) -> Figure:
    return Figure("x", "estimate", "MFU", "w", "s", "", 0.5, "fraction", "src", absolute(0.02),
                  lambda ctx: Measured(value, problems=problems), known_miss=known_miss)


@pytest.mark.parametrize(("value", "miss", "problems", "status"), [
    (0.51, None, (), "ok"), (0.53, None, (), "fail"), (0.53, "why", (), "known_miss"),
    (0.51, "why", (), "fixed"), (0.51, None, ("does not fit",), "fail"),
])
def test_check_status(value, miss, problems, status):
    c = check(_fig(value, known_miss=miss, problems=problems))
    assert c.status == status
    assert c.error == pytest.approx(value - 0.5)
    assert c.error_text() == f"{(value - 0.5) * 100:+.1f} pt"


def test_published_range_error_is_zero_inside():
    f = Figure("r", "embeddings", "ratio", "w", "s", "", 5.0, "x", "src", bounds(3, 10),
               lambda ctx: Measured(8.0), published_high=7.0)
    assert check(f).error == pytest.approx(1.0)  # 8 - 7
    inside = Figure("r", "embeddings", "ratio", "w", "s", "", 5.0, "x", "src", bounds(3, 10),
                    lambda ctx: Measured(6.0), published_high=7.0)
    assert check(inside).error == 0.0


def test_context_computes_once():
    calls = []
    ctx = Context()
    assert ctx.get("k", lambda: calls.append(1) or 7) == 7
    assert ctx.get("k", lambda: calls.append(1) or 8) == 7
    assert calls == [1]


def test_areas_parse():
    assert parse_areas(None) == AREAS
    assert parse_areas(["plan,estimate"]) == ("estimate", "plan")
    assert parse_areas(["plan", "simulate"]) == ("plan", "simulate")
    assert [f.area for f in figures("plan")] == ["plan"] * len(figures("plan"))
    with pytest.raises(TpusimError, match="did you mean 'embeddings'"):
        parse_areas("embedding")


def test_table_output():
    r = run_main("validate", "--area", "plan,embeddings")
    assert r.returncode == 0, r.stderr
    for needle in ("plan: cube and pod availability", "embeddings: DLRM", "v4-cube-availability-0.990",
                   "0.8515", "published", "model", "error", "tolerance",
                   "status", "±5e-05", "5x - 7x", "dlrm-mlperf-v1-step-time"):
        assert needle in r.stdout, needle
    assert "estimate: dense LLMs" not in r.stdout and "simulate:" not in r.stdout
    assert "0 failed" in r.stdout


def test_estimate_area_shows_known_misses():
    r = run_main("validate", "--area", "estimate")
    assert r.returncode == 0, r.stderr
    assert "known miss" in r.stdout and "maxtext-v4-52b-1x (known miss): model 65.2%" in r.stdout
    assert "palm-540b-mfu" in r.stdout and "±2.5 pt" in r.stdout


def test_json_keys_and_area_filter():
    r = run_main("validate", "--area", "plan", "--area", "estimate", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"areas", "passed", "counts", "rows"}
    assert doc["areas"] == ["estimate", "plan"] and doc["passed"] is True
    assert set(doc["counts"]) == {"ok", "known_miss", "fixed", "fail"}
    assert {row["area"] for row in doc["rows"]} == {"estimate", "plan"}
    assert len(doc["rows"]) == len(figures(["estimate", "plan"]))
    for row in doc["rows"]:
        assert set(row) == ROW_KEYS
        assert set(row["tolerance"]) == {"kind", "value", "lo", "hi"}
    mfu = next(row for row in doc["rows"] if row["id"] == "palm-540b-mfu")
    assert mfu["published"] == 0.462 and mfu["unit"] == "fraction"  # fractions, not percent
    assert mfu["error"] == pytest.approx(mfu["model"] - 0.462)
    miss = next(row for row in doc["rows"] if row["id"] == "maxtext-v4-52b-1x")
    assert miss["status"] == "known_miss" and miss["known_miss"].startswith("model 65.2%")
    assert doc["counts"]["known_miss"] == 4 and doc["counts"]["fail"] == 0


@pytest.mark.parametrize("bad", ["estimat", "plan,bogus"])
def test_bad_area_exits_2(bad):
    r = run_main("validate", "--area", bad)
    assert_clean_error(r, "unknown --area", "estimate, embeddings, plan, simulate")
    if bad == "estimat":
        assert "did you mean 'estimate'" in r.stderr


def test_a_failing_row_exits_1(monkeypatch):
    wrong = Figure("made-up-wrong", "plan", "cube availability", "-", "s", "", 0.5, "probability",
                   "a test", absolute(1e-3), lambda ctx: Measured(0.9))
    miss = Figure("made-up-miss", "plan", "cube availability", "-", "s", "", 0.5, "probability",
                  "a test", absolute(1e-3), lambda ctx: Measured(0.9), known_miss="a known reason")
    plan_rows = tuple(f for f in FIGURES if f.area == "plan")
    monkeypatch.setattr("tpusim.validation.run.FIGURES", (*plan_rows, miss))
    ok = run_main("validate", "--area", "plan")
    assert ok.returncode == 0, ok.stdout  # a known miss alone does not fail the run
    assert "made-up-miss (known miss): a known reason" in ok.stdout
    monkeypatch.setattr("tpusim.validation.run.FIGURES", (*plan_rows, miss, wrong))
    bad = run_main("validate", "--area", "plan", "--json")
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["passed"] is False and doc["counts"]["fail"] == 1
    assert [r["status"] for r in doc["rows"] if r["id"].startswith("made-up")] == ["known_miss", "fail"]
    table = run_main("validate", "--area", "plan")
    assert table.returncode == 1 and "FAIL" in table.stdout and "1 failed" in table.stdout
    assert table.stderr == ""


def test_python_api():
    import tpusim

    result = tpusim.validate("plan")
    assert result.passed and len(result.checks) == len(figures("plan"))
    frame = result.to_frame()
    assert list(frame["id"]) == [f.id for f in figures("plan")]
    assert {"tolerance_kind", "tolerance_value", "status"} <= set(frame.columns)
    assert published_table.FIGURES is FIGURES


def test_every_area_end_to_end(cli):
    """The whole table as a user runs it (a subprocess): every figure within tolerance or a
    known miss, exit 0."""
    r = cli("validate", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["areas"] == list(AREAS) and len(doc["rows"]) == len(FIGURES)
    assert doc["counts"] == {"ok": len(FIGURES) - 4, "known_miss": 4, "fixed": 0, "fail": 0}
