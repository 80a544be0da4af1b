"""The model's efficiency constants, loaded from `topologies/efficiency.toml`.

One set for every workload and chip; each value has a [sources] entry (checked here).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

from tpusim.data import data_dir, load_toml, require_key, require_table
from tpusim.errors import TpusimError, require_positive, require_probability

FILE = "efficiency.toml"


@dataclass(frozen=True)
class Efficiency:
    mxu_fraction: float
    hbm_fraction: float
    ici_link_fraction: float
    dcn_fraction: float
    collective_launch_s: float
    dcn_latency_s: float


@cache
def load_efficiency() -> Efficiency:
    """The shipped efficiency constants (cached)."""
    path = data_dir("topologies") / FILE
    doc = load_toml(path)
    where = str(path)
    table = require_table(doc, "efficiency", where)
    sources = doc.get("sources", {})
    values = {}
    for f in fields(Efficiency):
        value = require_key(table, f.name, where, (int, float))
        if f.name.endswith("_fraction"):
            values[f.name] = require_probability(where, f.name, value)
        else:
            values[f.name] = require_positive(where, f.name, value)
        if f.name not in sources:
            raise TpusimError(f"{where}: no [sources] entry for {f.name}; cite where the value comes from")
    return Efficiency(**values)
