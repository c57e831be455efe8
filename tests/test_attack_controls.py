"""The control runs of the bank's attacks on the course folder (issue 23): where the protection is off, they succeed.

The bank grades `forges_gradebook`, `overwrites_classmates` and `reads_classmate` (tests/submissions/attacks.py) in the
sandbox, through our runner and stock nbgrader, and asserts that each earns exactly its honest part and that every
classmate keeps their score (tests/test_autograde.py). Here the same three are graded as nbgrader grades out of the box:
its own `Execute`, the course kernel with no sandbox, each kernel working in the submission's
``autograded/<student>/<assignment>/`` inside the course directory, where the attacks look. Each does what it was
written to do: the reader earns a classmate's points, the forger zeroes a graded classmate in the gradebook, the
overwriter garbles a classmate's submitted notebook. So the bank's expectations hold because the sandbox and the
kernel's private working folder stop them, not because the attacks find nothing to attack.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from observed import marked_processes, processes_with
from submissions import Sample, new_course
from submissions.attacks import ATTACKS, MARKER

from graders.author import build
from graders.check.kernel.startup import KERNEL_NAME
from graders.runner.gradebook import Recorder, course_config

pytestmark = pytest.mark.slow
A = "torch_pipeline"
CONTROL_MARKER = "course-attack-control-5c1e"  # not the bank's MARKER: the bank's tests look for that one's processes


def unmarked(sample: Sample) -> Sample:
    """`sample` with its processes marked as this test's own."""
    return dataclasses.replace(sample, fills={cell: source.replace(MARKER, CONTROL_MARKER) for cell, source in sample.fills.items()})


def kill_marked() -> None:
    """Kill what the control's forger left behind (it would zero grades for ten minutes)."""
    for pid in marked_processes(CONTROL_MARKER):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def total(course, student: str) -> float:
    return sum(score for score, _ in Recorder(course).scores(A)[student].values())


@pytest.fixture(scope="module")
def unprotected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("controls")
    course = new_course(tmp / "course", A)
    bank = {sample.name: unmarked(sample) for sample in ATTACKS}
    found = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NBGRADER_EXCHANGE", str(tmp / "exchange"))
        build.release(A, course_root=course)
        for sample in (Sample("reference"), bank["reads_classmate"], bank["forges_gradebook"], bank["overwrites_classmates"]):
            sample.submit(course, A)
        reference_notebook = course / "submitted" / "reference" / A / f"{A}.ipynb"
        found["reference submitted"] = reference_notebook.read_text()
        patch.chdir(course)
        config = course_config(course)
        config.Execute.kernel_name = KERNEL_NAME  # the course kernel, as students run it: no sandbox
        del config.Autograde["autograde_preprocessors"]  # nbgrader's own, its Execute among them
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        try:
            api.autograde(A, "reference")
            found["reference before"] = total(course, "reference")
            api.autograde(A, "reads_classmate")
            found["reader"] = total(course, "reads_classmate")
            api.autograde(A, "forges_gradebook")
            time.sleep(2)  # the forger left behind zeroes again every second
            found["reference after the forger"] = total(course, "reference")
            api.autograde(A, "overwrites_classmates")
            found["reference submitted after"] = reference_notebook.read_text()
        finally:
            kill_marked()
    assert not processes_with(CONTROL_MARKER)
    return found


def test_the_reference_scores_full_marks_before_the_attacks(unprotected):
    assert unprotected["reference before"] == 16


def test_without_the_sandbox_reading_a_classmate_earns_their_points(unprotected):
    assert unprotected["reader"] > 0  # in the sandbox: 0 (tests/submissions/attacks.py)


def test_without_the_sandbox_the_forger_zeroes_a_graded_classmate(unprotected):
    assert unprotected["reference after the forger"] == 0  # in the sandbox: the classmate keeps 16


def test_without_the_sandbox_the_overwriter_garbles_a_classmates_submission(unprotected):
    assert unprotected["reference submitted"].startswith("{")
    assert unprotected["reference submitted after"] == "this is not a notebook any more"
