"""The strict input reader (`tpusim.inputs`): encodings, typed getters, ranges, unknown keys, and
the silent typos it closes in every file kind (each was once accepted with exit 0)."""

from __future__ import annotations

import math

import pytest
from conftest import REPO, assert_clean_error, run_main

from tpusim.errors import TpusimError
from tpusim.inputs import (
    Section,
    UnknownKeyError,
    check_integer,
    check_number,
    fmt_shape,
    load_toml,
    parse_shape,
    read_toml,
)

# --- files ----------------------------------------------------------------------------------------

TEXT = 'a = 1\n[t]\nname = "x"\n'


@pytest.mark.parametrize(("data", "needle"), [
    (TEXT.encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
    (TEXT.encode("utf-16-be"), "UTF-16 text without a byte-order mark"),
    (TEXT.encode("utf-16"), "UTF-16 text; save it as UTF-8"),
    (bytes(range(256)) * 3, "binary data"),
    ('name = "Zürich"\n'.encode("latin-1"), "not UTF-8 text (byte 0xfc on line 1)"),
    (b"a = 1\nb = 16x16\n", "line 2"),
    # the parser names no line at the end of the file: the message must not point at "that line"
    (b"x = [", "fix the syntax at the end of the file: a value, a closing bracket or a quote"),
])
def test_files_that_are_not_utf8_toml_name_the_problem(tmp_path, data, needle):
    path = tmp_path / "f.toml"
    path.write_bytes(data)
    with pytest.raises(TpusimError, match="f.toml") as info:
        load_toml(path)
    assert needle in str(info.value)


def test_utf8_with_bom_and_plain_utf8_read_the_same(tmp_path):
    plain, bom = tmp_path / "a.toml", tmp_path / "b.toml"
    plain.write_text(TEXT, encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert load_toml(plain) == load_toml(bom) == {"a": 1, "t": {"name": "x"}}


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(TpusimError, match="file not found"):
        load_toml(tmp_path / "nope.toml")
    with pytest.raises(TpusimError, match="is a directory"):
        load_toml(tmp_path)


# --- single values --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "kwargs", "needle"), [
    (math.nan, {}, "finite"),
    (math.inf, {"above": 0}, "positive finite number"),
    (-math.inf, {}, "finite"),
    (5e-324, {"above": 0}, "denormal"),
    (True, {}, "got true"),
    ("3", {}, "got '3'"),
    (0, {"above": 0}, "a positive number, got 0"),
    (1.5, {"above": 0, "at_most": 1}, "in (0, 1], got 1.5"),
    (-1, {"at_least": 0}, ">= 0, got -1"),
    (1e300, {"above": 0, "scale": 1e10}, "out of range once converted"),
])
def test_check_number_refuses(value, kwargs, needle):
    with pytest.raises(TpusimError) as info:
        check_number(value, "x_s", "here", **kwargs)
    assert needle in str(info.value) and str(info.value).startswith("here: x_s")


def test_check_number_accepts_and_scales():
    assert check_number(2, "x", "w", above=0, scale=3600.0) == 7200.0
    assert check_number(0.0, "x", "w", at_least=0) == 0.0
    assert check_number(1, "p", "w", above=0, at_most=1) == 1.0


@pytest.mark.parametrize(("value", "needle"), [
    (2.5, "got 2.5"), (True, "got true"), (math.nan, "got nan"), ("4", "got '4'"), (0, "positive"),
])
def test_check_integer_refuses(value, needle):
    with pytest.raises(TpusimError, match="n must be a positive integer") as info:
        check_integer(value, "n", "w", at_least=1)
    assert needle in str(info.value)


def test_check_integer_takes_whole_floats():
    assert check_integer(1e6, "steps", "w", at_least=1) == 1_000_000
    assert check_integer(7, "n", "w", at_least=0, at_most=7) == 7


@pytest.mark.parametrize("shape", [(1,), (4, 4, 8), (16, 20, 28)])
def test_shape_round_trip(shape):
    assert parse_shape(fmt_shape(shape)) == shape


