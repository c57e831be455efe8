"""Autograde a class: one sandboxed job per submission, several at once, one writer.

The coordinating process reads every submission into a `GradingJob` (`Recorder.prepare`),
runs the jobs in a pool of threads here (each drives one sandboxed kernel; one GPU each in turn
when GPUs are visible) or on a Dask cluster (``scheduler="tcp://host:8786"``: the workers
share no disk with the coordinator, jobs carry the submission in and the executed notebooks
out), and writes each result into the gradebook as it arrives (`Recorder.record`). A broken or
hostile submission costs its own points only: it cannot reach the gradebook or another
student's files, and whatever limit it hits is reported in its `Outcome`. Preparing, running and
recording are each done per student: a submission that fails any of them is named in its own
`Outcome`, and its classmates are graded as if it were not there.
"""

from __future__ import annotations

import dataclasses
import os
import re
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from traitlets.config import Config

from graders.runner import canary, sandbox
from graders.runner.errors import EnvironmentBroken
from graders.runner.execute import stopped_notes
from graders.runner.gradebook import Recorder
from graders.runner.jobs import GradingJob, run_job, takes_warm_kernels
from graders.runner.kernels import WarmKernels, warm_up_code
from graders.runner.placement import default_jobs, gpu_ids, placed_config, provisioner_settings

GUARD_STOP = re.compile(r"✗ .+? stopped\b")  # what graders.check.front.guard prints when the block it guards stops


@dataclass(frozen=True)
class Outcome:
    """How grading one student's submission went (the scores themselves are in the gradebook);
    `timings`: where the job's seconds went (see `JobResult`)."""

    student: str
    graded: bool
    message: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def notes(result_notebooks: dict[str, NotebookNode]) -> list[str]:
    """What the TA should know of an executed submission: limits hit, cells stopped, and where a guarded cell
    (the whole pipeline) stopped: it says why the results scored what they did."""
    found = []
    for name, notebook in sorted(result_notebooks.items()):
        found += stopped_notes(notebook, f"{name}.ipynb")
        for cell in notebook.cells:
            guarded = cell.get("cell_type") == "code" and ".guard(" in cell.get("source", "")
            for output in cell.get("outputs", []):
                if guarded and output.get("output_type") == "stream" and output.get("name") == "stderr":
                    found += [ln.removeprefix("✗ ") for ln in output.get("text", "").splitlines() if GUARD_STOP.match(ln)]
    return found


@contextmanager
def executor(jobs: int, scheduler: str | None) -> Iterator[Executor]:
    """A pool of `jobs` threads here, or a Dask cluster's executor."""
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            yield client.get_executor(pure=False)
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
    unsafe_no_sandbox: bool = False,
    progress: Callable[[Outcome | None, int], None] | None = None,
) -> list[Outcome]:
    """Autograde `students` (default: everyone who submitted) and return one Outcome each, sorted.

    `timeout` caps the seconds one submitted notebook may run (default: the course's
    COURSE_SUBMISSION_TIMEOUT). `progress(outcome, total)` is called as each submission is done, and
    once before, with no outcome.
    Raises SandboxUnavailable before grading anything when the sandbox cannot run here, unless
    `unsafe_no_sandbox` (or the course's COURSE_UNSAFE_NO_SANDBOX). Raises EnvironmentBroken before any
    grade is written when the grading environment cannot grade: the grading kernel imports the course's packages
    from elsewhere than this process, or the assignment's reference answers (the canary, graded like a submission
    once the first results, one per job, are in and none earned full marks; a submission that earns them has shown
    that the environment can grade), do not earn full marks.
    """
    recorder = Recorder(course_dir)
    recorder.check_gradebook(assignment)
    students = students if students is not None else recorder.submitted(assignment)
    unsafe_no_sandbox = unsafe_no_sandbox or recorder.config.SandboxProvisioner.get("unsafe_no_sandbox", False)
    if not scheduler and (missing := sandbox.problems()) and not unsafe_no_sandbox:
        raise sandbox.SandboxUnavailable(sandbox.refusal(missing))
    if students and not scheduler and (mixed := canary.mixed_packages()):  # a cluster's workers use their own
        raise EnvironmentBroken(mixed, assignment=assignment)
    gpus = gpu_ids()
    jobs = jobs or default_jobs(len(gpus))
    threads = None if scheduler else max(1, (os.cpu_count() or 1) // jobs)
    outcomes, problems, prepared = [], {}, []
    for student in students:  # reading writes nothing
        problems[student], job = _prepare(recorder, assignment, student)
        prepared += [job] if job is not None else []

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome, len(students))

    def config(index: int) -> dict:
        settings = provisioner_settings(index, gpus, threads, timeout, unsafe_no_sandbox)
        return placed_config(recorder.execution_config(), settings)

    def check_environment(pool) -> None:
        """The canary, in a kernel of its own (the warm ones are the students'); EnvironmentBroken short of full marks."""
        job = dataclasses.replace(canary.reference_job(recorder, assignment), config=config(len(prepared)))
        run = (lambda job: pool.submit(run_job, job).result()) if scheduler else run_job
        canary.require(canary.grade_reference(recorder, job, run))

    warm = warm_kernels(recorder, assignment, prepared, jobs, config, scheduler)
    with executor(jobs, scheduler) as pool, warm as kernels:
        futures = {pool.submit(run_job, dataclasses.replace(job, config=config(index)), kernels): job.student
                   for index, job in enumerate(prepared)}
        # Nothing is recorded, and no zero written, until the environment has shown that it can grade: a submission
        # earned full marks, or else the canary did, run once the first results (one per job) all fell short.
        held, shown = [], not students
        try:
            for future in as_completed(futures):
                held.append(future)
                shown = _earned_full_marks(recorder, future)
                if shown or len(held) == min(jobs, len(futures)):
                    break
            if not shown:  # or no submission to run: every one is scored 0 for what it holds
                check_environment(pool)
        except EnvironmentBroken:
            for future in futures:
                future.cancel()
            raise
        if progress is not None:
            progress(None, len(students))
        for student, found in problems.items():
            if found:
                done(_score_zero(recorder, assignment, student, found))
        for future in held:
            done(_record(recorder, assignment, futures[future], future))
        for future in as_completed(set(futures) - set(held)):
            done(_record(recorder, assignment, futures[future], future))
    return sorted(outcomes, key=lambda o: o.student)


