"""The grading process's memory is bounded by the grader, not by the submission (issue 20).

A class of hostile `torch_pipeline` submissions (`submissions.attacks.MEMORY_ATTACKS`: 128 MiB of display
metadata, of mimetype names, of error fields, of widget messages, one stdout message of 128 MiB, one
widget message of 1 GiB in 128 frames, two floods at once, a forged observation, a message the client
cannot read) and one honest classmate, graded for real
by ``python -m graders autograde``, by stock ``nbgrader autograde`` and by formgrader's *Autograde* button
(nbgrader's API, one student per call, in one process), each in a subprocess. The grading
process's own peak memory (its `ru_maxrss`, its kernels not included) must stay under 1 GiB, and every
student must score exactly what the bank says: each attack keeps the 6 points earned before it strikes, in the
cell of step 4.

The controls show that the measurement can fail: the message of many frames graded without the guard between the
client and the kernel (`wire.Guard` replaced by the kernel's own sockets) is still refused, but only once the grading
process holds all of it, past 1 GiB. The other six floods are graded in one class with the count
(`SandboxedExecute._received`, the one function that counts, patched to read every message), the guard and the frame
cap all off: each keeps 16 points, and the grader passes 1 GiB. Observations are checked on forged
files, each read with and without the budget (the control of `forges_an_observation`). With the decoded messages' check
off, `breaks_the_protocol` makes its grading job fail, and leaves no grade.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from submissions import Sample, released_class
from submissions.attacks import MEMORY_ATTACKS, A

from graders.author import build
from graders.check.shared import observation
from graders.runner import batch
from graders.runner.sandbox import GiB

pytestmark = pytest.mark.slow

HONEST = Sample("honest", about="the reference's answers: full marks")
# The process's own peak: VmHWM of its memory since its exec (ru_maxrss would count the forking parent's size too).
MEASURED = '''
import atexit, runpy, sys
peak_file, patch, module = sys.argv[1:4]
def peak():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
atexit.register(lambda: open(peak_file, "w").write(str(peak())))
exec(patch)
sys.argv = [module, *sys.argv[4:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
'''
FORMGRADER_BUTTON = f"""
import os, sys
from pathlib import Path
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from graders.runner.gradebook import course_config

config = course_config(Path.cwd())
api = NbGraderAPI(CourseDirectory(config=config), config=config)
for student in sorted(os.listdir("submitted")):  # one click per student, in this one process
    print(student, api.autograde({A!r}, student)["success"], flush=True)
sys.exit(0)
"""
UNCOUNTED = "from graders.runner.execute import SandboxedExecute\nSandboxedExecute._received = lambda self, size: True"
UNGUARDED = """
from graders.runner import wire

class Direct:  # the kernel's own sockets, no guard between
    def __init__(self, kernel_urls, max_frame_bytes):
        self.urls = kernel_urls

    def ended(self):
        return False

    def close(self):
        pass

wire.Guard = Direct
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return released_class(tmp_path_factory.mktemp("memory"), A, [HONEST, *MEMORY_ATTACKS])


def attack(name: str) -> Sample:
    return next(sample for sample in MEMORY_ATTACKS if sample.name == name)


def graded(course: Path, module: str, *arguments: str, patch: str = "") -> tuple[int, subprocess.CompletedProcess]:
    """Run ``python -m module arguments`` in `course` as a grading subprocess; (its own peak bytes, the process)."""
    peak = course / f"peak-{module}"
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(peak), patch, module, *arguments],
        cwd=course, env=build.nbgrader_env() | {"NBGRADER_EXCHANGE": str(course.parent / "exchange")},
        capture_output=True, text=True, timeout=1200,
    )
    assert peak.is_file(), f"the grading process ended before it measured itself:\n{done.stdout}\n{done.stderr}"
    return int(peak.read_text()), done


def assert_scores(course: Path, bank: list[Sample]) -> None:
    found = batch.scores(course, A)
    for sample in bank:
        earned = {grade_id: score for grade_id, (score, _) in found.get(sample.name, {}).items()}
        expected = {grade_id: points for grade_id, points in sample.expected.items() if points is not None}
        assert {g: earned.get(g) for g in expected} == expected, f"{sample.name} ({sample.about}) scored {earned}"


def test_our_runner_holds_the_class_in_under_a_gibibyte(course):
    peak, done = graded(course, "graders", "autograde", A, "--root", str(course))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if "/" in line}
    for sample in [HONEST, *MEMORY_ATTACKS]:
        assert sample.outcome in lines[sample.name], f"{sample.name}: expected {sample.outcome!r} in {lines[sample.name]!r}"
    assert_scores(course, [HONEST, *MEMORY_ATTACKS])
    assert peak < GiB, f"python -m graders autograde peaked at {peak / GiB:.2f} GiB"


def assert_notes(course: Path, bank: list[Sample]) -> None:
    """What nbgrader's autograded notebooks say of each student: the limit and cell each attack was stopped at."""
    for sample in bank:
        notebook = course / "autograded" / sample.name / A / f"{A}.ipynb"
        notes = "; ".join(["graded", *batch.notes({A: nbformat.read(notebook, as_version=4)})])
        assert sample.outcome in notes, f"{sample.name}: expected {sample.outcome!r} in {notes!r}"


