"""The gradebook on a real PostgreSQL server (tests/postgres.py): grading, nbgrader's API, export, feedback.

A course directory in tmp (this repository's nbgrader_config.py, source/ and release/ of one
assignment) whose COURSE_DB_URL names a fresh database on the session's server, reached over
loopback TCP with a password. Two samples are graded by our runner; nbgrader's own Gradebook
and formgrader's API (`NbGraderAPI`, what its pages and buttons call) read the scores back from
PostgreSQL and write the feedback, and stock ``nbgrader export`` writes the CSV. No output
names the password.
"""

from __future__ import annotations

import csv

import pytest
from submissions import Sample, full_marks, new_course, zero_marks

from graders.author import build
from graders.runner import batch
from graders.runner.gradebook import export_grades

pytestmark = pytest.mark.slow
ASSIGNMENT = "torch_pipeline"


@pytest.fixture
def course(tmp_path, monkeypatch, postgres):
    root = new_course(tmp_path / "course", ASSIGNMENT)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "exchange"))
    monkeypatch.setenv("COURSE_DB_URL", postgres.create_database(f"course_{tmp_path.name}"))
    build.release(ASSIGNMENT, course_root=root)  # nbgrader records the assignment in PostgreSQL
    return root


def test_a_class_is_graded_into_postgresql(course, postgres, tmp_path):
    from nbgrader.api import Gradebook
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from graders.runner.gradebook import course_config

    bank = [
        Sample("ada", expected=full_marks(ASSIGNMENT)),
        Sample("bob", base="release", expected=zero_marks(ASSIGNMENT)),
    ]
    for sample in bank:
        sample.submit(course, ASSIGNMENT)
    outcomes = batch.autograde(course, ASSIGNMENT, jobs=1)
    assert [(o.student, o.graded) for o in outcomes] == [("ada", True), ("bob", True)], outcomes

    coursedir = CourseDirectory(config=course_config(course))
    assert coursedir.db_url.startswith("postgresql+psycopg://") and not (course / "gradebook.db").exists()
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for sample in bank:
            submission = gb.find_submission(ASSIGNMENT, sample.name)
            got = {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}
            assert got == sample.expected, sample.name
    totals = {"ada": 16.0, "bob": 0.0}  # the points of the whole notebook, and none

    formgrader = NbGraderAPI(coursedir=coursedir, config=course_config(course))  # what formgrader's pages read
    listed = {s["student"]: s["score"] for s in formgrader.get_submissions(ASSIGNMENT)}
    assert listed == totals

    grades = tmp_path / "grades.csv"
    exported = export_grades(course, grades)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    with grades.open(newline="") as table:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(table) if row["assignment"] == ASSIGNMENT}
    assert rows == totals

    feedback = formgrader.generate_feedback(ASSIGNMENT)
    assert feedback["success"], feedback
    for sample in bank:
        assert (course / "feedback" / sample.name / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file(), sample.name
    said = exported.stdout + exported.stderr + feedback["log"] + "".join(o.message for o in outcomes)
    assert postgres.password not in said
