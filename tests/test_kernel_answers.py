"""The grading kernel holds no answers (issue 19): what it can import or read of the course, and controls.

The sandbox shows the kernel the kernel's side of the checks only (`graders.runner.sandbox.KERNEL_SIDE`).
Each test runs the same code twice: in the grading kernel, where the answers must be out of reach, and as a
control where they are within reach (the same kernel without the sandbox's isolation, as
``--unsafe-no-sandbox`` grades), so that the test fails if the protection is a no-op.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_sandbox import run, text

from graders.runner import sandbox
from graders.runner.sandbox import KERNEL_SIDE, problems

pytestmark = pytest.mark.slow

TRUSTED = ("graders.check.trusted.judge", "graders.check.trusted.comparison_judge", "graders.check.trusted.references", "graders.check.trusted.holdout", "graders.check.trusted.model_files",
           "graders.check.trusted.inputs", "graders.check.trusted.comparison_inputs",
           "graders.check.trusted.network", "graders.runner", "graders.author", "graders.review", "solutions")
VIEW = f"""
import importlib, json, os, graders
found = {{}}
for name in {list(TRUSTED)!r}:
    try:
        importlib.import_module(name)
        found[name] = True
    except Exception:
        found[name] = False
folder = graders.__path__[0]
listing = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)
print(json.dumps({{"imported": found, "files": listing}}))
"""


@pytest.fixture(scope="module", autouse=True)
def sandbox_works():
    assert not problems(), f"the grading sandbox cannot run here: {problems()}"


def view(tmp_path: Path, **provisioner) -> dict:
    notebook = run([VIEW], tmp_path / "work", **provisioner)
    return json.loads(text(notebook.cells[0]).splitlines()[-1])


def without_isolation(monkeypatch) -> None:
    """The control: bubblewrap reported missing, so that the kernel runs unisolated (with ``unsafe_no_sandbox``)."""
    monkeypatch.setattr(sandbox, "problems", lambda: {"isolation": "switched off for a control run"})


def test_the_kernel_sees_the_kernel_side_of_graders_only(tmp_path, monkeypatch):
    seen = view(tmp_path / "sandboxed")
    assert not any(seen["imported"].values()), seen["imported"]
    sources = {name for name in seen["files"] if name.endswith(".py")}
    assert sources and all(any(name == part or name.startswith(f"{part}/") for part in KERNEL_SIDE) for name in sources), sources
    assert not [name for name in seen["files"] if name.startswith(("check/trusted/", "runner/", "author/", "review/"))], seen["files"]
    compiled = {name for name in seen["files"] if name.endswith(".pyc")}
    trusted = {"judge", "comparison_judge", "inputs", "comparison_inputs", "holdout", "model_files", "network", "references", "cli"}
    assert not [name for name in compiled if name.split("/")[-1].split(".")[0] in trusted], compiled
    # the control: the same kernel without the sandbox's isolation reaches the trusted side
    without_isolation(monkeypatch)
    control = view(tmp_path / "control", unsafe_no_sandbox=True)
    assert control["imported"]["graders.check.trusted.judge"] and control["imported"]["graders.check.trusted.network"], control["imported"]