@contextmanager
def warm_kernels(recorder: Recorder, assignment: str, prepared: list[GradingJob], jobs: int, config, scheduler):
    """Kernels started ahead of need for the local pool (None on a cluster: each worker starts its own)."""
    if scheduler or not prepared:
        yield None
        return
    source = Path(recorder.coursedir.format_path(recorder.coursedir.source_directory, ".", assignment))
    imports = "\n".join(warm_up_code(nbformat.read(path, as_version=4)) for path in sorted(source.glob("*.ipynb")))
    # An import that fails here fails again in the notebook's setup cell, which says so (and the canary stops the
    # batch): not on the grader's terminal.
    warm_up = f"try:\n{textwrap.indent(imports, '    ')}\nexcept Exception:\n    pass" if imports else ""
    total = sum(len(job.notebooks) for job in prepared if takes_warm_kernels(job))  # none started for nothing
    with WarmKernels(lambda index: Config(config(index)), size=jobs, total=total, warm_up=warm_up) as kernels:
        yield kernels


def _error(error: BaseException) -> str:
    """An exception in one line: its type and the first line of its message."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _earned_full_marks(recorder: Recorder, future) -> bool:
    """Whether a finished job's notebooks earned every autograded point, scored in memory as the canary is."""
    try:
        notebooks = future.result().notebooks
    except Exception:
        return False
    executed = {name: nbformat.reads(text, as_version=4) for name, text in notebooks.items()}
    earned, available, failure = canary.score(executed, recorder.config)
    return failure is None and available > 0


def _prepare(recorder: Recorder, assignment: str, student: str) -> tuple[list[str], GradingJob | None]:
    """Why the submission cannot be graded (`Recorder.problems`, or why nbgrader cannot prepare it), or its job."""
    try:
        if found := recorder.problems(assignment, student):
            return found, None
        return [], recorder.prepare(assignment, student)
    except Exception as error:  # whatever the submission holds that nbgrader's sanitizing refuses
        return [f"nbgrader cannot prepare it ({_error(error)})"], None


def _score_zero(recorder: Recorder, assignment: str, student: str, found: list[str]) -> Outcome:
    try:
        recorder.score_zero(assignment, student)
    except Exception as error:
        return Outcome(student, False, "; ".join(found) + f"; scoring 0 failed ({_error(error)})", 0.0)
    return Outcome(student, False, "; ".join(found) + " Scored 0.", 0.0)


def _record(recorder: Recorder, assignment: str, student: str, future) -> Outcome:
    try:
        result = future.result()
    except Exception as error:  # the job could not run: the sandbox refused, its worker died for good, ...
        return Outcome(student, False, f"grading job failed: {_error(error)}", 0.0)
    try:
        executed = {name: nbformat.reads(text, as_version=4) for name, text in result.notebooks.items()}
        said = notes(executed)  # before the record, whose preprocessors may change the outputs it shares
        said = recorder.left_out(assignment, student) + said  # what of the submission was not read
        written = recorder.record(assignment, student, executed)
    except Exception as error:  # the result or the submission could not be read back
        return Outcome(student, False, f"recording failed: {_error(error)}", result.seconds)
    if not written["success"]:
        errors = [line for line in written.get("log", "").splitlines() if line.startswith("[ERROR]")]
        return Outcome(student, False, (errors or ["nbgrader could not record the result"])[0], result.seconds)
    said = written["notes"] + said  # what the sanitizing changed in its cells (GradebookCells)
    return Outcome(student, True, "; ".join(["graded", *said]), result.seconds, result.timings)


def scores(course_dir: str | Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """`{student: {grade_id: (score, max_score)}}` for every submission of `assignment` in the gradebook."""
    return Recorder(course_dir).scores(assignment)