@pytest.mark.parametrize(("text", "needle"), [
    ("4x4xa", "cannot read shape"), ("-4x4x4", "positive sides"), ("0x4", "positive sides"),
    ("", "cannot read shape"), ("４x4", "cannot read shape"), ("4x4x9999999", "no pod"),
])
def test_bad_shapes(text, needle):
    with pytest.raises(TpusimError, match=needle):
        parse_shape(text)


# --- tables ---------------------------------------------------------------------------------------

def test_getters_defaults_and_done():
    doc = Section({"model": {"layers": 4, "mlp": "gelu", "shape": "2x2x1"}, "sources": {"layers": "s"}},
                  "f.toml")
    model = doc.section("model")
    assert model.integer("layers", at_least=1) == 4
    assert model.integer("heads", 8, at_least=1) == 8  # default returned as given
    assert model.choice("mlp", ("gelu", "swiglu"), "swiglu") == "gelu"
    assert model.shape("shape") == (2, 2, 1)
    assert model.number("dropout", None, at_least=0) is None
    assert doc.mapping("sources", keys=["layers"]) == {"layers": "s"}
    assert doc.optional_section("parallelism") is None
    assert doc.section("run", required=False).boolean("warm", True) is True
    doc.done()  # every key was asked for


@pytest.mark.parametrize(("data", "needle"), [
    ({"model": {"layers": 4, "layerz": 5}},
     "f.toml [model]: unknown key 'layerz'; did you mean 'layers'? known: layers"),
    ({"model": {"layers": 4}, "modle": {}},
     "f.toml: unknown section [modle]; did you mean [model]? known: [model]"),
    ({"model": {"layers": 4}, "colour": "blue"}, "f.toml: unknown key 'colour'; known: [model]"),
])
def test_done_refuses_keys_never_asked_for(data, needle):
    doc = Section(data, "f.toml")
    doc.section("model").integer("layers")
    with pytest.raises(UnknownKeyError) as info:
        doc.done()
    assert str(info.value) == needle


def test_missing_keys_and_tables_point_at_a_typo():
    doc = Section({"modle": {"layerz": 1}}, "f.toml")
    with pytest.raises(TpusimError, match=r"missing \[model\] table \(is \[modle\] a typo of it\?\)"):
        doc.section("model")
    with pytest.raises(TpusimError, match=r"missing key 'layers' \(is 'layerz' a typo of it\?\)"):
        doc.section("modle").integer("layers")


def test_a_key_the_file_has_is_never_blamed_as_a_typo():
    """A range error on one key must not call a valid key read later ('sparsecores_per_chip')
    a typo of a key the file also has ('tensorcores_per_chip')."""
    data = {"chip": {"tensorcores_per_chip": 2, "rate": 0, "sparsecores_per_chip": 4}}

    def read() -> None:
        with Section(data, "f.toml") as top:
            table = top.section("chip")
            table.integer("tensorcores_per_chip")
            table.number("rate", above=0)

    with pytest.raises(TpusimError) as info:
        read()
    assert "typo" not in str(info.value)


def test_choice_suggests_the_closest_option():
    doc = Section({"remat": "ful"}, "f.toml")
    with pytest.raises(TpusimError, match="remat must be one of none, full, got 'ful'; did you mean 'full'"):
        doc.choice("remat", ("none", "full"))


def test_allow_declares_keys_read_only_in_some_cases():
    doc = Section({"ocs": False, "ocs_ports": 136}, "pod.toml")
    doc.boolean("ocs")
    doc.allow("ocs_ports")
    doc.done()


def test_array_of_tables_are_strict_with_their_index():
    doc = Section({"jobs": [{"name": "a"}, {"name": "b", "slcie": "4x4x4"}]}, "s.toml")
    for job in doc.sections("jobs"):
        job.string("name")
        job.string("slice", None)
    with pytest.raises(UnknownKeyError, match=r"\[\[jobs\]\] #2: unknown key 'slcie'; did you mean 'slice'"):
        doc.done()


