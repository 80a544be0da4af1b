"""The model's efficiency constants, loaded from `topologies/efficiency.toml`.

One set for every workload and chip; each value has a [sources] entry (checked here).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from tpusim.data import data_dir
from tpusim.filecache import file_cached
from tpusim.inputs import Section, read_toml

FILE = "efficiency.toml"


@dataclass(frozen=True)
class Efficiency:
    mxu_fraction: float
    hbm_fraction: float
    ici_link_fraction: float
    dcn_fraction: float
    collective_launch_s: float
    dcn_latency_s: float
    attention_block_tokens: int


@file_cached()
def load_efficiency() -> Efficiency:
    """The shipped efficiency constants (cached while the file is unchanged)."""
    with read_toml(data_dir("topologies") / FILE) as doc:
        return _efficiency(doc)


def _efficiency(doc: Section) -> Efficiency:
    table = doc.section("efficiency")
    values = {}
    for f in fields(Efficiency):
        if f.name.endswith("_fraction"):
            values[f.name] = table.number(f.name, above=0, at_most=1, hint="write 85% as 0.85")
        elif f.name.endswith("_tokens"):  # a kernel block: a whole number of tokens
            values[f.name] = table.integer(f.name, at_least=1, at_most=1 << 20)
        else:  # a fixed time: a positive number of seconds, at most a minute
            values[f.name] = table.number(f.name, above=0, at_most=60)
    doc.citations(f.name for f in fields(Efficiency))
    doc.allow("embedding")  # the embedding model's constants: tpusim.workloads.dlrm.constants
    doc.done()
    return Efficiency(**values)
