"""A grading job: one submission's notebooks executed in the sandbox, nothing else.

The coordinator (`graders.runner.gradebook.Recorder`) makes a `GradingJob` from the course
directory: the submitted notebooks with their test cells restored from the gradebook, and the
other files of the working folder. `run_job` needs nothing more: no course directory, no
gradebook, no shared disk. It runs on any worker (a thread of the coordinator, or a Dask worker
on another machine), executes each notebook with `SandboxedExecute` in a private working folder,
and returns the executed notebooks. A job that dies with its worker can simply run again.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_FILES_BYTES = 64 << 20  # a submission's other files, in all


@dataclass(frozen=True)
class GradingJob:
    """What a worker needs to grade one submission.

    notebooks  notebook name (no .ipynb) -> its JSON, sanitized: test cells as the course wrote them
    files      path relative to the working folder -> bytes: the submission's other files and the
               assignment's given files
    config     the course's execution settings (traitlets config sections `Execute`,
               `SandboxProvisioner`, ...) as plain dicts
    """

    assignment: str
    student: str
    notebooks: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    """The executed notebooks (name -> JSON) and the seconds the job took on its worker."""

    student: str
    notebooks: dict[str, str]
    seconds: float


def run_job(job: GradingJob) -> JobResult:
    """Execute every notebook of `job` in the grading sandbox, in a fresh working folder; return them run."""
    from traitlets.config import Config

    from graders.runner.execute import SandboxedExecute

    start = time.perf_counter()
    executed = {}
    with tempfile.TemporaryDirectory(prefix="course-job-") as tmp:
        workdir = Path(tmp) / job.assignment
        workdir.mkdir()
        for relative, data in job.files.items():
            path = (workdir / relative).resolve()
            if not path.is_relative_to(workdir):
                raise ValueError(f"file {relative!r} of the job lies outside its working folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for name, text in job.notebooks.items():
            notebook = nbformat.reads(text, as_version=4)
            SandboxedExecute(config=Config(job.config)).preprocess(notebook, {"metadata": {"path": str(workdir)}})
            executed[name] = nbformat.writes(notebook)
    return JobResult(job.student, executed, time.perf_counter() - start)
