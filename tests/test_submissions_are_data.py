"""A submission's links, FIFOs and huge files hand no one the gradebook or the solutions (issue 15, section 1).

One course in tmp, two hostile students, each with symbolic links to the course's ``gradebook.db``
and to ``source/torch_pipeline/torch_pipeline.ipynb`` (as a plain file, as an extra notebook, and a
folder link), a FIFO and a file over the size cap:

* ``mallory`` by the exchange: a folder put by hand into ``inbound/``, taken by stock ``nbgrader collect``;
* ``trudy`` directly in ``submitted/trudy/torch_pipeline/``, with a regular file of her own;
* ``eve``, whose notebook is a link to the source notebook, and ``oscar``, whose submission folder is a
  link to ``source/torch_pipeline/``: neither is read, and each scores 0 with a line that says why.

Their notebooks print every file the grader hands them. Both are graded by ``python -m graders
autograde``; feedback is made by stock ``nbgrader generate_feedback`` (the course's hook), then by
``python -m graders feedback``. No byte of either target may reach ``submitted/``, ``autograded/``
or ``feedback/``, every link is named in a warning or report line, and both notebooks are still graded.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from submissions import Sample, reference_cell, released_course

from graders.author import build
from graders.runner.gradebook import NBGRADER, Recorder

pytestmark = pytest.mark.slow
A = "torch_pipeline"
SECRET = "classmate-grade-5e1c"  # in the gradebook: a classmate's name
TARGET_BYTES = {"gradebook": (b"SQLite format 3", SECRET.encode()), "source notebook": (b"BEGIN SOLUTION",)}
TIMESTAMP = "2030-01-01 00:00:00.000000 UTC"
PEEK = '''

import pathlib as _pathlib
for _path in sorted(_pathlib.Path.cwd().rglob("*")):  # print whatever the grader handed in
    if _path.is_file():
        print(_path.name, _path.read_bytes().decode("latin-1"))
'''
LINKS = ("gradebook.db", "solutions.json", "answers.ipynb", "data")  # the last: a folder link


def plant(folder: Path, course: Path) -> None:
    """The student's notebook, timestamp, links to the gradebook and the source, a FIFO and a file over the cap."""
    folder.mkdir(parents=True)
    notebook = Sample("x", {"download": reference_cell(A, "download") + PEEK}, base="release").notebook(A, course)
    (folder / f"{A}.ipynb").write_text(nbformat.writes(notebook), encoding="utf-8")
    (folder / "timestamp.txt").write_text(TIMESTAMP)
    source = course / "source" / A
    for name, target in zip(LINKS, (course / "gradebook.db", source / f"{A}.ipynb", source / f"{A}.ipynb", source)):
        (folder / name).symlink_to(target)
    os.mkfifo(folder / "pipe")
    (folder / "big.bin").write_bytes(b"\0" * (2 << 20))


