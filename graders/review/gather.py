"""Reading a graded class: the gradebook's scores and the autograded notebooks' cells, nothing written.

`read_class(course, assignment)` returns a `GradedClass`:

* from the gradebook (nbgrader's `Gradebook` at the course config's ``db_url``: SQLite or
  PostgreSQL), the roster, the assignment's graded cells, and every submission's grade per cell;
* from ``autograded/<student>/<assignment>/*.ipynb``, per submission: what each autograded test
  cell said (the ✗ lines on stderr, an error output's lines, else its stdout: the order of
  `graders.report.cell_message`), the code of each solution cell and the text of each written
  answer, the held-out accuracy line of the results cell, the limits hit and the reference code
  used, the loss plot, and the seconds its cells ran (nbclient's timestamps, where nbgrader kept them);
* from ``source/`` and ``release/``, the reference solution's cells and the given code.

Whatever cannot be read becomes one clear line in `GradedClass.notices` or in the student's
`Submission.problems`, and the rest of the class is still read.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

from graders.author.rubric import BEGIN_SOLUTION as BEGIN
from graders.author.rubric import END_SOLUTION as END
from graders.author.rubric import solution_region
from graders.check.shared.checks.failures import CheckFailed
from graders.report import ANSI
from graders.review.losses import LossCurve, read_history

RESULTS = re.compile(r"held-out accuracy (?P<accuracy>[\d.]+|nan) \(reference (?P<reference>[\d.]+)\) earns")
CHECKS_READY = re.compile(r"framework (?P<framework>\w+), device \S+, dataset (?P<dataset>\w+)")
CHECK_FAILED = CheckFailed.__name__  # the grader's own exception: its message is the failed checks' lines


@dataclass(frozen=True)
class GradedCell:
    """A cell the gradebook scores: an autograded test cell ("code") or a written answer ("markdown")."""

    name: str
    notebook: str
    max_score: float
    kind: str  # "code" | "markdown"

    @property
    def step(self) -> str:
        """The step a test cell checks (its grade id without ``_tests``); a written answer's own id."""
        return self.name.removesuffix("_tests")


@dataclass
class Grade:
    score: float
    max_score: float
    needs_manual_grade: bool = False

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score - 1e-9


@dataclass
class Submission:
    """One student's graded submission."""

    student: str
    grades: dict[str, Grade] = field(default_factory=dict)  # grade id -> Grade (from the gradebook)
    failures: dict[str, list[str]] = field(default_factory=dict)  # grade id of a test cell -> its failure lines
    code: dict[str, str] = field(default_factory=dict)  # grade id of a solution cell -> its source
    answers: dict[str, str] = field(default_factory=dict)  # grade id of a written answer -> its text
    pipeline: list[str] = field(default_factory=list)  # ✗ lines of the cells that are not graded (the whole pipeline)
    accuracy: float | None = None  # held-out accuracy of the trained model (results cell)
    reference_accuracy: float | None = None
    framework: str | None = None
    dataset: str | None = None
    limits: list[str] = field(default_factory=list)  # limits hit, kernel deaths, cells stopped
    seconds: float | None = None
    curve: LossCurve | None = None
    curve_problem: str | None = None
    problems: list[str] = field(default_factory=list)  # what could not be read, one line each
    read: bool = False  # whether any autograded notebook was read

    @property
    def score(self) -> float:
        return sum(g.score for g in self.grades.values())

    @property
    def max_score(self) -> float:
        return sum(g.max_score for g in self.grades.values())

    @property
    def manual_pending(self) -> list[str]:
        return [name for name, g in self.grades.items() if g.needs_manual_grade]


@dataclass
class GradedClass:
    course: Path
    assignment: str
    cells: list[GradedCell] = field(default_factory=list)  # in notebook order
    roster: list[str] = field(default_factory=list)
    submissions: dict[str, Submission] = field(default_factory=dict)
    not_graded: dict[str, str] = field(default_factory=dict)  # student -> why they have no graded submission
    notices: list[str] = field(default_factory=list)  # one line each: what the report could not use
    reference_code: dict[str, str] = field(default_factory=dict)  # solution grade id -> the reference's code
    reference_answers: dict[str, str] = field(default_factory=dict)  # answer grade id -> the model answer
    boilerplate: dict[str, list[str]] = field(default_factory=dict)  # solution grade id -> the release's given text
    solution_kinds: dict[str, str] = field(default_factory=dict)  # solution grade id -> "code" | "markdown", in order
    order: dict[str, int] = field(default_factory=dict)  # grade id -> its cell's place in the source notebooks
    gradebook: str = ""  # where the grades came from, password hidden

    @property
    def test_cells(self) -> list[GradedCell]:
        return [c for c in self.cells if c.kind == "code"]

    @property
    def answer_cells(self) -> list[GradedCell]:
        return [c for c in self.cells if c.kind == "markdown"]


