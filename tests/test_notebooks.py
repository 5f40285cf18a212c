from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_both_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_train_and_evaluate.ipynb", "02_export_tflite_and_serving.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped_and_calls_the_package(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    # Notebooks show the package; they never re-implement it.
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in c.source.splitlines())
    assert notebook.cells[0].cell_type == "markdown"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TFPOSE3D_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("TFPOSE3D_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if path.stem.startswith("01"):
        assert (tmp_path / "run-small" / "model.keras").is_file()
        assert (tmp_path / "run-small" / "evaluation" / "summary.csv").is_file()
    else:
        assert len(list((tmp_path / "serving" / "tfpose3d" / "1").glob("*.tflite"))) == 3
