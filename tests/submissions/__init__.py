"""A bank of sample submissions, graded for real by `nbgrader autograde` (tests/test_autograde.py).

Each assignment's module (``tests/submissions/<assignment>.py``) lists `SAMPLES`: what a
student handed in, and the score nbgrader must give each graded cell. The bank doubles as
documentation of the grading scale: read a module to see what each mistake costs.

How a submission is made
------------------------
A submission starts from the notebook students get, ``release/<a>/<a>.ipynb``, and fills its
solution cells (nbgrader metadata ``solution: true``, keyed by ``grade_id``):

* `reference_fills(a)`: every solution cell of ``source/<a>/<a>.ipynb`` with its
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines removed (the course's own code), and for
  written (markdown) answers a plausible student answer (the module's ``ANSWERS``);
* a `Sample`'s ``fills`` replace whole cells on top of that (``base="release"``: on top of the
  unfilled release instead, the stubs that raise NotImplementedError);
* ``kind`` makes the submissions that fills cannot: ``"corrupt"`` (the notebook's JSON cut
  short, as an interrupted save leaves it).

The expected score
------------------
``expected`` maps every graded cell's grade id to the points nbgrader must record, or
None for a written answer left for manual grading. Write it with `full_marks`, so that
what a sample loses is readable at a glance::

    Sample("wrong_shape", {"build_model": ...}, full_marks(A, build_model_tests=0, results_tests=0))
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PIPELINES = ("tf1_pipeline", "tf2_pipeline", "torch_pipeline")
ASSIGNMENTS = (*PIPELINES, "framework_comparison")


@dataclass(frozen=True)
class Sample:
    """One submission and the score nbgrader must give each graded cell.

    name      the student id it is submitted under (``submitted/<name>/<a>/<a>.ipynb``)
    fills     grade id of a solution cell -> its whole new source
    expected  grade id of a graded cell -> points (None: left for manual grading)
    base      "reference" (the course's solutions) or "release" (the unfilled stubs) under the fills
    kind      "fills" | "corrupt" (JSON cut short; the grader must refuse it and score 0)
    outcome   text the grading Outcome's message must contain ("graded" for a normal run)
    graded    whether the Outcome says it was graded
    about     what the sample is, in one line (shown when an expectation fails)
    says      step -> text the failure message of that step's checks must contain: the contract point it
              breaks (tests/test_idioms.py runs those checks in-process on the sample's own cells)
    extra     called with the submission folder once the notebook is written: files handed in beside it
              (a module, a symbolic link, data, many small files)
    hostile   an attack on the grader (`hostile`): the bank grades it through stock nbgrader too
    """

    name: str
    fills: dict[str, str] = field(default_factory=dict)
    expected: dict[str, float | None] = field(default_factory=dict)
    base: str = "reference"
    kind: str = "fills"
    outcome: str = "graded"
    graded: bool = True
    about: str = ""
    says: dict[str, str] = field(default_factory=dict)
    extra: Callable[[Path], None] | None = None
    hostile: bool = False

    def notebook(self, assignment: str, course: Path = REPO) -> nbformat.NotebookNode:
        """The submitted notebook: the release with its solution cells filled."""
        fills = (reference_fills(assignment, course) if self.base == "reference" else {}) | self.fills
        return fill(release_notebook(assignment, course), fills)

    def submit(self, course: Path, assignment: str, source_course: Path = REPO) -> Path:
        """Write it to ``<course>/submitted/<name>/<a>/<a>.ipynb``; return that path."""
        path = Path(course) / "submitted" / self.name / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(self.notebook(assignment, source_course))
        if self.kind == "corrupt":
            text = text[: len(text) // 2]  # an interrupted save: valid JSON up to here, then nothing
        elif self.kind != "fills":
            raise ValueError(f"unknown sample kind {self.kind!r}")
        path.write_text(text, encoding="utf-8")
        if self.extra is not None:
            self.extra(path.parent)
        return path


def new_course(root: Path, assignment: str) -> Path:
    """A course directory at `root` holding this repository's nbgrader_config.py and the assignment's source and release."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for folder in ("source", "release"):
        shutil.copytree(REPO / folder / assignment, root / folder / assignment)
    return root


def released_course(root: Path, assignment: str) -> Path:
    """A course at `root` (`new_course`) whose gradebook records the assignment, as ``nbgrader generate_assignment``
    leaves it (the release itself is the repository's, which `build.release` would write byte for byte)."""
    course = new_course(root, assignment)
    (course / "gradebook.db").write_bytes(_released_gradebook(assignment))
    return course


@cache
def _released_gradebook(assignment: str) -> bytes:
    """The gradebook that `build.release` writes for `assignment`: the same in every course, so made once per process
    (each new one costs an nbgrader run, and nbgrader's run of alembic)."""
    import pytest

    from graders.author import build

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setenv("NBGRADER_EXCHANGE", str(Path(tmp) / "exchange"))
        course = new_course(Path(tmp) / "course", assignment)
        build.release(assignment, course_root=course)
        return (course / "gradebook.db").read_bytes()


def released_class(root: Path, assignment: str, students: list[Sample]) -> Path:
    """A course at ``<root>/course`` (`released_course`), its exchange at ``<root>/exchange``, and `students`
    submitted; the course's path."""
    course = released_course(root / "course", assignment)
    (root / "exchange").mkdir()
    for sample in students:
        sample.submit(course, assignment)
    return course


# Notebooks ---------------------------------------------------------------------------------------
def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@cache
def _cached(path: str, mtime: float) -> nbformat.NotebookNode:
    return _read(Path(path))


def _notebook(path: Path) -> nbformat.NotebookNode:
    return copy.deepcopy(_cached(str(path), path.stat().st_mtime))


def release_notebook(assignment: str, course: Path = REPO) -> nbformat.NotebookNode:
    return _notebook(Path(course) / "release" / assignment / f"{assignment}.ipynb")


def source_notebook(assignment: str, course: Path = REPO) -> nbformat.NotebookNode:
    return _notebook(Path(course) / "source" / assignment / f"{assignment}.ipynb")


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    """grade id -> cell, for every solution cell (code or markdown)."""
    return {_nbgrader(c)["grade_id"]: c for c in notebook.cells if _nbgrader(c).get("solution")}


def graded_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    """grade id -> cell, for every graded cell (autograded tests and written answers)."""
    return {_nbgrader(c)["grade_id"]: c for c in notebook.cells if _nbgrader(c).get("grade")}


def fill(notebook, fills: dict[str, str]):
    """`notebook` with the solution cells named in `fills` replaced; KeyError for an unknown id."""
    cells = solution_cells(notebook)
    unknown = sorted(set(fills) - set(cells))
    if unknown:
        raise KeyError(f"no solution cell {unknown} (solution cells: {sorted(cells)})")
    for grade_id, source in fills.items():
        cells[grade_id].source = source.strip("\n")
    return notebook


def strip_markers(source: str) -> str:
    """A solution cell's source without its BEGIN/END SOLUTION lines."""
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))