def run(command: list[str], course: Path, env: dict, returncode: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == returncode, done.stdout + done.stderr
    return done


def regular_files(folder: Path) -> dict[Path, bytes]:
    """Every regular file under `folder`, found and read without following a link."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root, name)
            if stat.S_ISREG(path.lstat().st_mode):
                found[path] = path.read_bytes()
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("submissions-are-data")
    course, exchange = released_course(tmp / "course", A), tmp / "exchange"
    env = build.nbgrader_env() | {"NBGRADER_EXCHANGE": str(exchange), "COURSE_MAX_SUBMISSION_FILE": "1M"}
    with Recorder(course).gradebook() as gb:
        gb.update_or_create_student("classmate", first_name=SECRET)
    targets = {"gradebook": (course / "gradebook.db").read_bytes(), "source notebook": (course / "source" / A / f"{A}.ipynb").read_bytes()}
    for what, markers in TARGET_BYTES.items():
        assert all(marker in targets[what] for marker in markers), f"the {what} lacks a marker this test looks for"
    run([*NBGRADER, "release_assignment", A], course, env)
    plant(exchange / "tf-pytorch" / "inbound" / f"mallory+{A}+{TIMESTAMP}", course)
    collected = run([*NBGRADER, "collect", A], course, env)
    plant(course / "submitted" / "trudy" / A, course)
    (course / "submitted" / "trudy" / A / "notes.txt").write_text("my own notes")
    (course / "submitted" / "eve" / A).mkdir(parents=True)
    (course / "submitted" / "eve" / A / f"{A}.ipynb").symlink_to(course / "source" / A / f"{A}.ipynb")
    (course / "submitted" / "oscar").mkdir()
    (course / "submitted" / "oscar" / A).symlink_to(course / "source" / A)
    autograded = run([sys.executable, "-m", "graders", "autograde", A, "--root", str(course)], course, env, returncode=1)
    assert "2 of 4 submissions graded" in autograded.stdout, autograded.stdout + autograded.stderr
    run([*NBGRADER, "generate_feedback", A, "--force"], course, env)
    stock_feedback = regular_files(course / "feedback")
    run([sys.executable, "-m", "graders", "feedback", A, "--root", str(course)], course, env)
    yield {
        "course": course, "collect": collected.stdout + collected.stderr, "report": autograded.stdout.splitlines(),
        "stock feedback": stock_feedback, "scores": Recorder(course).scores(A),
    }
    shutil.rmtree(tmp, ignore_errors=True)


def test_collect_takes_regular_files_only_and_names_what_it_left(graded):
    folder = graded["course"] / "submitted" / "mallory" / A
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{A}.ipynb", "timestamp.txt"])
    assert all(stat.S_ISREG(p.lstat().st_mode) for p in folder.iterdir())
    warnings = [line for line in graded["collect"].splitlines() if "left behind in the exchange" in line]
    for name, why in [*((link, "a symbolic link") for link in LINKS), ("pipe", "a FIFO"), ("big.bin", "2 MiB, over the 1 MiB cap")]:
        assert any(f"mallory: {name} left behind in the exchange ({why})" in line for line in warnings), graded["collect"]


def test_the_runner_reads_no_link_and_says_so_in_the_report(graded):
    line = next(line for line in graded["report"] if line.startswith("trudy "))
    assert "NOT GRADED" not in line and "  graded; " in line, graded["report"]
    for name, why in [*((link, "a symbolic link") for link in LINKS), ("pipe", "a FIFO"), ("big.bin", "2 MiB, over the 1 MiB cap")]:
        assert f"{name} not read ({why})" in line, line
    mallory = next(line for line in graded["report"] if line.startswith("mallory "))
    assert "NOT GRADED" not in mallory and "not read" not in mallory, graded["report"]


def test_a_linked_notebook_or_submission_folder_is_not_read_and_scores_0(graded):
    lines = {line.split()[0]: line for line in graded["report"] if line.split() and line.split()[0] in ("eve", "oscar")}
    assert lines["eve"].endswith(f"NOT GRADED: {A}.ipynb not read (a symbolic link) Scored 0."), graded["report"]
    assert lines["oscar"].endswith(f"NOT GRADED: its folder is not read ({A} is a symbolic link) Scored 0."), graded["report"]
    assert not (graded["course"] / "autograded" / "eve").exists() and not (graded["course"] / "autograded" / "oscar").exists()


def test_no_byte_of_the_gradebook_or_the_solutions_reaches_the_course_folders(graded):
    course = graded["course"]
    files = {p: data for folder in ("submitted", "autograded", "feedback") for p, data in regular_files(course / folder).items()}
    files |= graded["stock feedback"]
    peeked = files[course / "autograded" / "trudy" / A / f"{A}.ipynb"]
    assert b"notes.txt my own notes" in peeked, "the notebook printed not even the student's own file: the test proves nothing"
    for path, data in files.items():
        for what, markers in TARGET_BYTES.items():
            assert not any(marker in data for marker in markers), f"{path.relative_to(course)} holds bytes of the {what}"


def test_the_students_own_notebooks_are_still_graded(graded):
    for student in ("mallory", "trudy"):
        assert graded["scores"][student]["download_tests"] == (1.0, 1.0), graded["scores"].get(student)


@pytest.mark.parametrize("made_by", ["stock feedback", "python -m graders feedback"])
def test_feedback_holds_the_pages_only(graded, made_by):
    course = graded["course"]
    files = graded["stock feedback"] if made_by == "stock feedback" else regular_files(course / "feedback")
    names = {p.relative_to(course / "feedback").as_posix() for p in files}
    assert names == {f"{s}/{A}/{name}" for s in ("mallory", "trudy") for name in (f"{A}.html", "timestamp.txt")}, names
    assert not any(p.is_symlink() for p in (course / "feedback").rglob("*"))
