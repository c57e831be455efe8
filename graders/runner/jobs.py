"""A grading job: one submission's notebooks executed in the sandbox, nothing else.

The coordinator (`graders.runner.gradebook.Recorder`) makes a `GradingJob` from the course
directory: the submitted notebooks with their test cells restored from the gradebook, and the
other files of the working folder. `run_job` needs nothing more: no course directory, no
gradebook, no shared disk. It runs on any worker (a thread of the coordinator, or a Dask worker
on another machine), executes each notebook with `SandboxedExecute` in the kernel's own working
folder (`SandboxProvisioner.working_folder`), and returns the executed notebooks. A job that dies
with its worker can simply run again.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import nbformat

from graders.runner.kernels import WarmKernels
from graders.runner.sandbox import job_folder
from graders.runner.setup_cell import importable

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
    """The executed notebooks (name -> JSON), the seconds the job took on its worker, and where they went:
    {"waiting": for a kernel, "start-up": of the kernel (sandbox included), "imports": done before the
    notebook, "setup cell": its first code cell, "cells": the others}, summed over the job's notebooks."""

    student: str
    notebooks: dict[str, str]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def run_job(job: GradingJob, kernels: WarmKernels | None = None) -> JobResult:
    """Execute every notebook of `job` in the grading sandbox, its files in the kernel's working folder; return them run.

    Each notebook gets a kernel of its own: a warm one from `kernels`, or one started now.
    """
    from traitlets.config import Config

    from graders.runner.execute import SandboxedExecute

    start = time.perf_counter()
    executed, timings = {}, dict.fromkeys(("waiting", "start-up", "imports", "setup cell", "cells"), 0.0)
    for name, text in job.notebooks.items():
        notebook = nbformat.reads(text, as_version=4)
        with _kernel(kernels, timings, job) as (folder, manager):
            execute, begun = SandboxedExecute(config=Config(job.config)), time.time()
            try:
                execute.preprocess(notebook, {"metadata": {"path": str(folder)}}, km=manager)
            finally:
                if manager is not None and execute.kc is not None:  # a warm kernel's client is not nbclient's to end
                    execute.kc.stop_channels()
        for phase, seconds in cell_seconds(notebook, begun).items():
            timings[phase] += seconds
        executed[name] = nbformat.writes(notebook)
    return JobResult(job.student, executed, time.perf_counter() - start, timings)


def takes_warm_kernels(job: GradingJob) -> bool:
    """Whether `job`'s notebooks run in warm kernels. A submission that hands in a module of its own gets kernels
    started beside it, as stock nbgrader's are: a warm kernel imported the course's modules before the files were
    there, so it would not import a submitted torch.py where a fresh one does."""
    return not importable(job.files)


@contextmanager
def _kernel(kernels: WarmKernels | None, timings: dict[str, float], job: GradingJob):
    """(folder, kernel manager) for one notebook of `job`, its files written into the folder: a warm kernel's working
    folder and manager, the kernel closed afterwards (`takes_warm_kernels`); or a job folder and None (nbclient starts
    the kernel there, which copies the files into its own). Adds the warm kernel's seconds to `timings`."""
    if kernels is None or not takes_warm_kernels(job):
        with job_folder() as folder:
            write_files(folder, job.files)
            yield folder, None
        return
    asked = time.perf_counter()
    warm = kernels.take()
    timings["waiting"] += time.perf_counter() - asked
    timings["start-up"] += warm.start_seconds
    timings["imports"] += warm.import_seconds
    try:
        folder = warm.manager.provisioner.working_folder
        write_files(folder, job.files)
        yield folder, warm.manager
    finally:
        warm.close()


def cell_seconds(notebook: nbformat.NotebookNode, begun: float) -> dict[str, float]:
    """Seconds of an executed notebook's first code cell, of its other cells, and before the first (a
    kernel's start when it was not started ahead), from nbclient's timestamps (epoch `begun`: execution asked)."""
    spans = []
    for cell in notebook.cells:
        times = cell.get("metadata", {}).get("execution", {})
        if "iopub.status.busy" in times and "shell.execute_reply" in times:
            busy, reply = (datetime.fromisoformat(times[key].replace("Z", "+00:00")).timestamp()
                           for key in ("iopub.status.busy", "shell.execute_reply"))
            spans.append((busy, reply))
    if not spans:
        return {}
    return {
        "start-up": max(0.0, spans[0][0] - begun),
        "setup cell": spans[0][1] - spans[0][0],
        "cells": sum(reply - busy for busy, reply in spans[1:]),
    }


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write a job's files (relative path -> bytes) into `folder`, each created anew without following a link;
    ValueError for a path that would leave it."""
    top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for relative, data in files.items():
            parts = PurePosixPath(relative).parts
            if not parts or relative.startswith("/") or ".." in parts:
                raise ValueError(f"file {relative!r} of the job lies outside its working folder")
            opened = [top]
            try:
                for part in parts[:-1]:
                    try:
                        os.mkdir(part, 0o755, dir_fd=opened[-1])
                    except FileExistsError:
                        pass
                    opened.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=opened[-1]))
                new = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                with os.fdopen(os.open(parts[-1], new, 0o644, dir_fd=opened[-1]), "wb") as file:
                    file.write(data)
            finally:
                for fd in opened[1:]:
                    os.close(fd)
    finally:
        os.close(top)