# -- the whole class ----------------------------------------------------------------------------------
def read_class(course: str | Path, assignment: str) -> GradedClass:
    """Everything the report shows of `assignment`, read from the course directory `course`."""
    from graders.runner.gradebook import Recorder, display_url

    course = Path(course).resolve()
    recorder = Recorder(course)
    graded = GradedClass(course, assignment, gradebook=display_url(recorder.coursedir.db_url))
    _read_course_notebooks(graded, recorder)
    _read_gradebook(graded, recorder)
    autograded = Path(recorder.coursedir.root) / recorder.coursedir.autograded_directory
    submitted = Path(recorder.coursedir.root) / recorder.coursedir.submitted_directory
    on_disk = sorted(p.parent.name for p in autograded.glob(f"*/{assignment}") if p.is_dir())
    for student in on_disk:
        if student not in graded.submissions and graded.cells:
            graded.not_graded[student] = "an autograded notebook, but no grades in the gradebook"
            continue
        submission = graded.submissions.setdefault(student, Submission(student))
        _read_autograded(graded, submission, autograded / student / assignment)
    for student, submission in graded.submissions.items():
        if not submission.read and not submission.problems:
            submission.problems.append(_why_not_autograded(submitted / student / assignment, autograded.name, student, assignment))
    waiting = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    for student in waiting:
        if student not in graded.submissions:
            graded.not_graded[student] = f"submitted, not autograded yet (run python -m graders autograde {assignment})"
    for student in graded.roster if graded.cells else []:  # an assignment the gradebook lacks: its notice says it all
        if student not in graded.submissions and student not in graded.not_graded:
            graded.not_graded[student] = "no submission"
    if not graded.submissions and not graded.notices:
        graded.notices.append(f"{assignment} is not graded yet: the gradebook holds no submission of it")
    return graded


def _why_not_autograded(folder: Path, autograded: str, student: str, assignment: str) -> str:
    """A graded submission without an autograded notebook: what its submitted notebooks say (a corrupt one, which
    the runner scored 0), or that the autograded one is missing. Links are not followed."""
    problems = []
    for path in sorted(folder.glob("*.ipynb")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            problems.append(f"{path.name} is not valid JSON (line {error.lineno}, column {error.colno})")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path.name} cannot be read ({error})")
    if problems:
        return "submitted " + "; ".join(problems) + ": not graded, the gradebook holds 0 for it"
    return f"no autograded notebook in {autograded}/{student}/{assignment}/"


