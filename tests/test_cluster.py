"""Autograde on a Dask cluster: a real scheduler and worker processes on loopback.

The workers share no disk with the coordinator: they run in a mount namespace (bubblewrap) in
which the course directory is an empty folder, so every job must carry the submission in and the
executed notebook out. And a worker killed in the middle of a batch loses no grade and
duplicates none: the scheduler runs its job again on another worker, and only the coordinator,
once a job's result is in, writes the gradebook.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from submissions import Sample, full_marks, reference_cell, released_course, zero_marks

from graders.runner import batch as ag
from graders.runner.gradebook import Recorder

pytestmark = pytest.mark.slow
ASSIGNMENT = "torch_pipeline"
DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture
def course(tmp_path, monkeypatch):
    root = released_course(tmp_path / "course", ASSIGNMENT)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "exchange"))
    return root


def graded_once_each(course: Path, bank: list[Sample]) -> None:
    """Every sample is in the gradebook once, with its expected score, and has its autograded notebook."""
    with Recorder(course).gradebook() as gb:
        students = sorted(s.student.id for s in gb.find_assignment(ASSIGNMENT).submissions)
    assert students == sorted(s.name for s in bank)
    scores = ag.scores(course, ASSIGNMENT)
    for sample in bank:
        got = {cell: score for cell, (score, _) in scores[sample.name].items()}
        assert got == sample.expected, sample.name
        assert (course / "autograded" / sample.name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()


def test_workers_that_cannot_see_the_course_grade_a_class(course, tmp_path):
    from distributed import Client, LocalCluster

    bank = [Sample("ada", expected=full_marks(ASSIGNMENT)), Sample("bob", base="release", expected=zero_marks(ASSIGNMENT))]
    for sample in bank:
        sample.submit(course, ASSIGNMENT)
    hidden = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", str(tmp_path), "--die-with-parent", "--"]
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        workers = [
            subprocess.Popen(
                [*hidden, DASK, "worker", cluster.scheduler_address, "--nthreads", "1", "--no-dashboard", "--name", name],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
            for name in ("far-1", "far-2")
        ]
        try:
            with Client(cluster.scheduler_address) as client:
                client.wait_for_workers(2, timeout=60)
                seen = client.run(os.path.isdir, str(course))
                assert list(seen.values()) == [False, False], seen  # the course is not on the workers' disk
            outcomes = ag.autograde(course, ASSIGNMENT, scheduler=cluster.scheduler_address)
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
    assert [(o.student, o.graded) for o in outcomes] == [("ada", True), ("bob", True)], outcomes
    graded_once_each(course, bank)


def test_a_worker_killed_mid_batch_loses_no_grade_and_duplicates_none(course):
    from distributed import Client, LocalCluster

    slow = "import time\n\ntime.sleep(4)\n\n" + reference_cell(ASSIGNMENT, "download")
    bank = [Sample(f"student-{n}", {"download": slow}, full_marks(ASSIGNMENT)) for n in range(4)]
    for sample in bank:
        sample.submit(course, ASSIGNMENT)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        result: dict = {}
        batch = threading.Thread(
            target=lambda: result.update(outcomes=ag.autograde(course, ASSIGNMENT, scheduler=cluster.scheduler_address))
        )
        batch.start()
        with Client(cluster.scheduler_address) as client:
            deadline = time.monotonic() + 120
            while not any(client.processing().values()):  # a job is running on some worker
                assert time.monotonic() < deadline, "no job started"
                time.sleep(0.2)
            time.sleep(2)  # well inside its notebook
            busy = next(address for address, tasks in client.processing().items() if tasks)
            pid = client.run(os.getpid)[busy]
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            with pytest.raises(ProcessLookupError):  # that worker, and the job it ran, are gone
                os.kill(pid, 0)
            batch.join(timeout=600)
    assert not batch.is_alive(), "the batch did not finish"
    assert [(o.student, o.graded) for o in result["outcomes"]] == [(s.name, True) for s in bank], result["outcomes"]
    graded_once_each(course, bank)
