"""`python -m graders autograde` as a TA types it: a live progress bar, then one line per student, and
no library noise (no SQLAlchemy warnings, no jupyter_client transport warnings) on the terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest
from submissions import Sample, new_course, reference_cell, released_course
from submissions.attacks import MEMORY_HOG

from graders.author import build

pytestmark = pytest.mark.slow
ASSIGNMENT = "torch_pipeline"


def test_a_class_is_graded_with_a_progress_bar_and_no_noise(tmp_path, monkeypatch):
    """bob's memory hog is stopped at the memory limit the TA set (COURSE_MEMORY_LIMIT), and keeps what it earned."""
    course = released_course(tmp_path / "course", ASSIGNMENT)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "exchange"))
    Sample("ada").submit(course, ASSIGNMENT)
    hog = MEMORY_HOG + reference_cell(ASSIGNMENT, "train")
    Sample("bob", {"train": hog}).submit(course, ASSIGNMENT)
    done = subprocess.run(
        [sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--root", str(course)],
        capture_output=True, text=True, env=build.nbgrader_env() | {"COURSE_MEMORY_LIMIT": "1G"}, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["ada", "16", "/", "16"] and lines[0].endswith("graded"), lines
    assert lines[1].split()[:4] == ["bob", "9", "/", "16"], lines
    assert lines[1].endswith("graded; memory limit (1 GiB) exceeded in cell train of torch_pipeline.ipynb"), lines
    assert lines[2].startswith("2 of 2 submissions graded into sqlite:///"), lines
    bar = done.stderr.strip().splitlines()[-1]
    assert bar.startswith(f"grading {ASSIGNMENT}") and "2/2" in bar and "0 not graded" in bar, done.stderr
    assert done.stderr.strip().splitlines() == [bar], f"more than the progress bar on stderr:\n{done.stderr}"


def test_a_gradebook_it_cannot_use_is_one_clear_line(tmp_path, monkeypatch):
    """No traceback: a gradebook server that does not answer, and a gradebook without the assignment."""
    course = new_course(tmp_path / "course", ASSIGNMENT)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "exchange"))
    command = [sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--root", str(course)]
    env = build.nbgrader_env() | {"COURSE_DB_URL": "postgresql+psycopg://grader:s3cret@127.0.0.1:1/course"}
    down = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert down.returncode == 2, down.stdout + down.stderr
    assert down.stderr.startswith("error: cannot use the gradebook postgresql+psycopg://grader:***@127.0.0.1:1/course:")
    assert len(down.stderr.strip().splitlines()) == 1 and "s3cret" not in down.stdout + down.stderr
    unreleased = subprocess.run(command, capture_output=True, text=True, env=build.nbgrader_env(), timeout=120)
    assert unreleased.returncode == 2, unreleased.stdout + unreleased.stderr
    assert f"has no assignment '{ASSIGNMENT}': release it first" in unreleased.stderr, unreleased.stderr