def _read_gradebook(graded: GradedClass, recorder) -> None:
    from nbgrader.api import Grade as GradeRow
    from nbgrader.api import GradeCell, MissingEntry, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.exc import SQLAlchemyError

    if (missing := _no_gradebook(recorder.coursedir.db_url)) is not None:
        graded.notices.append(f"{missing}; scores are taken from the autograded notebooks")
        return
    try:
        with recorder.gradebook() as gb:
            graded.roster = sorted(student.id for student in gb.students)
            try:
                assignment = gb.find_assignment(graded.assignment)
            except MissingEntry:
                graded.notices.append(
                    f"the gradebook {graded.gradebook} has no assignment {graded.assignment!r}: it is not released or "
                    "graded yet (python -m graders release, then autograde)"
                )
                return
            cells = [
                GradedCell(cell.name, notebook.name, float(cell.max_score), cell.cell_type)
                for notebook in assignment.notebooks
                for cell in notebook.grade_cells
            ]
            graded.cells = sorted(cells, key=lambda c: (c.notebook, graded.order.get(c.name, math.inf), c.name))
            rows = (  # one query for the whole class (the ORM's relationships would ask once per grade)
                gb.db.query(
                    SubmittedAssignment.student_id, GradeCell.name, GradeRow.score, GradeCell.max_score,
                    GradeRow.needs_manual_grade,
                )
                .select_from(GradeRow)
                .join(SubmittedNotebook, GradeRow.notebook_id == SubmittedNotebook.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(GradeCell, GradeCell.id == GradeRow.cell_id)
                .filter(SubmittedAssignment.assignment_id == assignment.id)
                .all()
            )
            for student, name, score, max_score, manual in rows:
                submission = graded.submissions.setdefault(student, Submission(student))
                submission.grades[name] = Grade(float(score or 0.0), float(max_score or 0.0), bool(manual))
    except SQLAlchemyError as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        graded.notices.append(
            f"cannot read the gradebook {graded.gradebook}: {first}; scores are taken from the autograded notebooks"
        )


def _no_gradebook(db_url: str) -> str | None:
    """Why there is no gradebook to read at `db_url` (None: there is one). nbgrader's `Gradebook` creates the
    tables of an empty database and a missing SQLite file: the report, which writes nothing, asks first."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from graders.runner.gradebook import display_url

    try:
        url = make_url(db_url)
    except ArgumentError:
        return f"the gradebook URL {display_url(db_url)} cannot be read"
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        return f"there is no gradebook {url.database} yet (nothing was released or graded here)"
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            if "grade" not in inspect(connection).get_table_names():
                return f"the gradebook {display_url(db_url)} holds no nbgrader tables yet"
    except SQLAlchemyError as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"cannot read the gradebook {display_url(db_url)}: {first}"
    finally:
        engine.dispose()
    return None


# -- the course's own notebooks -------------------------------------------------------------------------
def _read_course_notebooks(graded: GradedClass, recorder) -> None:
    """The reference's solution cells (source/) and the given text of each solution cell (release/)."""
    root = Path(recorder.coursedir.root)
    source = root / recorder.coursedir.source_directory / graded.assignment
    release = root / recorder.coursedir.release_directory / graded.assignment
    for path in sorted(source.glob("*.ipynb")):
        notebook = _load(path)
        if notebook is None:
            graded.notices.append(f"the source notebook {path.name} cannot be read: no comparison with the reference")
            continue
        for cell in notebook.get("cells", []):
            meta = _nbgrader(cell)
            if meta.get("grade_id"):
                graded.order.setdefault(meta["grade_id"], len(graded.order))
            if not meta.get("solution"):
                continue
            name, text = meta["grade_id"], _text(cell.get("source", ""))
            graded.solution_kinds[name] = cell.get("cell_type", "code")
            if cell.get("cell_type") == "markdown":
                graded.reference_answers[name] = solution_region(text)
            else:
                graded.reference_code[name] = _outside_markers(text)
            graded.boilerplate[name] = [_given(text)]  # the source without its solutions, until the release says better
    given_code = []
    for path in sorted(release.glob("*.ipynb")):
        notebook = _load(path)
        if notebook is None:
            continue
        for cell in notebook.get("cells", []):
            meta = _nbgrader(cell)
            text = _text(cell.get("source", ""))
            if meta.get("solution") and meta.get("grade_id") in graded.solution_kinds:
                graded.boilerplate[meta["grade_id"]] = [text]
            elif cell.get("cell_type") == "code":
                given_code.append(text)  # setup and given cells: a student may paste them into an answer
    for name, kind in graded.solution_kinds.items():
        if kind == "code":
            graded.boilerplate[name] = graded.boilerplate.get(name, []) + given_code


def _outside_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))


def _given(source: str) -> str:
    """A source cell without its solution regions: what the release gives."""
    kept, inside = [], False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


# -- one autograded submission ----------------------------------------------------------------------------
def _read_autograded(graded: GradedClass, submission: Submission, folder: Path) -> None:
    paths = sorted(folder.glob("*.ipynb"))
    expected = {c.notebook for c in graded.cells}
    for name in sorted(expected - {p.stem for p in paths}):
        submission.problems.append(f"autograded notebook {name}.ipynb is missing from {folder.parent.parent.name}/"
                                   f"{submission.student}/{graded.assignment}/")
    for path in paths:
        notebook = _load(path, submission.problems)
        if notebook is not None:
            submission.read = True
            read_notebook(notebook, path.stem, submission, fill_grades=not graded.cells or not submission.grades)


