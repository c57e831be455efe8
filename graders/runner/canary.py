"""The canary: before a class's grades are written, its own reference answers are graded in the same grading kernel.

A grading environment that cannot grade (a course package the sandboxed kernel cannot import, an
unreadable dataset cache, a broken CUDA library) fails every submission alike, and would write a 0
over every student's grade. So before the first grade is written:

* `mixed_packages` asks the grading kernel's interpreter where it imports the course's packages
  from (`graders.runner.sandbox.kernel_imports`, what the sandbox binds) and refuses a course folder
  holding its own copy of them while the kernel imports another checkout's;
* `grade_reference` grades the assignment's source notebook (`reference_job`: the reference answers) as a
  submission is graded, with the batch's kernel, config and limits, and scores it in memory as
  nbgrader would (nothing is written). Anything short of full marks stops the batch before any grade
  is written: `EnvironmentBroken`, in one line naming the cell and why, e.g.

      the grading environment is broken: the setup cell failed (ModuleNotFoundError: No module named
      'graders'); no submission was graded. Run python -m graders doctor torch_pipeline.

`graders.runner.batch` runs it only when needed: a submission that earns full marks in the batch's kernels has
shown the same, so the reference is graded only when the first results (one per job) all fall short, and
the grades wait for it. ``python -m graders doctor`` runs the same canary (`check_references`).

Stock ``nbgrader autograde`` and formgrader's button grade one submission at a time and cannot run
it first. There `refuse_failed_setup` (called by `graders.runner.execute.SandboxedExecute` after each
cell) raises `SetupFailed` when the notebook's setup cell fails on an import: nbgrader then logs the
error, deletes the partial autograded folder and records no score for that submission, instead of 0.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from graders.runner import sandbox
from graders.runner.errors import EnvironmentBroken, SetupFailed
from graders.runner.gradebook import Recorder
from graders.runner.jobs import GradingJob, JobResult, run_job
from graders.runner.placement import gpu_ids, placed_config, provisioner_settings
from graders.runner.setup_cell import first_line, setup_index

REFERENCE = "(reference answers)"  # the student a reference job is graded as; never recorded


# Where the packages come from -----------------------------------------------------------------
def mixed_packages(imports: sandbox.KernelImports | None = None) -> str | None:
    """One line when this process imports one of the course's packages from another folder than the grading
    kernel does (`imports`, default `sandbox.kernel_imports()`): a course folder holding its own copy of
    them, graded with an environment installed from another checkout. None when they agree."""
    imports = imports or sandbox.kernel_imports()
    for name in sandbox.PACKAGES:
        spec = importlib.util.find_spec(name)
        here = [os.path.realpath(path) for path in (spec.submodule_search_locations or [])] if spec else []
        there = imports.packages.get(name, [])
        if here and there and set(here) != set(there):
            return f"the grading kernel ({imports.python}) imports {name} from {there[0]}, but this command from {here[0]}"
    return None


# The reference run ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceRun:
    """How the reference answers of `assignment` scored in the grading kernel: points `earned` of `available`
    (autograded cells only), the job's `seconds`, and `failure` (None: full marks): which cell, and why."""

    assignment: str
    earned: float
    available: float
    seconds: float
    failure: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


