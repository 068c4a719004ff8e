"""Lessons step cell by cell as notebooks: each ``# %%`` script opened by jupytext, run by Jupyter's own client.

This is what Jupyter and VS Code do with a lesson: one kernel, one cell at a time, no command line (so smoke mode
comes from ``TINYNET_SMOKE=1``). jupytext, nbclient and ipykernel are in the dev extra.
"""

import json
import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

LESSONS = Path(__file__).resolve().parents[1] / "lessons"


@pytest.mark.parametrize("name", ["02_autograd", "03_activations_and_losses"])
def test_lesson_steps_cell_by_cell_in_a_notebook(name, tmp_path, monkeypatch):
    notebook = jupytext.read(LESSONS / f"{name}.py")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code_cells) >= 5, "a lesson is cut into cells (# %%), not one block"
    # The kernel inherits this environment: a smoke run, one BLAS thread (small matrices, a busy machine).
    monkeypatch.setenv("TINYNET_SMOKE", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(LESSONS.parent), os.environ.get("PYTHONPATH", "")]))
    # The kernel's working folder is tmp_path, so the lesson writes to tmp_path/tinynet-out/NAME.
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except nbclient.exceptions.CellExecutionError as err:
                pytest.fail(f"{name}: cell {index} failed when stepped in a notebook:\n{cell.source}\n{err}")
    results = json.loads((tmp_path / "tinynet-out" / name / "results.json").read_text())
    assert results["smoke"] is True, "TINYNET_SMOKE=1 should make the notebook a smoke run"
    # The last cell lists the lesson's exercises, read from the exercise registry.
    last_output = "".join(output.get("text", "") for output in code_cells[-1].outputs)
    from tinynet.exercises.registry import EXERCISES

    for exercise in EXERCISES:
        if exercise.lesson == name:
            assert f"tinynet exercises start {exercise.name}" in last_output, last_output
    assert "What to try next" in last_output, last_output
