"""The embedding model's constants: `[embedding]` of `topologies/efficiency.toml`.

One set for every workload and chip; each value has an `[embedding.sources]` entry (checked);
assumed values are listed again in `[embedding.assumptions]`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from tpusim.data import data_dir
from tpusim.filecache import file_cached
from tpusim.inputs import read_toml

FILE = "efficiency.toml"


@dataclass(frozen=True)
class EmbeddingConstants:
    sc_hbm_fraction: float
    sc_over_tc_gather_speedup: float
    host_dram_fraction: float
    host_preprocess_ids_per_s: float
    step_fixed_overhead_s: float
    input_prefetch_steps: int

    @property
    def tc_gather_fraction(self) -> float:
        """Fraction of HBM peak a TensorCore row gather reaches: the SparseCore's / speedup."""
        return self.sc_hbm_fraction / self.sc_over_tc_gather_speedup


@file_cached()
def load_embedding_constants() -> EmbeddingConstants:
    """The shipped constants (cached while the file is unchanged)."""
    table = read_toml(data_dir("topologies") / FILE).section("embedding")
    values = {
        "sc_hbm_fraction": table.number("sc_hbm_fraction", above=0, at_most=1),
        "sc_over_tc_gather_speedup": table.number("sc_over_tc_gather_speedup", above=0, at_most=1e3),
        "host_dram_fraction": table.number("host_dram_fraction", above=0, at_most=1),
        "host_preprocess_ids_per_s": table.number("host_preprocess_ids_per_s", above=0, at_most=1e15),
        "step_fixed_overhead_s": table.number("step_fixed_overhead_s", at_least=0, at_most=60),
        "input_prefetch_steps": table.integer("input_prefetch_steps", at_least=0, at_most=1000),
    }
    table.citations(f.name for f in fields(EmbeddingConstants))
    table.done()
    return EmbeddingConstants(**values)
