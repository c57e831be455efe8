"""The one writer: the coordinating process alone reads submissions and writes the gradebook.

`Recorder` stands for one course directory (its nbgrader config, `gradebook.db`,
`submitted/`, `autograded/`):

* `prepare` reads a submission and makes its `GradingJob`: each notebook sanitized by nbgrader's
  own sanitizing preprocessors (outputs cleared, test cells restored from the gradebook), and
  the working folder's other files. It writes nothing.
* `GradebookCells`: the course's sanitizing step in place of nbgrader's DeduplicateIds, for every route
  (``nbgrader_config.py``): each cell's nbgrader metadata as the gradebook has it, so that no edit of a
  cell's metadata stops nbgrader, and a made-up graded cell scores nothing.
* `record` writes a job's result: nbgrader's Autograde converter, run in this process, with the
  job's executed notebooks replayed in place of its Execute step (`ReplayExecution`). nbgrader
  itself therefore records students, submissions, timestamps, scores, late penalties and the
  autograded notebooks, exactly as stock ``nbgrader autograde`` would, so formgrader, feedback
  and ``nbgrader export`` work on the result. Nothing is written before a job's result is in:
  a job that fails leaves the gradebook as it was.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook
from nbgrader.nbgraderformat import SCHEMA_VERSION
from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor

from graders.nbgrader_command import NBGRADER, nbgrader_env
from graders.runner.jobs import MAX_FILES_BYTES, GradingJob

#: The config sections a worker needs to execute notebooks as this course does.
EXECUTION_SECTIONS = ("Execute", "SandboxedExecute", "SandboxProvisioner", "NotebookClient", "KernelManager")


def course_config(course: Path):
    """The course's nbgrader configuration (its ``nbgrader_config.py``), with the course root set."""
    from traitlets.config import Config, PyFileConfigLoader

    config = Config()
    if (course / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    return config


def notebook_problem(name: str, data: bytes) -> str | None:
    """Why the submitted notebook `name`, holding `data`, cannot be graded, or None when it can."""
    try:
        text = data.decode("utf-8")
        json.loads(text)  # nbformat would hide the line and column
        nbformat.validate(nbformat.reads(text, as_version=4))
    except json.JSONDecodeError as error:
        return f"{name} is not valid JSON (line {error.lineno}, column {error.colno}): was it saved completely?"
    except Exception as error:  # nbformat's validation and reader errors have no common base
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{name} is not a valid Jupyter notebook: {first_line}"
    return None


def display_url(db_url: str) -> str:
    """`db_url` as it may be printed: its password, if any, shown as ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy can read, so it cannot tell where a password would be
        return "(not a database URL)"


@contextmanager
def quiet_sqlalchemy():
    """Without the warnings that nbgrader's models raise under SQLAlchemy 2 (they change nothing)."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


class GradebookUnavailable(RuntimeError):
    """The gradebook cannot be reached, or lacks the assignment; the message says which, in one line."""


class GradebookCells(NbGraderPreprocessor):
    """In place of nbgrader's DeduplicateIds: each cell's nbgrader metadata as the gradebook has it.

    A student can edit the metadata of any cell. nbgrader 0.9.6 then refuses the notebook (a test cell marked
    ``solution`` fails its checksum check; a made-up graded cell, or a repeated grade id, fails validation) or
    stops ``nbgrader autograde`` for the whole class (a changed ``schema_version``). Here, before its other steps:
    the last cell of each grade id the gradebook knows gets that cell's metadata and cell type back (nbgrader's
    OverwriteCells then restores the source of a locked cell); every other cell loses its nbgrader metadata, so it
    runs as an ordinary cell and scores nothing. Each change is one warning in nbgrader's log, starting
    ``<notebook>.ipynb: `` (`cell_notes` reads them back for the runner's report line).
    """

    def preprocess(self, nb, resources):
        name = resources["nbgrader"]["notebook"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            known = course_metadata(gb.find_notebook(name, resources["nbgrader"]["assignment"]))
        ids = [_grade_id(cell) for cell in nb.cells]
        last = {grade_id: index for index, grade_id in enumerate(ids)}
        for index, (cell, grade_id) in enumerate(zip(nb.cells, ids)):
            if "nbgrader" not in cell.metadata:
                continue
            if grade_id in known and last[grade_id] == index:
                nb.cells[index], changed = _restored(cell, known[grade_id])
                note = f"cell {grade_id}: {', '.join(changed)} changed; restored from the gradebook" if changed else ""
            elif grade_id in known:
                del cell.metadata["nbgrader"]
                note = f"cell number {index + 1} repeats grade id {grade_id}: ungraded (the last cell of that id is graded)"
            else:
                del cell.metadata["nbgrader"]
                note = f"cell number {index + 1} ({grade_id or 'no grade id'}) is no cell of the assignment: ungraded"
            if note:
                self.log.warning("%s.ipynb: %s", name, note)
        return nb, resources


def course_metadata(notebook) -> dict[str, dict]:
    """grade id -> the nbgrader metadata of that cell as released, from the gradebook's `notebook` (its cell type
    in ``cell_type``)."""
    grades = {cell.name: cell.max_score for cell in notebook.grade_cells}
    solutions, tasks = {cell.name for cell in notebook.solution_cells}, {cell.name for cell in notebook.task_cells}
    known = {}
    for cell in notebook.source_cells:
        known[cell.name] = {
            "cell_type": cell.cell_type, "checksum": cell.checksum, "grade": cell.name in grades, "grade_id": cell.name,
            "locked": cell.locked, "schema_version": SCHEMA_VERSION, "solution": cell.name in solutions,
            "task": cell.name in tasks,
        } | ({"points": grades[cell.name]} if cell.name in grades else {})
    return known


def _grade_id(cell) -> str | None:
    claimed = cell.metadata.get("nbgrader")
    grade_id = claimed.get("grade_id") if isinstance(claimed, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def _restored(cell, metadata: dict) -> tuple[NotebookNode, list[str]]:
    """`cell` with `metadata` as its nbgrader metadata and of its cell type; what was changed, in words (the
    checksum, which nbgrader overwrites anyway, aside)."""
    claimed = cell.metadata["nbgrader"]
    changed = sorted(key for key in set(claimed) | set(metadata) if key != "checksum" and claimed.get(key) != metadata.get(key))
    if cell.cell_type != metadata["cell_type"]:
        changed.append(f"cell type ({cell.cell_type})")
        made = new_code_cell if metadata["cell_type"] == "code" else new_markdown_cell
        cell = made(cell.source, metadata=cell.metadata, **({"id": cell.id} if "id" in cell else {}))
    cell.metadata["nbgrader"] = dict(metadata)
    return cell, changed


def sanitize_preprocessors() -> list:
    """nbgrader's sanitizing preprocessors for Autograde, in nbgrader's order, with `GradebookCells` in place of
    DeduplicateIds (``nbgrader_config.py``)."""
    from nbgrader.converters import Autograde

    return [GradebookCells if step is DeduplicateIds else step for step in Autograde.class_traits()["sanitize_preprocessors"].default()]


def cell_notes(log: str, notebooks) -> list[str]:
    """The warnings of `GradebookCells` in nbgrader's captured `log` (``[WARNING] <notebook>.ipynb: ...`` lines)
    about `notebooks` (names without .ipynb), in order."""
    leads = tuple(f"[WARNING] {name}.ipynb: " for name in notebooks)
    return [line.removeprefix("[WARNING] ") for line in log.splitlines() if line.startswith(leads)]


class ReplayExecution:
    """In place of nbgrader's Execute step: the outputs of the job's run of the same sanitized notebook.

    Only outputs and execution counts are taken from the run; sources come from this process's
    own sanitizing, and a run of other sources is refused.
    """

    enabled = True

    def __init__(self, executed: dict[str, NotebookNode]):
        self.executed = executed

    def __call__(self, notebook, resources):
        name = resources["nbgrader"]["notebook"]
        run = self.executed.get(name)
        if run is None:
            raise ValueError(f"the grading job returned no run of {name}.ipynb")
        if [c.source for c in run.cells] != [c.source for c in notebook.cells]:
            raise ValueError(f"the grading job ran other cells than those of {name}.ipynb")
        for cell, ran in zip(notebook.cells, run.cells):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
                if "execution" in ran.metadata:  # nbclient's timestamps: the class report's seconds per submission
                    cell.metadata["execution"] = ran.metadata["execution"]
        if "language_info" in run.metadata:
            notebook.metadata.language_info = run.metadata.language_info
        return notebook, resources


class Recorder:
    """Reads submissions into jobs and writes results into the gradebook of one course directory."""

    def __init__(self, course: str | Path):
        from nbgrader.coursedir import CourseDirectory

        self.course = Path(course).resolve()
        self.config = course_config(self.course)
        self.coursedir = CourseDirectory(config=self.config)
        self.log = logging.getLogger("graders.runner.nbgrader")  # nbgrader's log goes into each Outcome only
        self.log.propagate = False

    # -- reading -------------------------------------------------------------------------------
    def submitted(self, assignment: str) -> list[str]:
        """Students with a folder ``submitted/<student>/<assignment>/``, sorted."""
        return sorted(p.parent.name for p in self._submitted_root().glob(f"*/{assignment}") if p.is_dir())

    def _submitted_root(self) -> Path:
        return Path(self.coursedir.root) / self.coursedir.submitted_directory

    def submission_folder(self, assignment: str, student: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment))

    def problems(self, assignment: str, student: str) -> list[str]:
        """Why the submission cannot be graded (empty: it can): its folder, a notebook of the assignment or its
        timestamp.txt not a regular file (never read, then), corrupt notebooks."""
        from graders.runner.collect import LeftOut

        try:
            listing = self._listing(assignment, student)
        except LeftOut as why:
            return [f"its folder is not read ({why})"]
        with self._gradebook_notebooks(assignment) as known:
            vital = {f"{name}.ipynb" for name in known} | {"timestamp.txt"}
        found = [f"{name} not read ({why})" for name, why in listing.left_out.items() if name in vital]
        folder = self.submission_folder(assignment, student)
        for name in _notebooks(listing):
            try:
                problem = notebook_problem(name, self._read(folder, name))
            except LeftOut as why:
                problem = f"{name} not read ({why})"
            found += [problem] if problem else []
        return found

    def left_out(self, assignment: str, student: str) -> list[str]:
        """What of the submission is not read (not a regular file, or over the cap), for its report line."""
        from graders.runner.collect import LeftOut

        try:
            listing = self._listing(assignment, student)
        except LeftOut:
            return []  # the whole folder: a problem, not a note
        over = [f"{listing.over}: only its notebooks and timestamp.txt read"] if listing.over else []
        return over + [f"{name} not read ({why})" for name, why in listing.left_out.items()]

    def prepare(self, assignment: str, student: str) -> GradingJob:
        """The job of grading `student`'s submission: sanitized notebooks and the working folder's files."""
        from nbgrader.converters import Autograde

        converter = Autograde(coursedir=self.coursedir, config=self.config, log=self.log)
        steps = [step(config=self.config) for step in converter.sanitize_preprocessors]
        notebooks = {}
        folder = self.submission_folder(assignment, student)
        with self._gradebook_notebooks(assignment) as known:
            for path in (folder / name for name in _notebooks(self._listing(assignment, student))):
                if path.stem not in known:
                    continue  # nbgrader skips notebooks that the assignment does not have
                notebook = nbformat.reads(self._read(folder, path.name).decode("utf-8"), as_version=4)
                resources = {
                    "unique_key": path.stem,
                    "output_files_dir": f"{path.stem}_files",
                    "nbgrader": {
                        "student": student, "assignment": assignment, "notebook": path.stem,
                        "db_url": self.coursedir.db_url,
                    },
                }
                for step in steps:
                    notebook, resources = step(notebook, resources)
                notebooks[path.stem] = nbformat.writes(notebook)
        return GradingJob(assignment, student, notebooks, self._files(assignment, student), self.execution_config())

    def execution_config(self) -> dict:
        """The course's settings for executing notebooks (kernel, timeouts, sandbox), as plain dicts."""
        return {section: dict(self.config[section]) for section in EXECUTION_SECTIONS if section in self.config}

    def _listing(self, assignment: str, student: str):
        """The submission's regular files, and what is left out: found without following a link (`collect.Listing`);
        over a cap on its files in all (their number, or MAX_FILES_BYTES), its notebooks and timestamp.txt only."""
        from graders.runner.collect import list_regular, max_file_bytes, max_files

        folder = self.submission_folder(assignment, student)
        return list_regular(
            folder, self._submitted_root(), self.coursedir.ignore, max_bytes=max_file_bytes(self.config),
            max_files=max_files(self.config), max_total=MAX_FILES_BYTES,
        )

    def _read(self, folder: Path, relative: str) -> bytes:
        """A regular file of the submission `folder`, read without following a link (`collect.read_regular`)."""
        from graders.runner.collect import max_file_bytes, read_regular

        return read_regular(folder, relative, self._submitted_root(), max_file_bytes(self.config))

    def _file_paths(self, assignment: str, student: str) -> dict[str, Path]:
        """The working folder's other files, as nbgrader lays them out (relative name -> path): the submission's
        regular files, then the assignment's given files."""
        from nbgrader.utils import find_all_files

        folder = self.submission_folder(assignment, student)
        skip = ("*.ipynb", "timestamp.txt")
        paths = {name: folder / name for name in self._listing(assignment, student).files
                 if not any(Path(name).match(pattern) for pattern in skip)}
        source = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment))
        for path in find_all_files(str(source), self.coursedir.ignore + list(skip)):
            paths[str(Path(path).relative_to(source))] = Path(path)
        return paths

    def _files(self, assignment: str, student: str) -> dict[str, bytes]:
        """The contents of `_file_paths`; the submission's read without following a link."""
        from graders.runner.collect import LeftOut

        folder, files = self.submission_folder(assignment, student), {}
        for name, path in self._file_paths(assignment, student).items():
            if not path.is_relative_to(folder):
                files[name] = path.read_bytes()  # a given file of the course's
                continue
            try:
                files[name] = self._read(folder, path.relative_to(folder).as_posix())
            except LeftOut:
                continue  # replaced since it was listed
        return files

    @contextmanager
    def _gradebook_notebooks(self, assignment: str):
        with self.gradebook() as gb:
            yield {notebook.name for notebook in gb.find_assignment(assignment).notebooks}

    # -- writing -------------------------------------------------------------------------------
    def record(self, assignment: str, student: str, executed: dict[str, NotebookNode]) -> dict:
        """Write a job's result, its executed notebooks by name, with nbgrader's Autograde; nbgrader's dict:
        success, log, error, and notes: what `GradebookCells` changed (`cell_notes`)."""
        from nbgrader.converters import Autograde
        from nbgrader.utils import capture_log, temp_attrs

        from graders.runner.execute import autograde_preprocessors

        source = self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
        listing = self._listing(assignment, student)
        left_out = [glob.escape(os.path.join(source, name)) for name in listing.left_out]
        if listing.over:  # none of its other files: the whole folder is ignored, its notebooks are still read
            left_out.append(glob.escape(source))
        ignore = self.coursedir.ignore + left_out  # so that nbgrader copies no link's target into autograded/
        with quiet_sqlalchemy(), temp_attrs(self.coursedir, assignment_id=assignment, student_id=student, ignore=ignore):
            converter = Autograde(coursedir=self.coursedir, config=self.config, log=self.log)
            converter.force, converter.create_student = True, True
            converter.autograde_preprocessors = autograde_preprocessors(ReplayExecution(executed))
            written = capture_log(converter)
        return written | {"notes": cell_notes(written.get("log", ""), executed)}

    def check_gradebook(self, assignment: str) -> None:
        """GradebookUnavailable, in one line, unless the gradebook answers and knows `assignment`."""
        from nbgrader.api import MissingEntry
        from sqlalchemy.exc import SQLAlchemyError

        where = display_url(self.coursedir.db_url)
        try:
            with self.gradebook() as gb:
                gb.find_assignment(assignment)
        except MissingEntry:
            raise GradebookUnavailable(
                f"the gradebook {where} has no assignment {assignment!r}: release it first (python -m graders release)"
            ) from None
        except SQLAlchemyError as error:
            first = str(error.orig if getattr(error, "orig", None) else error).strip().splitlines()[0]
            raise GradebookUnavailable(f"cannot use the gradebook {where}: {first}") from None

    def score_zero(self, assignment: str, student: str) -> None:
        """Record 0 for every grade cell of the submission, as nbgrader does for a missing notebook."""
        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gb.db.commit()

    @contextmanager
    def gradebook(self):
        """The course's real nbgrader gradebook (without the SQLAlchemy warnings nbgrader's models raise)."""
        from nbgrader.api import Gradebook

        with quiet_sqlalchemy(), Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            yield gb

    def scores(self, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
        """`{student: {grade_id: (score, max_score)}}` for every submission of `assignment` in the gradebook."""
        table: dict[str, dict[str, tuple[float, float]]] = {}
        with self.gradebook() as gb:
            for submission in gb.find_assignment(assignment).submissions:
                cells = table.setdefault(submission.student.id, {})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        cells[grade.name] = (float(grade.score), float(grade.max_score))
        return table


def _notebooks(listing) -> list[str]:
    """The notebooks at the top of a submission's `collect.Listing`: regular files only."""
    return sorted(name for name in listing.files if "/" not in name and name.endswith(".ipynb"))


def generate_feedback(course_dir: str | Path, assignment: str) -> subprocess.CompletedProcess:
    """Run `nbgrader generate_feedback` for the assignment: HTML per student under feedback/, and nothing else
    there (`keep_pages`, again after nbgrader's own hook)."""

    done = subprocess.run(
        [*NBGRADER, "generate_feedback", assignment, "--force"],
        cwd=course_dir, env=nbgrader_env(), capture_output=True, text=True,
    )
    pages = [f"{path.stem}.html" for path in Path(course_dir, "source", assignment).glob("*.ipynb")]
    for student in os.listdir(Path(course_dir, "feedback")) if Path(course_dir, "feedback").is_dir() else []:
        keep_pages(Path(course_dir), student, assignment, pages)
    return done


#: What nbgrader release_feedback reads besides the pages (it hands out the pages only): the student's own files.
FEEDBACK_RECORDS = ("timestamp.txt", "submission_secret.txt")


def keep_pages(course: Path, student: str, assignment: str, pages: list[str]) -> None:
    """Remove from ``course/feedback/<student>/<assignment>/`` everything but the regular files at its top named in
    `pages` (``<notebook>.html``) or `FEEDBACK_RECORDS`, following no link: links and folders go, and so does a
    ``<student>`` or ``<assignment>`` that is a link rather than a folder."""
    import stat

    kept = {*pages, *FEEDBACK_RECORDS}
    fd = os.open(course, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in ("feedback", student, assignment):
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                return
            except OSError:  # a link, or not a folder: not the grader's
                os.unlink(part, dir_fd=fd)
                return
            os.close(fd)
            fd = inner
        for name in os.listdir(fd):
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                shutil.rmtree(name, dir_fd=fd)
            elif not (stat.S_ISREG(mode) and name in kept):
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def feedback_pages_only(assignment: str, student: str, notebooks: list[str]) -> None:
    """nbgrader's post-convert hook for GenerateFeedback (``nbgrader_config.py``): each feedback folder it wrote,
    ``feedback/<student>/<assignment>/`` for ``autograded/<student>/<assignment>/*.ipynb``, keeps its pages only.
    nbgrader copies the autograded folder's other files there: the submission's, and what grading wrote."""
    folders: dict[Path, list[str]] = {}
    for notebook in map(Path, map(os.path.abspath, notebooks)):
        folders.setdefault(notebook.parent, []).append(f"{notebook.stem}.html")
    for folder, pages in folders.items():
        if folder.parents[1].name != "autograded":
            raise ValueError(f"{folder} is not an autograded/<student>/<assignment> folder")
        keep_pages(folder.parents[2], folder.parent.name, folder.name, pages)


def export_grades(course_dir: str | Path, path: str | Path) -> subprocess.CompletedProcess:
    """Run `nbgrader export` into a CSV file."""

    return subprocess.run(
        [*NBGRADER, "export", f"--to={Path(path).resolve()}"],
        cwd=course_dir, env=nbgrader_env(), capture_output=True, text=True,
    )
