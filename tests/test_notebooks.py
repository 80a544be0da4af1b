"""The notebooks in notebooks/ run top to bottom in a real Jupyter kernel (nbclient + ipykernel),
with their outputs stripped in git, no backend forced (`matplotlib.use` would silence inline
plotting), and every chart shown inline as an image."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 240  # per cell


def _code(book) -> list:
    return [c for c in book.cells if c.cell_type == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_leaves_the_backend_alone(notebook):
    book = nbformat.read(notebook, as_version=4)
    assert all(not c.outputs and c.execution_count is None for c in _code(book)), \
        "strip outputs before committing"
    assert not any("matplotlib.use" in c.source for c in _code(book))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_a_kernel(notebook, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend, as in Jupyter
    monkeypatch.setenv("MPLCONFIGDIR", os.environ.get("MPLCONFIGDIR", str(tmp_path / "mpl")))
    book = nbformat.read(notebook, as_version=4)
    NotebookClient(book, timeout=TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in _code(book) for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    charts = [c for c in _code(book) if "charts." in c.source or "plt." in c.source]
    for cell in charts:  # every chart cell shows its figure inline
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
    if notebook.stem == "03-goodput-study":  # the sweep's progress bar is shown in the notebook
        html = [o["data"].get("text/html", "") for c in _code(book) for o in c.outputs
                if o.output_type in ("display_data", "update_display_data")]
        assert any("<progress" in h for h in html)