def reference_job(recorder, assignment: str) -> GradingJob:
    """The job of grading the assignment's source notebooks (the reference answers, outputs cleared) with its given
    files, as a submission's job is made (`graders.runner.gradebook.Recorder.prepare`); `recorder` is its Recorder."""
    from nbgrader.utils import find_all_files

    coursedir = recorder.coursedir
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    notebooks = {}
    for path in sorted(source.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        notebooks[path.stem] = nbformat.writes(notebook)
    files = {
        str(Path(path).relative_to(source)): Path(path).read_bytes()
        for path in find_all_files(str(source), coursedir.ignore + ["*.ipynb"])
    }
    return GradingJob(assignment, REFERENCE, notebooks, files, recorder.execution_config())


def grade_reference(recorder, job: GradingJob, run: Callable[[GradingJob], JobResult]) -> ReferenceRun:
    """Run the reference `job` with `run` (the batch's way of running a job) and score it as nbgrader would."""
    start = time.perf_counter()
    if not job.notebooks:
        return ReferenceRun(job.assignment, 0.0, 0.0, 0.0, f"the assignment {job.assignment!r} has no source notebook to check it with")
    try:
        result = run(job)
    except SetupFailed as error:
        return ReferenceRun(job.assignment, 0.0, 0.0, time.perf_counter() - start, error.cause)
    except Exception as error:  # the kernel did not start, the sandbox refused, the worker died
        said = ": ".join(filter(None, (type(error).__name__, first_line(str(error)))))
        return ReferenceRun(job.assignment, 0.0, 0.0, time.perf_counter() - start, f"the grading kernel did not run ({said})")
    executed = {name: nbformat.reads(text, as_version=4) for name, text in result.notebooks.items()}
    earned, available, failure = score(executed, recorder.config)
    return ReferenceRun(job.assignment, earned, available, result.seconds, failure)


def score(executed: dict[str, NotebookNode], config) -> tuple[float, float, str | None]:
    """(points earned, points available, why not full marks or None) of executed notebooks, by nbgrader's own rule
    (`determine_grade`) over their autograded cells. The cause named is the first cell that raised up to the
    first cell that lost points, else that cell itself."""
    from nbgrader.preprocessors import IgnorePattern
    from nbgrader.utils import determine_grade, is_grade, is_solution

    log, ignore = logging.getLogger("graders.runner.canary"), IgnorePattern(config=config)
    earned = available = 0.0
    failure = None
    for name, notebook in sorted(executed.items()):
        notebook, _ = ignore(notebook, {})  # what nbgrader's autograde removes from stderr before scoring
        setup, raised = setup_index(notebook), None
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            error = next((output for output in cell.outputs if output.output_type == "error"), None)
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id") or f"number {index + 1}"
            where = ("the setup cell" if index == setup else f"cell {grade_id}") + (f" of {name}.ipynb" if len(executed) > 1 else "")
            if error is not None and raised is None:
                raised = f"{where} failed ({': '.join(filter(None, (error.ename, first_line(error.evalue))))})"
            if not is_grade(cell) or is_solution(cell):
                continue
            points, most = determine_grade(cell, log)
            earned, available = earned + (points or 0.0), available + most
            if failure is None and (points or 0.0) < most:
                failure = raised or _lost(where, cell, points or 0.0, most)
    return earned, available, failure


def _lost(where: str, cell: NotebookNode, points: float, most: float) -> str:
    stderr = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.get("name") == "stderr")
    if stderr.strip():
        return f"{where} failed (it wrote to stderr: {first_line(stderr)})"
    return f"{where} earned {points:g} of {most:g} points"


def require(run: ReferenceRun) -> None:
    """EnvironmentBroken unless the reference answers earned full marks."""
    if not run.passed:
        raise EnvironmentBroken(run.failure, assignment=run.assignment)


def check_references(
    course: str | Path, assignments: list[str], *, jobs: int | None = None, unsafe_no_sandbox: bool = False
) -> list[ReferenceRun]:
    """The canary of each of `assignments` (``python -m graders doctor``): their reference answers graded in fresh
    grading kernels, `jobs` at once (default: one per core), with the settings `graders.runner.batch` uses."""

    recorder, gpus = Recorder(course), gpu_ids()
    unsafe_no_sandbox = unsafe_no_sandbox or recorder.config.SandboxProvisioner.get("unsafe_no_sandbox", False)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(assignments)))
    threads = max(1, (os.cpu_count() or 1) // jobs)

    def one(index: int, assignment: str) -> ReferenceRun:
        settings = provisioner_settings(index, gpus, threads, None, unsafe_no_sandbox)
        job = reference_job(recorder, assignment)
        return grade_reference(recorder, replace(job, config=placed_config(job.config, settings)), run_job)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, range(len(assignments)), assignments))