def test_stock_nbgrader_holds_the_class_in_under_a_gibibyte(course):
    peak, done = graded(course, "nbgrader", "autograde", A, "--force")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_notes(course, [HONEST, *MEMORY_ATTACKS])
    assert_scores(course, [HONEST, *MEMORY_ATTACKS])
    assert peak < GiB, f"nbgrader autograde peaked at {peak / GiB:.2f} GiB"


def test_formgraders_button_holds_the_class_in_under_a_gibibyte(course):
    """Formgrader's Autograde button, one click per student: nbgrader's API, in the process that serves formgrader."""
    peak, done = graded(course, "nbgrader", patch=FORMGRADER_BUTTON)
    assert done.returncode == 0 and done.stdout.count(" True") == 1 + len(MEMORY_ATTACKS), done.stdout[-3000:] + done.stderr[-3000:]
    assert_notes(course, [HONEST, *MEMORY_ATTACKS])
    assert_scores(course, [HONEST, *MEMORY_ATTACKS])
    assert peak < GiB, f"formgrader's autograde peaked at {peak / GiB:.2f} GiB"


def test_control_without_the_guard_the_grader_holds_a_message_of_many_frames_whole(tmp_path):
    """Counted, but only once the grader holds it whole: still refused (6 points), past 1 GiB."""
    flood = attack("sends_one_message_of_many_frames")
    course = released_class(tmp_path, A, [flood])
    peak, done = graded(course, "graders", "autograde", A, "--root", str(course), patch=UNGUARDED)
    assert done.returncode == 0, done.stdout + done.stderr
    earned = sum(score for score, _ in batch.scores(course, A)[flood.name].values())
    assert earned == 6, f"without the guard, {flood.name} should have scored 6; it scored {earned}"
    assert peak > GiB, f"without the guard, {flood.name} should have taken the grader past 1 GiB; it peaked at {peak / GiB:.2f}"


UNCAPPED = "\nc.SandboxedExecute.output_limit = 1 << 40  # frames of any size (the count is off)\n"
FLOODS = ("floods_display_metadata", "floods_mime_keys", "floods_error_fields", "floods_widgets", "sends_one_huge_message", "floods_two_ways_at_once")


def test_control_with_the_message_path_open_every_other_flood_runs_to_its_end(tmp_path):
    """Every flood but the one of many frames (above), in one class graded with the count, the guard and the frame cap
    all off: each runs to its end and keeps the 16 points that the protected routes cut to 6 (so what stops each is the
    grader, not a fault of its own), and the grading process passes 1 GiB."""
    floods = [attack(name) for name in FLOODS]
    assert all(sum(sample.expected.values()) == 6 for sample in floods)  # what the protected routes give each
    course = released_class(tmp_path, A, floods)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(UNCAPPED)
    peak, done = graded(course, "graders", "autograde", A, "--root", str(course), patch=UNCOUNTED + UNGUARDED)
    assert done.returncode == 0, done.stdout + done.stderr
    found = batch.scores(course, A)
    earned = {name: sum(score for score, _ in found[name].values()) for name in FLOODS}
    assert earned == dict.fromkeys(FLOODS, 16), earned
    assert peak > GiB, f"with the message path open, the floods should have taken the grader past 1 GiB; it peaked at {peak / GiB:.2f}"


UNCHECKED = "from graders.runner import wire\nwire.unreadable_because = lambda message: None  # every decoded message read\n"


def test_control_without_the_check_a_broken_status_breaks_the_grading_job(tmp_path):
    """`breaks_the_protocol` graded with the decoded messages' check off: nbclient meets a status without its
    execution_state, and the grading job fails on it, leaving no grade, where the protected routes grade the 6 points
    earned before it and name the message."""
    breaker = attack("breaks_the_protocol")
    course = released_class(tmp_path, A, [breaker])
    _, done = graded(course, "graders", "autograde", A, "--root", str(course), patch=UNCHECKED)
    line = next(line for line in done.stdout.splitlines() if line.startswith(breaker.name))
    assert line.split()[1:4] == ["0", "/", "0"] and line.endswith("NOT GRADED: grading job failed: KeyError: 'execution_state'"), line
    assert batch.scores(course, A).get(breaker.name, {}) == {}


@pytest.mark.parametrize("array", [
    np.ones(((96 << 20) // 10, 10), np.uint8),  # 96 MiB that the judge would hold as 768 MiB of float64
    np.zeros(4, complex),  # wider than float64
    np.zeros(4, [("x", np.float64), ("y", np.int8)]),  # records
], ids=["uint8 as float64", "complex", "records"])
def test_an_observation_is_read_within_its_budget(array, monkeypatch):
    forged = io.BytesIO()
    np.savez(forged, a0=array, **{observation.JSON_KEY: np.array('{"arrays": ["logits"]}')})
    with pytest.raises(observation.ObservationError, match="not numbers or text|as float64 hold more than"):
        observation.from_bytes(forged.getvalue())
    monkeypatch.setattr(observation, "within_budget", lambda members: None)  # the control: the budget off
    assert observation.from_bytes(forged.getvalue()).values["logits"].shape == array.shape