def read_notebook(notebook: dict, name: str, submission: Submission, fill_grades: bool = False) -> None:
    """What one autograded notebook says, into `submission`. `fill_grades`: score its test cells with nbgrader's
    own rule, for a class whose gradebook could not be read."""
    from graders.runner.execute import stopped_notes

    cells = notebook.get("cells", [])
    code_cells = [c for c in cells if c.get("cell_type") == "code"]
    submission.limits += stopped_notes(notebook, f"{name}.ipynb")
    for cell in cells:
        meta = _nbgrader(cell)
        grade_id, kind = meta.get("grade_id"), cell.get("cell_type")
        if meta.get("solution") and grade_id:
            text = _text(cell.get("source", ""))
            (submission.answers if kind == "markdown" else submission.code)[grade_id] = text
        if kind != "code":
            continue
        lines = failure_lines(cell)
        if meta.get("grade") and not meta.get("solution") and grade_id:
            if fill_grades:
                submission.grades[grade_id] = _cell_grade(cell, meta)
            grade = submission.grades.get(grade_id)
            if grade is None or not grade.passed:
                submission.failures[grade_id] = lines or ["(no message: the cell scored less than full points)"]
        elif not meta.get("solution"):
            submission.pipeline += [line for line in lines if _stderr_line(cell, line)]
        for text in _streams(cell, "stdout"):
            _read_results_line(submission, text)
    submission.curve, submission.curve_problem = read_history(code_cells)
    submission.seconds = cells_seconds(code_cells)


def _cell_grade(cell: dict, meta: dict) -> Grade:
    from nbgrader.utils import determine_grade

    score, max_score = determine_grade(cell)
    return Grade(float(score or 0.0), float(max_score if max_score is not None else meta.get("points", 0)))


def _read_results_line(submission: Submission, text: str) -> None:
    for line in ANSI.sub("", text).splitlines():
        if match := RESULTS.search(line):
            submission.accuracy = float(match["accuracy"])
            submission.reference_accuracy = float(match["reference"])
        elif match := CHECKS_READY.search(line):
            submission.framework, submission.dataset = match["framework"], match["dataset"]


# -- a cell's messages ------------------------------------------------------------------------------------
def _streams(cell: dict, name: str) -> list[str]:
    return [
        _text(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name
    ]


def _stderr_line(cell: dict, line: str) -> bool:
    return any(line in ANSI.sub("", text) for text in _streams(cell, "stderr"))


def failure_lines(cell: dict) -> list[str]:
    """What a test cell said, as in `graders.report.cell_message`: its stderr and error outputs, else its stdout;
    one entry per line, without the ✗ marks and colours, each failure once.

    The grader's own `CheckFailed` error repeats the public ✗ lines and adds the hidden ones, one per line;
    any other error is its name and the first line of its value.
    """
    lines = []
    for text in _streams(cell, "stderr"):
        lines += ANSI.sub("", text).splitlines()
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        ename, evalue = output.get("ename", ""), ANSI.sub("", str(output.get("evalue", "")))
        if ename == CHECK_FAILED:
            lines += evalue.splitlines()
        else:
            first = next((line.strip() for line in evalue.splitlines() if line.strip()), "")
            lines.append(f"{ename}: {first}" if first else ename)
    if not lines:
        for text in _streams(cell, "stdout"):
            lines += ANSI.sub("", text).splitlines()[-1:]
    cleaned = [line.strip().removeprefix("✗").strip() for line in lines]
    return list(dict.fromkeys(line for line in cleaned if line))


def cells_seconds(code_cells: list[dict]) -> float | None:
    """Seconds from the first cell's start to the last cell's reply, from nbclient's timestamps in the cells'
    metadata (``execution``), or None when the notebook holds none."""
    starts, ends = [], []
    for cell in code_cells:
        times = cell.get("metadata", {}).get("execution", {})
        start = times.get("iopub.status.busy") or times.get("iopub.execute_input")
        end = times.get("shell.execute_reply") or times.get("iopub.status.idle")
        if start and end:
            try:
                starts.append(_timestamp(start))
                ends.append(_timestamp(end))
            except ValueError:
                continue
    if not starts:
        return None
    return max(ends) - min(starts)


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- files ---------------------------------------------------------------------------------------------
def _load(path: Path, problems: list[str] | None = None) -> dict | None:
    """A notebook (unvalidated: a cell it cannot use is skipped, not the notebook), or None with one line in `problems` saying why it cannot be read."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("no list of cells")
        return nbformat.from_dict(notebook)  # attribute access too, as nbgrader's and the runner's helpers read it
    except json.JSONDecodeError as error:
        why = f"is not valid JSON (line {error.lineno}, column {error.colno})"
    except (OSError, UnicodeDecodeError, ValueError) as error:
        why = f"cannot be read ({error})"
    if problems is not None:
        problems.append(f"autograded notebook {path.name} {why}: its messages, code and plots are left out")
    return None


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
