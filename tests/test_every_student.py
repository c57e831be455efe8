"""Every student is graded or named (issue 20): one submission cannot stop its classmates' grading.

One class of torch_pipeline in tmp, an honest student (``ada``) and two that hand in too much beside the notebook:

* ``many_files``: a correct notebook beside 5,000 small files, five times the cap. The runner reads only its notebooks and
  timestamp.txt (COURSE_MAX_SUBMISSION_FILES, 1000 by default), so the grader's memory mappings stay few;
  the course's ``nbgrader collect`` leaves the files behind in the exchange;
* ``large_files``: a correct notebook beside two files of 40 MiB, each under the cap on one file, more than
  the 64 MiB a job carries in all: the runner reads only its notebooks (stock nbgrader copies them all).

Graded by `python -m graders autograde` (the `batch.autograde` API, in this process, so that its memory
mappings can be counted) and by stock ``nbgrader autograde`` (everyone in one call, from the course folder;
``many_files`` collected first by ``nbgrader collect``, the way it reaches ``submitted/`` there). Everyone
scores exactly 16 on both routes.

The sample bank's `METADATA_ATTACKS` (tests/submissions/attacks.py: a results test cell marked ``solution: true``, a
made-up graded cell worth 100 points, a second cell of a known grade id, and changed cell types, schema version, points
and checksum) are graded on every route with the course's `GradebookCells` in tests/test_working_folder.py, each on
its real answers, its report line saying what was restored. Here are their controls, in a course on
nbgrader's own sanitizing steps (GradebookCells off): stock ``nbgrader autograde`` stops at the first attack and grades
no one; the runner names each attack ("nbgrader cannot prepare it"), scores it 0 as nbgrader leaves it, and grades its
classmate; with its per-student preparing undone, the runner grades no one either. Reading small files leaves no
memory mapping per file (and did, before).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from submissions import Sample, full_marks, released_class, zero_marks
from submissions.attacks import METADATA_ATTACKS

from graders.author import build
from graders.runner import batch
from graders.runner.gradebook import NBGRADER, Recorder

pytestmark = pytest.mark.slow
A = "torch_pipeline"
HONEST = [Sample("ada")]
MANY = 5_000  # files beside many_files's notebook: five times the cap (each one read would be a memory mapping)
TIMESTAMP = "2030-01-01 00:00:00.000000 UTC"
REPORTS = {  # the runner's report line of each student
    "ada": "graded",
    "many_files": "graded; more than 1000 files (the cap, COURSE_MAX_SUBMISSION_FILES): only its notebooks and timestamp.txt read",
    "large_files": "graded; more than 64 MiB of files besides its notebooks (the cap): only its notebooks and timestamp.txt read",
}


def map_count() -> int:
    """The memory mappings this process holds (at most vm.max_map_count, 65,530 by default)."""
    with open("/proc/self/maps") as maps:
        return sum(1 for _ in maps)


def make_course(root: Path, students: list[Sample]) -> tuple[Path, dict]:
    """A course at `root` with torch_pipeline released and `students` submitted; the environment of its nbgrader."""
    course = released_class(root, A, students)
    return course, build.nbgrader_env() | {"NBGRADER_EXCHANGE": str(root / "exchange")}


def add_many_files(folder: Path) -> int:
    """timestamp.txt and MANY small files in ``junk/`` beside the notebook; the number of files now in `folder`."""
    (folder / "timestamp.txt").write_text(TIMESTAMP)
    junk = folder / "junk"
    junk.mkdir()
    for number in range(MANY):
        descriptor = os.open(junk / f"{number:06d}.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(descriptor, b"not a notebook\n" * 8)
        os.close(descriptor)
    return sum(len(names) for _, _, names in os.walk(folder))


def nbgrader(course: Path, env: dict, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NBGRADER, *arguments], cwd=course, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("every-student")
    course, env = make_course(tmp, HONEST + [Sample("many_files"), Sample("large_files")])
    many = course / "submitted" / "many_files" / A
    files = add_many_files(many)
    for name in ("one.bin", "two.bin"):
        (course / "submitted" / "large_files" / A / name).write_bytes(b"\0" * (40 << 20))
    before, peak = map_count(), []
    outcomes = batch.autograde(course, A, jobs=2, progress=lambda outcome, total: peak.append(map_count()))
    runner = {"outcomes": {o.student: o for o in outcomes}, "scores": Recorder(course).scores(A)}
    inbound = Path(env["NBGRADER_EXCHANGE"]) / "tf-pytorch" / "inbound"
    inbound.mkdir(parents=True)
    many.rename(inbound / f"many_files+{A}+{TIMESTAMP}")  # handed in through the exchange for the stock route
    collected = nbgrader(course, env, "collect", A)
    stock = nbgrader(course, env, "autograde", A, "--force")
    yield {
        "course": course, "files": files, "maps": (before, max(peak)), "runner": runner, "collect": collected,
        "stock": stock, "stock scores": Recorder(course).scores(A),
    }
    shutil.rmtree(tmp, ignore_errors=True)


def test_the_runner_grades_everyone_and_says_what_it_left_out(graded):
    outcomes, scores = graded["runner"]["outcomes"], graded["runner"]["scores"]
    assert {student: outcome.message for student, outcome in outcomes.items()} == REPORTS
    assert all(outcome.graded for outcome in outcomes.values()), outcomes
    assert scores == {student: {g: (p, p) for g, p in full_marks(A).items()} for student in REPORTS}, scores


def test_stock_nbgrader_grades_everyone_in_one_call(graded):
    stock = graded["stock"]
    assert stock.returncode == 0, stock.stdout + stock.stderr
    scores = graded["stock scores"]
    assert scores == {student: {g: (p, p) for g, p in full_marks(A).items()} for student in REPORTS}, scores


def test_many_files_are_neither_read_nor_collected_and_the_map_count_stays_low(graded):
    assert graded["files"] == MANY + 2, "the submission did not hold the files this test means"
    before, peak = graded["maps"]
    assert peak - before < 1000, f"grading the class took the grader from {before} to {peak} memory mappings"
    collected = graded["collect"]
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert ("many_files: more than 1000 files (the cap, COURSE_MAX_SUBMISSION_FILES): only its notebooks and timestamp.txt "
            "collected, the rest left behind in the exchange") in collected.stdout + collected.stderr, collected.stderr
    folder = graded["course"] / "submitted" / "many_files" / A
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{A}.ipynb", "timestamp.txt"])
    assert not (graded["course"] / "autograded" / "many_files" / A / "junk").exists()


@pytest.fixture(scope="module")
def without_gradebook_cells(tmp_path_factory):
    """A course on nbgrader's own sanitizing steps, with the metadata attacks and one honest classmate."""
    tmp = tmp_path_factory.mktemp("nbgrader-sanitizing")
    course, env = make_course(tmp, METADATA_ATTACKS + [Sample("zed")])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nfrom nbgrader.converters import Autograde as _Autograde\n"
                     "c.Autograde.sanitize_preprocessors = _Autograde.class_traits()['sanitize_preprocessors'].default()\n")
    yield course, env
    shutil.rmtree(tmp, ignore_errors=True)


