"""The course's two kinds of exercise behind one interface, and the registry that finds the one a test cell names.

A hidden test cell calls ``grade(kind, dataset, step, *names)``: `kind` is a pipeline's framework ("tf1", "tf2",
"torch") or "comparison". `exercise(kind)` is the one place that tells them apart. An `Exercise` declares its plan
(the kinds, datasets and steps it checks) and where each side's half of it lives:

* `observe`, on the grading kernel's side: its probe calls the notebook's objects on the grader's inputs and hands
  back an `Observation` (`graders.check.kernel.probe`, `graders.check.kernel.comparison_probe`);
* `case`, on the grading process's side: the inputs and model files it hands out, and its judgment of an
  observation, a `Verdict` (`graders.check.trusted.judge.Case`, `graders.check.trusted.comparison_judge.ComparisonCase`);
* `front`, the notebook's object that runs both halves for a self-check (`StepChecks`, `ComparisonChecks`).

Each half is imported by name when a side asks for it, so neither side imports the other, and a PyTorch notebook
never imports the comparison's TensorFlow.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from course.data import DATASETS
from graders.check.shared.checks import STEPS
from graders.check.shared.comparison_contract import STEPS as COMPARISON_STEPS
from graders.check.shared.protocol import FRAMEWORKS


def _named(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Exercise:
    """One kind of exercise: what it checks, and "module:name" of each half (see the module)."""

    kinds: tuple[str, ...]
    datasets: tuple[str | None, ...]
    steps: tuple[str, ...]
    probe: str  # observe(kind, step, objects, inputs, hidden) -> Observation
    judge: str  # (kind, dataset) -> the grader's side: inputs(step, hidden), files(step, hidden), judge(...) -> Verdict
    front: str  # the notebook's checks class

    def knows(self, dataset: str | None, step: str) -> bool:
        """Whether it checks `step` on `dataset` (a test cell a student made up names others)."""
        return dataset in self.datasets and step in self.steps

    def observe(self, kind: str, step: str, objects: tuple, inputs: dict, hidden: bool):
        """The kernel's side: what the notebook's `objects` give for `inputs`, an Observation."""
        return _named(self.probe)(kind, step, objects, inputs, hidden)

    def case(self, kind: str, dataset: str | None):
        """The grading process's side for `kind` on `dataset`."""
        return _named(self.judge)(kind, dataset)


PIPELINE = Exercise(
    FRAMEWORKS, DATASETS, STEPS,
    probe="graders.check.kernel.probe:observe",
    judge="graders.check.trusted.judge:Case",
    front="graders.check.notebook:StepChecks",
)
COMPARISON = Exercise(
    ("comparison",), (None,), COMPARISON_STEPS,
    probe="graders.check.kernel.comparison_probe:observe",
    judge="graders.check.trusted.comparison_judge:ComparisonCase",
    front="graders.check.comparison:ComparisonChecks",
)
EXERCISES = (PIPELINE, COMPARISON)


def exercise(kind: str) -> Exercise | None:
    """The exercise whose test cells name `kind`; None for a kind the course has not."""
    return next((found for found in EXERCISES if kind in found.kinds), None)