def test_read_toml_equals_tomllib(tmp_path):
    import tomllib

    path = REPO / "scenarios" / "palm-540b-50d.toml"
    assert read_toml(path).data == tomllib.loads(path.read_text())


# --- each file kind: typos and contradictions that used to pass silently ----------------------------

def _workload(tmp_path, old: str, new: str, extra: str = ""):
    text = (REPO / "workloads" / "palm-8b.toml").read_text()
    assert old in text
    path = tmp_path / "w.toml"
    path.write_text(text.replace(old, new) + extra)
    return str(path)


@pytest.mark.parametrize(("old", "new", "extra", "needles"), [
    ('remat = "minimal"', 'remats = "none"', "", ("unknown key 'remats'", "did you mean 'remat'")),
    ("[model]", "[model]\ntie_embedding = false", "", ("tie_embedding", "'tie_embeddings'")),
    ("[system]", "[system]", "\n[parallelism]\nmicrobatch = 8\n", ("microbatch", "'microbatches'")),
    ("[training]", "[trainig]", "", ("missing [training]", "[trainig]")),
    ("layers = 32", "layers = 32.5", "", ("layers must be a positive integer up to 10000, got 32.5",)),
    ("layers = 32", "layers = nan", "", ("layers", "nan")),
])
def test_workload_typos_are_errors(tmp_path, old, new, extra, needles):
    assert_clean_error(run_main("estimate", _workload(tmp_path, old, new, extra)), *needles)


def test_chip_with_a_denormal_or_tiny_link_rate_is_refused_at_load(tmp_path):
    chip = (REPO / "topologies" / "chip-v4.toml").read_text()
    pod = (REPO / "topologies" / "pod-tpu-v4-4096.toml").read_text()
    for value, needle in (("1e-310", "denormal"), ("1e-300", "in [1, 1e+24]")):
        (tmp_path / "chip-x.toml").write_text(
            chip.replace("ici_link_one_way_bytes_per_s = 4.5e10", f"ici_link_one_way_bytes_per_s = {value}"))
        (tmp_path / "pod-x.toml").write_text(pod.replace('chip = "v4"', 'chip = "chip-x.toml"'))
        assert_clean_error(run_main("topology", "--pod", str(tmp_path / "pod-x.toml")),
                           "ici_link_one_way_bytes_per_s", needle)


def test_chip_assumption_for_a_key_that_does_not_exist(tmp_path):
    from tpusim.hardware import load_chip

    chip = (REPO / "topologies" / "chip-v4.toml").read_text()
    (tmp_path / "chip-y.toml").write_text(chip.replace("[assumptions]\n", '[assumptions]\nmxu_dimm = "x"\n'))
    with pytest.raises(TpusimError, match="unknown key 'mxu_dimm'; did you mean 'mxu_dim'"):
        load_chip(tmp_path / "chip-y.toml")


def _scenario(tmp_path, old: str, new: str) -> str:
    text = (REPO / "scenarios" / "palm-540b-50d.toml").read_text()
    assert old in text
    path = tmp_path / "s.toml"
    path.write_text(text.replace(old, new))
    return str(path)


@pytest.mark.parametrize(("old", "new", "args", "needles"), [
    ("train_tokens = 780e9", "train_tokens = 780e9\nsubmit_hours = nan", (), ("submit_hours", "nan")),
    ("train_tokens = 780e9", "train_tokens = 780e9\nsubmit_hours = 100", ("--days", "2"),
     ("submitted at 100 h", "after the run ends")),
    ("seed = 7", "seed = 7\n[[inject]]\nat_hours = nan\ncube = 1\nduration_hours = 1",
     (), ("at_hours", "nan")),
    ('ttf = "exponential"', 'ttf = "weibull"\nttf_shape = 0.001', (), ("ttf_shape", "[0.1, 20]")),
    ("ttr_shape = 0.5", "ttr_shape = 1e308", (), ("ttr_shape", "[0.01, 4]")),
    ("crews = 0", "crew = 0", (), ("unknown key 'crew'", "did you mean 'crews'")),
    ("[repair]", "[repiar]", (), ("unknown section [repiar]", "did you mean [repair]")),
    ("mttr_hours = 48", "mttr_hours = 48\nttr_shaep = 1", (), ("ttr_shaep", "'ttr_shape'")),
])
def test_scenario_bad_values_are_errors(tmp_path, old, new, args, needles):
    assert_clean_error(run_main("simulate", _scenario(tmp_path, old, new), *args), *needles)


