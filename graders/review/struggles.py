"""Where the class struggles: the figures of a `GradedClass`, computed once for the page and the terminal.

* each graded step: points, students graded, students who earned full points;
* each step's failure messages grouped by what they say: numbers, quoted code and sizes taken out
  (`pattern`), so ``expected (32, 10), found (32, 9)`` and ``found (32, 11)`` are one group;
* the held-out accuracies against the reference figure (`graders.check.trusted.references`) and the results
  scale (full points from reference - margin, none at or below the floor);
* the loss curves on one axis: median, spread, and the outliers by name (`curve_outliers`);
* the submissions that hit a limit or used reference code, the students not graded, the seconds.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from graders.review.gather import GradedCell, GradedClass

NUMBER = re.compile(r"(?<![\w.])[−+-]?\d+(?:[.,]\d+)*(?:e[−+-]?\d+)?(?![\w])", re.IGNORECASE)
QUOTED_CODE = re.compile(r"`[^`]*`")
STEP_LABEL = re.compile(r"\bstep (\d+) \((\w+)\)")  # "step 3 (build_model)": a name, not a figure
SPARKLINE = re.compile(r"[▁▂▃▄▅▆▇█]+")


@dataclass
class FailureGroup:
    """Students whose failure at one step says the same thing up to its numbers."""

    pattern: str  # the message with its numbers as '#'
    example: str  # one message as written
    students: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class StepFigures:
    cell: GradedCell
    graded: int  # students with a grade for this cell
    passed: int  # ... who earned its full points
    mean: float  # mean points
    groups: list[FailureGroup] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else math.nan


def pattern(message: str) -> str:
    """What a message says, without its particulars: numbers become '#', quoted code '`…`', sparklines '▁'."""
    text = QUOTED_CODE.sub("`…`", message)
    text = SPARKLINE.sub("▁", text)
    labels = STEP_LABEL.findall(text)
    text = NUMBER.sub("#", STEP_LABEL.sub("\x00", text))
    for number, name in labels:
        text = text.replace("\x00", f"step {number} ({name})", 1)
    return text.strip()


def step_figures(graded: GradedClass) -> list[StepFigures]:
    """Each autograded test cell and each written answer, in the assignment's order."""
    figures = []
    for cell in graded.cells:
        grades = {s.student: s.grades[cell.name] for s in graded.submissions.values() if cell.name in s.grades}
        scored = [g for g in grades.values() if not g.needs_manual_grade]
        figures.append(StepFigures(
            cell, len(scored), sum(g.passed for g in scored),
            float(np.mean([g.score for g in scored])) if scored else math.nan,
            failure_groups(graded, cell.name) if cell.kind == "code" else [],
        ))
    return figures


def failure_groups(graded: GradedClass, grade_id: str) -> list[FailureGroup]:
    """The failures of one test cell grouped by `pattern`, most frequent first; each student once per group."""
    groups: dict[str, FailureGroup] = {}
    for submission in sorted(graded.submissions.values(), key=lambda s: s.student):
        for line in _distinct(submission.failures.get(grade_id, [])):
            group = groups.setdefault(pattern(line), FailureGroup(pattern(line), line))
            if submission.student not in group.students:
                group.students.append(submission.student)
    return sorted(groups.values(), key=lambda g: (-g.count, g.pattern))


def pipeline_groups(graded: GradedClass) -> list[FailureGroup]:
    """Where the whole-pipeline cell stopped (its ✗ lines), grouped like a step's failures."""
    groups: dict[str, FailureGroup] = {}
    for submission in sorted(graded.submissions.values(), key=lambda s: s.student):
        for line in _distinct(submission.pipeline):
            group = groups.setdefault(pattern(line), FailureGroup(pattern(line), line))
            if submission.student not in group.students:
                group.students.append(submission.student)
    return sorted(groups.values(), key=lambda g: (-g.count, g.pattern))


def _distinct(lines: list[str]) -> list[str]:
    """The lines without those that another line of the same cell only extends (a hidden test's line that is the
    public line without its hint, say): one failure, one group."""
    stripped = [line.rstrip(".") for line in lines]
    return [
        line for line, short in zip(lines, stripped)
        if not any(other != short and other.startswith(short) for other in stripped)
    ]


def lowest_step(figures: list[StepFigures]) -> StepFigures | None:
    """The autograded step the fewest students passed (by rate), if any was graded."""
    graded = [f for f in figures if f.cell.kind == "code" and f.graded]
    return min(graded, key=lambda f: (f.pass_rate, f.cell.name)) if graded else None


# -- results --------------------------------------------------------------------------------------------
@dataclass
class ResultsScale:
    reference: float | None  # the reference model's held-out accuracy
    full: float | None  # full points at or above
    floor: float  # no points at or below
    source: str  # where the reference figure came from