def replace_region(source: str, answer: str) -> str:
    """A written answer: the text before BEGIN SOLUTION (the question), then `answer`."""
    lines = source.split("\n")
    begin = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
    end = next(i for i, line in enumerate(lines) if line.strip() == END)
    return "\n".join([*lines[:begin], answer.strip("\n"), *lines[end + 1 :]]).strip("\n")


def reference_fills(assignment: str, course: Path = REPO) -> dict[str, str]:
    """grade id -> source of every solution cell: the course's code, and plausible written answers."""
    fills = {}
    for grade_id, cell in solution_cells(source_notebook(assignment, course)).items():
        if cell.cell_type == "markdown":  # the module defines ANSWERS before it builds any sample
            answers = importlib.import_module(f"{__name__}.{assignment}").ANSWERS
            fills[grade_id] = replace_region(cell.source, answers[grade_id])
        else:
            fills[grade_id] = strip_markers(cell.source)
    return fills


def reference_cell(assignment: str, grade_id: str) -> str:
    """One solution cell of the reference, ready to edit with `swap`."""
    return reference_fills(assignment)[grade_id]


def swap(source: str, old: str, new: str, count: int = 1) -> str:
    """`source` with `old` replaced by `new`, checking that `old` occurs exactly `count` times.

    Breaks are written as small edits of the reference code; the check fails loudly when the
    reference changes under a sample instead of silently leaving the sample correct.
    """
    found = source.count(old)
    if found != count:
        raise ValueError(f"expected {count} occurrence(s) of {old!r}, found {found} in:\n{source}")
    return source.replace(old, new)


# Points ------------------------------------------------------------------------------------------
def max_points(assignment: str, course: Path = REPO) -> dict[str, float]:
    """grade id -> points of every graded cell."""
    return {gid: float(_nbgrader(c)["points"]) for gid, c in graded_cells(source_notebook(assignment, course)).items()}


def manual_cells(assignment: str, course: Path = REPO) -> list[str]:
    """Grade ids of the written answers (graded by hand)."""
    return [gid for gid, c in graded_cells(source_notebook(assignment, course)).items() if c.cell_type == "markdown"]


def full_marks(assignment: str, **lost: float) -> dict[str, float | None]:
    """Every autograded cell at its maximum, written answers None (manual), except the cells in `lost`."""
    points = max_points(assignment)
    unknown = sorted(set(lost) - set(points))
    if unknown:
        raise KeyError(f"{assignment} has no graded cell {unknown}")
    manual = set(manual_cells(assignment))
    expected: dict[str, float | None] = {gid: (None if gid in manual else p) for gid, p in points.items()}
    expected.update({gid: float(p) for gid, p in lost.items()})
    return expected


def zero_marks(assignment: str) -> dict[str, float | None]:
    """Every graded cell 0, written answers included.

    What nbgrader records for an answer cell left as released (it scores an unchanged solution
    cell 0 instead of asking for a manual grade), and what the grader records for a notebook it
    cannot read or run.
    """
    return full_marks(assignment, **dict.fromkeys(max_points(assignment), 0))


def hostile(*samples: Sample) -> list[Sample]:
    """`samples` marked as attacks on the grader."""
    return [dataclasses.replace(sample, hostile=True) for sample in samples]


def samples(assignment: str) -> list[Sample]:
    """The bank of `assignment` (its module's SAMPLES)."""
    bank = importlib.import_module(f"{__name__}.{assignment}").SAMPLES
    names = [s.name for s in bank]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate sample names in {assignment}: {names}")
    return list(bank)
