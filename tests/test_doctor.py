"""``python -m graders doctor``, for real: here grading can run; without bubblewrap or its gradebook it cannot.

The gradebook is a database on the session's PostgreSQL server (tests/postgres.py): the doctor
connects to it, and prints its URL with the password masked.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from submissions import REPO

pytestmark = pytest.mark.slow  # each run imports TensorFlow and PyTorch


def doctor(*assignments: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graders", "doctor", *assignments, "--root", str(REPO)], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, **environment}, timeout=300,
    )


def lines(done: subprocess.CompletedProcess) -> dict[str, str]:
    """topic -> its line (status first), for the report's lines that name a topic."""
    found = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("ok", "WARN", "MISSING"):
            found[rest.strip().split("  ")[0]] = line
    return found


def test_grading_can_run_here(postgres):
    url = postgres.create_database("doctor_ok")
    # one assignment's canary (the bank grades every assignment's reference answers)
    done = doctor("torch_pipeline", COURSE_DB_URL=url, COURSE_CELL_TIMEOUT="77", COURSE_SUBMISSION_TIMEOUT="900", COURSE_MEMORY_LIMIT="3G")
    assert done.returncode == 0, done.stdout + done.stderr
    report = lines(done)
    assert report["TensorFlow"].startswith("ok") and "2.21.0; devices: CPU:0" in report["TensorFlow"]
    assert report["PyTorch"].startswith("ok") and "CUDA available:" in report["PyTorch"]
    assert report["sandbox"].startswith("ok") and "works" in report["sandbox"]
    assert "a cell 77 s, a notebook 900 s; memory 3 GiB (swap included), 1024 tasks, any file 1 GiB" in report["limits"]
    assert report["gradebook"].startswith("ok") and f"grader:***@127.0.0.1:{postgres.port}/doctor_ok (connected)" in report["gradebook"]
    assert report["grading kernel"].startswith("ok") and "tf-pytorch-course-grading" in report["grading kernel"]
    assert report["reference answers"].startswith("ok") and "torch_pipeline: 16 / 16 in the grading kernel" in report["reference answers"]
    assert "GPUs for jobs" in report and "exchange" in report
    assert done.stdout.rstrip().endswith("grading can run here.")
    assert postgres.password not in done.stdout + done.stderr
    assert done.stderr == "", done.stderr  # TensorFlow's start-up lines included


def test_without_bubblewrap_or_the_gradebook_grading_cannot_run(postgres):
    url = postgres.url("no_such_database")
    done = doctor(COURSE_BWRAP="/nonexistent/bwrap", COURSE_DB_URL=url)
    assert done.returncode == 1, done.stdout + done.stderr
    report = lines(done)
    assert report["sandbox isolation"].startswith("MISSING"), done.stdout
    assert "/nonexistent/bwrap not found" in report["sandbox isolation"]
    assert "apt-get install bubblewrap" in report["sandbox isolation"]
    assert report["gradebook"].startswith("MISSING") and 'database "no_such_database" does not exist' in report["gradebook"]
    assert report["TensorFlow"].startswith("ok")
    assert done.stdout.rstrip().endswith("grading cannot run here: 2 MISSING above.")
    assert postgres.password not in done.stdout + done.stderr