def results_scale(graded: GradedClass) -> ResultsScale:
    """The reference's held-out accuracy (graders/check/trusted/references.json, for the framework and dataset the notebooks name;
    else the notebooks' results lines) and the results scale of `graders.check.shared.checks.accuracy.points_for`."""
    import inspect

    from graders.check.shared.checks.accuracy import points_for
    from graders.check.trusted.references import reference_figures

    defaults = inspect.signature(points_for).parameters
    floor, margin = float(defaults["floor"].default), float(defaults["margin"].default)
    submissions = list(graded.submissions.values())
    named = [(s.framework, s.dataset) for s in submissions if s.framework and s.dataset]
    reference, source = None, "no reference figure: no results cell was read"
    if named:
        framework, dataset = max(set(named), key=named.count)
        try:
            reference = float(reference_figures(dataset, framework)["holdout_accuracy"])
            source = f"graders/check/trusted/references.json ({framework}, {dataset})"
        except LookupError:
            pass
    if reference is None and (said := [s.reference_accuracy for s in submissions if s.reference_accuracy is not None]):
        reference, source = float(np.median(said)), "the results cells of the autograded notebooks"
    full = None if reference is None else reference - margin
    return ResultsScale(reference, full, floor, source)


# -- loss curves -------------------------------------------------------------------------------------------
GRID = np.linspace(0.0, 1.0, 101)


@dataclass
class Curves:
    """The class's loss curves on one grid of training progress (0: first step, 1: last)."""

    students: list[str]
    values: np.ndarray  # (students, len(GRID)), NaN where a curve has no value
    steps: float | None  # the number of training steps when every curve has the same, else None (progress only)
    median: np.ndarray
    low: np.ndarray  # 25th percentile
    high: np.ndarray  # 75th percentile
    outliers: dict[str, str]  # student -> why


def class_curves(graded: GradedClass) -> Curves | None:
    curves = {s.student: s.curve for s in graded.submissions.values() if s.curve is not None and len(s.curve.steps) > 1}
    if not curves:
        return None
    students = sorted(curves)
    values = np.full((len(students), len(GRID)), np.nan)
    ends = []
    for row, student in enumerate(students):
        curve = curves[student]
        span = curve.steps[-1] - curve.steps[0]
        progress = (curve.steps - curve.steps[0]) / (span if span > 0 else 1.0)
        finite = np.isfinite(curve.losses)
        if finite.sum() >= 2:
            values[row] = np.interp(GRID, progress[finite], curve.losses[finite])
        ends.append(curve.steps[-1] if curve.source == "exposed" or curve.source == "plot" else math.nan)
    steps = float(np.median(ends)) if ends and np.all(np.isfinite(ends)) and np.ptp(ends) <= 0.02 * np.median(ends) + 2 else None
    with np.errstate(all="ignore"), _quiet_nan():
        median = np.nanmedian(values, axis=0)
        low, high = np.nanpercentile(values, 25, axis=0), np.nanpercentile(values, 75, axis=0)
    resolutions = [curves[student].resolution for student in students]
    return Curves(students, values, steps, median, low, high, curve_outliers(students, values, resolutions))


def curve_outliers(students: list[str], values: np.ndarray, resolutions: list[float]) -> dict[str, str]:
    """Curves far from the class's: a final loss far above the class's median (on a log scale, more than 3.5 robust
    deviations, and at least twice the median), a loss that ends above where it began, or no finite value at all."""
    found = {}
    tail = slice(int(len(GRID) * 0.9), None)
    with np.errstate(all="ignore"), _quiet_nan():
        finals = np.nanmedian(values[:, tail], axis=1)
        firsts = np.nanmedian(values[:, :5], axis=1)
    positive = finals[np.isfinite(finals) & (finals > 0)]
    median = float(np.median(positive)) if len(positive) else math.nan
    limit = math.inf
    if len(positive) >= 3:
        logs = np.log10(positive)
        spread = max(1.4826 * float(np.median(np.abs(logs - np.log10(median)))), LOG_SPREAD_FLOOR)
        limit = max(np.log10(median) + 3.5 * spread, np.log10(2 * median))
    for student, final, first, resolution in zip(students, finals, firsts, resolutions):
        if not np.isfinite(final):
            found[student] = "no finite loss"
        elif final > 0 and math.log10(final) > limit:
            found[student] = f"ends at {_about(final, resolution)}, the class's median at {median:.3g}"
        elif np.isfinite(first) and final > first * 1.05 + 2 * resolution:
            found[student] = f"rises from {_about(first, resolution)} to {_about(final, resolution)}"
    return found


LOG_SPREAD_FLOOR = 0.15  # decades: a class whose final losses agree closely still tolerates a factor of about 3


def _about(value: float, resolution: float) -> str:
    """A loss read from a plot, as precisely as the plot tells it."""
    if resolution and abs(value) < 2 * resolution:
        return f"less than {2 * resolution:.2g} (its plot's scale hides more)"
    return f"{value:.3g}" + (f" (± {resolution:.1g}, read from its plot)" if resolution > 0.01 * abs(value) else "")


@contextlib.contextmanager
def _quiet_nan():
    """Without numpy's warnings for columns that are all NaN (a curve that stops early)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
