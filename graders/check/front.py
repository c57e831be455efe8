"""What the notebooks' checker objects share: the hidden tests' entry point (`grade`), the guard of the whole-pipeline
cell, and `Checks`, the base of `StepChecks` (graders.check.notebook) and `ComparisonChecks` (graders.check.comparison).

A checker probes and judges a step here, in the notebook's kernel, for a self-check: the probe on the kernel's side
(`graders.check.kernel`), the judge on the trusted side (`graders.check.trusted`), each found through the exercise's
registry (`graders.check.shared.exercises`). In the grading kernel the trusted side is not there: a hidden test is
decided by the grading process (`graders.runner.verdict`), and `grade` is never run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import warnings

from graders.check.kernel.quiet import quiet
from graders.check.shared.checks import CheckFailed
from graders.check.shared.checks.failures import short
from graders.check.shared.exercises import exercise

# The hidden tests' entry point ---------------------------------------------------------------
_grader = None  # the checker the notebook's locked setup cell made


def register(checker) -> None:
    """Make `checker` (a StepChecks or ComparisonChecks) the one `grade` uses."""
    global _grader
    _grader = checker


def grade(kind: str, dataset: str | None, step: str, *objects, points: float | None = None):
    """A hidden test: the checks of `step` on `objects` (for "results", the points earned).

    At grading, the grading process reads this call from the test cell and decides it itself,
    outside the kernel (`graders.runner.verdict`); the kernel never runs it. Run in a kernel (the
    source notebook, outside grading), it runs the same probe and judge here, with the setup
    cell's checker.
    """
    if _grader is None:
        raise CheckFailed("the checks were not set up: run the notebook from its first cell")
    if step == "results":
        return _grader.score_results(*objects, points=points)
    _grader.hidden(step, *objects)


@contextlib.contextmanager
def guard(what: str):
    """Turn an exception in the block into one stderr line (and no traceback); the notebook goes on.

    The line says where the block stopped (the step, the student's line, the cell's line) and what to do:
    fix the step whose check failed above, or, when every step passed its checks, that the steps clash
    (`StepChecks.explain_stop`).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except NotImplementedError:
        print(
            f"✗ {what} stopped: a function it needs is not written yet. Fill in the cells above, then re-run this cell.",
            file=sys.stderr,
        )
    except Exception as error:
        explain = getattr(_grader, "explain_stop", None)
        try:
            message = explain(what, error) if explain is not None else None
        except Exception:  # the explanation is a courtesy: never let it hide the error itself
            message = None
        print(
            message
            or f"✗ {what} stopped: {type(error).__name__}: {short(error)}. "
            "Fix the step(s) whose self-check failed above, then re-run this cell.",
            file=sys.stderr,
        )


class Checks:
    """Self-checks (`public`, `passes`) and graded checks (`hidden`) of one exercise's steps, each probed and judged here.

    A subclass sets `kind` (what its hidden tests name: a framework, or "comparison") and `dataset`, and may say which
    steps it has (`known`) and which of the notebook's objects a step takes (`objects`).
    """

    kind: str
    dataset: str | None = None

    def __init__(self):
        self.verdicts: dict[str, bool] = {}  # step -> whether its last checks passed (see StepChecks.explain_stop)
        register(self)

    @functools.cached_property
    def case(self):
        """The trusted side of the checks, for a self-check in the student's own kernel (ImportError in the grading kernel)."""
        return exercise(self.kind).case(self.kind, self.dataset)

    def known(self, step: str) -> None:
        """Raise for a step this exercise does not have."""
        self.case.known(step)

    def objects(self, step: str, objects: tuple) -> tuple:
        """What the probe of `step` is handed: the objects the cell named."""
        return objects

    def verdict(self, step: str, *objects, hidden: bool):
        """Probe and judge `step` here, on the student's `objects` and the inputs and model files the grader hands out
        (written into a temporary folder): the trusted side's Verdict."""
        self.known(step)
        objects = self.objects(step, objects)
        inputs = self.case.inputs(step, hidden)
        with tempfile.TemporaryDirectory(prefix="course-check-") as folder:
            given = {name: array.copy() for name, array in inputs.items()}  # the student's code may write into what it is given
            given |= placed(self.case.files(step, hidden), folder)
            observation = exercise(self.kind).observe(self.kind, step, objects, given, hidden)
        with quiet():
            verdict = self.case.judge(step, inputs, observation, hidden)
        self.verdicts[step] = verdict.ok
        return verdict

    def public(self, step: str, *objects) -> None:
        """The self-check cell's call: `passes`, without a value for the notebook to show as Out[]."""
        self.passes(step, *objects)

    def passes(self, step: str, *objects) -> bool:
        """Run `step`'s self-checks on the student's objects.

        Prints '✓ step: what passed; ...' to stdout, or one '✗ ...' line per failure to stderr; returns True or
        False; never raises.
        """
        try:
            verdict = self.verdict(step, *objects, hidden=False)
        except CheckFailed as failure:
            print(f"✗ {failure}", file=sys.stderr)
            return False
        except Exception as error:  # never raise in a self-check
            print(f"✗ {step}: the check itself failed: {type(error).__name__}: {short(error)}", file=sys.stderr)
            return False
        if verdict.failures:
            for failure in verdict.failures:
                print(f"✗ {failure}".replace("\n", "\n✗ "), file=sys.stderr)
            return False
        print(passed_line(verdict, hidden=False))
        return True

    def hidden(self, step: str, *objects) -> None:
        """Run `step`'s self-checks and hidden checks; raise CheckFailed (an AssertionError) with its failures, else print ✓."""
        verdict = self.verdict(step, *objects, hidden=True)
        if verdict.failures:
            raise CheckFailed.combine(verdict.failures) from None
        print(passed_line(verdict, hidden=True))

    guard = staticmethod(guard)


def passed_line(verdict, hidden: bool) -> str:
    """The ✓ line of a verdict (`graders.check.trusted.judge.passed_line`)."""
    from graders.check.trusted.judge import passed_line as line

    return line(verdict, hidden)


def caller_namespace() -> dict:
    """The globals and locals of the code that called a checker's method (the notebook): the first frame outside `graders`."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("graders."):
        frame = frame.f_back
    return {**frame.f_globals, **frame.f_locals}


def placed(files: dict, folder: str) -> dict:
    """The probe's inputs naming the grader's framework files, written into `folder` (`graders.check.trusted.judge.place_files`)."""
    from graders.check.trusted.judge import place_files

    def write(name: str, data: bytes) -> None:
        with open(os.path.join(folder, name), "xb") as file:
            file.write(data)

    return place_files(files, folder, "", write)
