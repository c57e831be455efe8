"""The idioms of the sample bank (tests/submissions/, `Sample.says`) fail the step whose contract point they break,
with a message that names it: each sample's own cells run in-process, and the hidden checks of each step it loses.

tests/test_autograde.py grades the same samples for real (exact scores, the pipeline cell's message in the
Outcome); this checks the messages of the steps, fast, without nbgrader.
"""

from __future__ import annotations

import linecache

import matplotlib
import pytest
from submissions import PIPELINES, Sample, samples

import graders.check.front
from graders.check.shared.checks import CheckFailed, step_label

matplotlib.use("Agg")

IDIOMS = [(assignment, sample) for assignment in PIPELINES for sample in samples(assignment) if sample.says]


def notebook_namespace(assignment: str, sample: Sample) -> dict:
    """What the sample's notebook defines: its setup and solution cells run in order (no test or pipeline cell)."""
    namespace = {"__name__": "__main__"}
    for number, cell in enumerate(sample.notebook(assignment).cells):
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or nbgrader.get("grade") or ".guard(" in cell.source:
            continue
        filename = f"/tmp/ipykernel_0/{assignment}-{sample.name}-{number}.py"  # as ipykernel names a cell
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(keepends=True), filename)
        exec(compile(cell.source, filename, "exec"), namespace)
    return namespace


@pytest.mark.parametrize(("assignment", "sample"), IDIOMS, ids=[f"{a}-{s.name}" for a, s in IDIOMS])
def test_an_idiom_fails_the_step_whose_contract_it_breaks(assignment, sample, monkeypatch, capsys):
    monkeypatch.setattr(graders.check.front, "_grader", graders.check.front._grader)  # the notebook's checker registers itself
    namespace = notebook_namespace(assignment, sample)
    check = namespace["check"]
    capsys.readouterr()
    for step, text in sample.says.items():
        assert sample.expected[f"{step}_tests"] == 0, (sample.name, step)
        with pytest.raises(CheckFailed) as failed:
            check.hidden(step, namespace[step])
        message = str(failed.value)
        assert message.startswith(f"{step_label(step)}: ") and text in message, (sample.name, message)