def test_without_gradebook_cells_stock_nbgrader_grades_no_one(without_gradebook_cells):
    course, env = without_gradebook_cells
    stock = nbgrader(course, env, "autograde", A)
    assert stock.returncode != 0 and "use an newer version" in stock.stderr, stock.stderr[-3000:]  # SchemaTooNewError
    assert not (course / "autograded" / "zed").exists(), "the attack was meant to stop the class"
    assert "zed" not in Recorder(course).scores(A)


def test_without_gradebook_cells_the_runner_names_each_attack_and_grades_its_classmate(without_gradebook_cells, monkeypatch):
    course, _ = without_gradebook_cells

    def unguarded(recorder, assignment, student):  # the runner's preparing as it was: one failure stops the batch
        found = recorder.problems(assignment, student)
        return found, None if found else recorder.prepare(assignment, student)

    with monkeypatch.context() as patch:
        patch.setattr(batch, "_prepare", unguarded)
        with pytest.raises(Exception):
            batch.autograde(course, A, jobs=2)
    assert "zed" not in Recorder(course).scores(A)
    outcomes = {o.student: o for o in batch.autograde(course, A, jobs=2)}
    refused = {
        "results_as_solution": "RuntimeError: Inconsistent checksums for cell results_tests",
        "made_up_graded_cell": "ValidationError: Notebook failed to validate; the nbgrader metadata may be corrupted.",
        "repeated_grade_id": "SchemaTooOldError: Outdated schema version: 0 (expected 3)",
        "edited_cell_metadata": "SchemaTooNewError: Schema version is too new: 4 (expected 3)",
    }
    assert {s: (o.graded, o.message) for s, o in outcomes.items()} == {
        "zed": (True, "graded"), **{s: (False, f"nbgrader cannot prepare it ({why}) Scored 0.") for s, why in refused.items()}
    }
    scores = Recorder(course).scores(A)
    assert scores["zed"] == {g: (p, p) for g, p in full_marks(A).items()}
    for student in refused:
        assert scores[student] == {g: (0.0, full_marks(A)[g]) for g in zero_marks(A)}, (student, scores[student])


SMALL_FILES = """
import sys
from pathlib import Path
from graders.runner import collect

folder, read_as_before = Path(sys.argv[1]), sys.argv[2] == "True"
if read_as_before:
    collect.read_sized = lambda opened, size, max_bytes: opened.read(max_bytes + 1)
count = lambda: sum(1 for _ in open("/proc/self/maps"))
before = count()
kept = [collect.read_regular(folder, f"{number}.txt", folder, collect.DEFAULT_MAX_FILE) for number in range(3000)]
assert kept[0] == b"x" * 1024 and len(kept) == 3000
print(count() - before)
"""


@pytest.mark.parametrize("read_as_before", [False, True])
def test_reading_small_files_leaves_no_memory_mapping_per_file(tmp_path, read_as_before):
    """3,000 files of 1 KiB read with the 50 MiB cap and kept, as a class's files are kept until it is graded.
    Control: read as before (a read asked for the cap), each file holds a mapping of its own. Each in a fresh
    interpreter: in a pytest worker that had run other tests first, the control once saw no mapping grow (its
    allocator served the 50 MiB buffers otherwise: 0 in a full run of 2026-12-05)."""
    for number in range(3000):
        (tmp_path / f"{number}.txt").write_bytes(b"x" * 1024)
    done = subprocess.run([sys.executable, "-c", SMALL_FILES, str(tmp_path), str(read_as_before)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    grown = int(done.stdout)
    assert (grown >= 3000) if read_as_before else (grown < 100), grown