def _sweep(tmp_path, body: str) -> str:
    path = tmp_path / "sw.toml"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize(("body", "needles"), [
    ('[sweep]\nkind = "estimate"\nbase = "workloads/palm-8b.toml"\nseed = 5\n[grid]\nslices = [1]\n',
     ("unknown key 'seed'", "grid values go in [grid]")),
    ('[sweep]\nkind = "estimate"\nbase = "workloads/palm-8b.toml"\n[grid]\n"model.layerz" = [2, 3]\n',
     ("not in the base file palm-8b.toml", "'layerz'", "did you mean 'layers'")),
    ('[sweep]\nkind = "simulate"\nbase = "scenarios/palm-540b-50d.toml"\n[grid]\n'
     '"recovery.checkpoint_sav_s" = [30]\n', ("checkpoint_sav_s", "'checkpoint_save_s'")),
    ('[sweep]\nkind = "plan"\n[grid]\navailabilty = [0.99]\n', ("unknown grid key 'availabilty'",
                                                              "did you mean 'availability'")),
    ('[sweep]\nkind = "plan"\nbase = "x.toml"\n[grid]\navailability = [0.99]\n', ("no base file",)),
    ('[sweep]\nkind = "estimat"\n[grid]\nx = [1]\n', ("kind must be one of", "did you mean 'estimate'")),
])
def test_sweep_typos_are_errors_before_any_point_runs(tmp_path, body, needles):
    out = tmp_path / "out.csv"
    assert_clean_error(run_main("sweep", _sweep(tmp_path, body), "--out", str(out)), *needles)
    assert not out.exists()


@pytest.mark.parametrize(("args", "needles"), [
    (("--pod", "tpu-v4-4096", "--chips", "9216"), ("4096 chips, not 9216",)),
    (("--pod", "tpu-v4-4096", "--generation", "v5p"), ("v4 chips, not v5p",)),
])
def test_contradictory_plan_options(args, needles):
    assert_clean_error(run_main("plan", "--samples", "5", *args), *needles)


def test_agreeing_plan_options_are_fine():
    assert run_main("plan", "--pod", "tpu-v4-4096", "--chips", "4096", "--generation", "v4",
                    "--slice", "4x4x4", "--samples", "5", "--json").returncode == 0


def test_an_edited_file_is_read_again(tmp_path):
    from tpusim.workloads import load_workload

    path = _workload(tmp_path, "layers = 32", "layers = 32")
    assert load_workload(path).model.layers == 32
    text = (tmp_path / "w.toml").read_text().replace("layers = 32", "layers = 16  # edited")
    (tmp_path / "w.toml").write_text(text)
    assert load_workload(path).model.layers == 16


def test_values_and_bounds_are_shown_as_written():
    """A TOML date was shown as datetime.date(1979, 5, 27) and the bound 2**24 as 1.67772e+07."""
    import datetime

    doc = Section({"layers": datetime.date(1979, 5, 27), "chips": 2**24 + 1}, "f.toml")
    with pytest.raises(TpusimError, match=r"got 1979-05-27$"):
        doc.integer("layers", at_least=1)
    with pytest.raises(TpusimError, match=r"up to 16777216, got 16777217$"):
        doc.integer("chips", at_least=1, at_most=2**24)
    with pytest.raises(TpusimError, match=r"up to 1e\+09, got"):
        Section({"n": 2 * 10**9}, "f.toml").integer("n", at_least=1, at_most=10**9)
