"""Autograde a class: each submission in its own `nbgrader autograde` process, several at once.

One process per student keeps a broken or hostile submission (a crash, a hang, a kernel that
dies) from stopping the batch or touching anyone else's grade. Jobs run in a local pool, one
GPU each in turn when GPUs are visible, or on a Dask cluster whose workers share the course
directory (`scheduler="tcp://host:8786"`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from graders.author.build import nbgrader_env

NBGRADER = [sys.executable, "-m", "nbgrader"]


@dataclass(frozen=True)
class Outcome:
    """How grading one student's submission went (the scores themselves are in the gradebook)."""

    student: str
    graded: bool
    message: str
    seconds: float


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    """Students with a folder `submitted/<student>/<assignment>/`, sorted."""
    root = Path(course_dir) / "submitted"
    return sorted(p.parent.name for p in root.glob(f"*/{assignment}") if p.is_dir())


def notebook_problem(path: Path) -> str | None:
    """Why the submitted notebook at `path` cannot be graded, or None when it can."""
    try:
        json.loads(Path(path).read_text(encoding="utf-8"))  # nbformat would hide the line and column
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except FileNotFoundError:
        return None  # nbgrader scores a missing notebook 0 by itself
    except json.JSONDecodeError as error:
        return f"{path.name} is not valid JSON (line {error.lineno}, column {error.colno}): was it saved completely?"
    except Exception as error:  # nbformat's validation and reader errors have no common base
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{path.name} is not a valid Jupyter notebook: {first_line}"
    return None


def gpu_ids() -> list[str]:
    """Indices of the visible NVIDIA GPUs (empty without `nvidia-smi` or GPUs)."""
    if visible := os.environ.get("CUDA_VISIBLE_DEVICES"):
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if not shutil.which("nvidia-smi"):
        return []
    listing = subprocess.run(
        ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True
    )
    return listing.stdout.split() if listing.returncode == 0 else []


def autograde_one(
    course_dir: str,
    assignment: str,
    student: str,
    gpu: str | None = None,
    timeout: float | None = None,
    threads: int | None = None,
) -> Outcome:
    """Grade one submission into the gradebook; never raises for a bad submission."""
    start = time.perf_counter()
    course = Path(course_dir)
    folder = course / "submitted" / student / assignment
    problems = [p for nb in sorted(folder.glob("*.ipynb")) if (p := notebook_problem(nb))]
    if problems:
        score_zero(course, assignment, student)
        return Outcome(student, False, "; ".join(problems) + " Scored 0.", time.perf_counter() - start)
    env = nbgrader_env()
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    if threads is not None:  # parallel kernels share the cores instead of each taking them all
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            env[variable] = str(threads)
    command = [*NBGRADER, "autograde", assignment, "--student", student, "--create", "--force"]
    try:
        done = subprocess.run(
            command, cwd=course, env=env, capture_output=True, text=True, timeout=timeout, start_new_session=True
        )
    except subprocess.TimeoutExpired:
        score_zero(course, assignment, student)
        message = f"grading took longer than {timeout:.0f} s and was stopped; scored 0"
        return Outcome(student, False, message, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "Error" in line]
        return Outcome(student, False, (errors[:1] or done.stderr.splitlines()[-1:] or ["nbgrader failed"])[0], seconds)
    return Outcome(student, True, "; ".join(["graded", *timed_out_cells(course, assignment, student)]), seconds)


def timed_out_cells(course: Path, assignment: str, student: str) -> list[str]:
    """A note per cell of the autograded notebooks that was stopped by the per-cell time limit."""
    notes = []
    for path in sorted((course / "autograded" / student / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if any("CellTimeoutError" in json.dumps(output) for output in cell.get("outputs", [])):
                cell_id = cell.metadata.get("nbgrader", {}).get("grade_id", cell.get("id", "?"))
                notes.append(f"cell {cell_id} of {path.name} ran past the per-cell time limit and was stopped")
    return notes


def score_zero(course: Path, assignment: str, student: str) -> None:
    """Record 0 for every grade cell of the student's submission, as nbgrader does for a missing notebook."""
    with gradebook(course) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()


@contextmanager
def gradebook(course: Path):
    """The course's real nbgrader gradebook (`gradebook.db` in the course directory)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}?timeout=60") as gb:
        yield gb


@contextmanager
def executor(jobs: int, scheduler: str | None) -> Iterator[Executor]:
    """A pool of `jobs` threads (each waits on its nbgrader process), or a Dask cluster's executor."""
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            yield client.get_executor()
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            yield pool


def autograde(
    course_dir: str | Path,
    assignment: str,
    students: list[str] | None = None,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    timeout: float | None = None,
) -> list[Outcome]:
    """Autograde `students` (default: everyone who submitted) and return one Outcome each, sorted."""
    course = Path(course_dir).resolve()
    students = students if students is not None else submitted_students(course, assignment)
    gpus = gpu_ids()
    jobs = jobs or max(1, len(gpus) or (os.cpu_count() or 2) // 2)
    threads = None if scheduler else max(1, (os.cpu_count() or 1) // jobs)
    with gradebook(course) as gb:  # create the schema once, before the parallel writers
        gb.find_assignment(assignment)
    with executor(jobs, scheduler) as pool:
        futures = [
            pool.submit(
                autograde_one, str(course), assignment, student, gpus[i % len(gpus)] if gpus else None, timeout, threads
            )
            for i, student in enumerate(students)
        ]
        return sorted((f.result() for f in futures), key=lambda o: o.student)


def scores(course_dir: str | Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """`{student: {grade_id: (score, max_score)}}` for every submission of `assignment` in the gradebook."""
    table: dict[str, dict[str, tuple[float, float]]] = {}
    with gradebook(Path(course_dir)) as gb:
        for submission in gb.find_assignment(assignment).submissions:
            cells = table.setdefault(submission.student.id, {})
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[grade.name] = (float(grade.score), float(grade.max_score))
    return table


def generate_feedback(course_dir: str | Path, assignment: str) -> subprocess.CompletedProcess:
    """Run `nbgrader generate_feedback` for the assignment (HTML per student under feedback/)."""
    return subprocess.run(
        [*NBGRADER, "generate_feedback", assignment, "--force"],
        cwd=course_dir, env=nbgrader_env(), capture_output=True, text=True,
    )


def export_grades(course_dir: str | Path, path: str | Path) -> subprocess.CompletedProcess:
    """Run `nbgrader export` into a CSV file."""
    return subprocess.run(
        [*NBGRADER, "export", f"--to={Path(path).resolve()}"],
        cwd=course_dir, env=nbgrader_env(), capture_output=True, text=True,
    )
