"""Workload kinds: which model reads a workload file (`[model] kind`), and one loader for all.

Kinds: "dense_llm" (the default when `kind` is absent; tpusim.workloads.config) and "dlrm"
(embedding models; tpusim.workloads.dlrm). Anything else is an error naming the known kinds.
"""

from __future__ import annotations

from pathlib import Path

from tpusim.errors import TpusimError, unknown_name
from tpusim.inputs import load_toml
from tpusim.workloads.config import workload_path

KINDS = ("dense_llm", "dlrm")


def workload_kind(ref: str | Path, *, relative_to: Path | None = None) -> str:
    """The `[model] kind` of a workload file ("dense_llm" when absent)."""
    path = workload_path(ref, relative_to=relative_to)
    model = load_toml(path).get("model", {})
    kind = model.get("kind", "dense_llm") if isinstance(model, dict) else "dense_llm"
    if not isinstance(kind, str) or kind not in KINDS:
        raise unknown_name(f"workload kind in {path} [model] kind", str(kind), KINDS)
    return kind


def load_any(ref: str | Path, *, relative_to: Path | None = None):
    """The workload a file describes, read by the model of its kind."""
    if workload_kind(ref, relative_to=relative_to) == "dlrm":
        from tpusim.workloads.dlrm.config import load_dlrm

        return load_dlrm(ref, relative_to=relative_to)
    from tpusim.workloads.config import load_workload

    return load_workload(ref, relative_to=relative_to)


def require_kind(wl, kind: str, what: str) -> None:
    """Raise unless `wl` is of `kind` (for options that only one model has)."""
    have = getattr(wl, "kind", "dense_llm")
    if have != kind:
        raise TpusimError(f"{what} applies to {kind} workloads; {getattr(wl, 'name', 'this')} is {have}")
