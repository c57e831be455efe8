"""The control run of every attack of the bank's (issue 23): where its protection is off, it succeeds.

The bank grades each hostile sample (`Sample.hostile`: tests/submissions/attacks.py, answers.py, the comparison's) with
every protection on, through our runner and stock nbgrader, and asserts that it earns exactly its honest part, that
every classmate keeps their score and that nothing it started outlives it (tests/test_autograde.py). Here each is
graded where the protection that stops it is off, and the test asserts what the attack was written to do:

* **nbgrader out of the box** (`unprotected`): nbgrader's own `Execute` in the course kernel, no sandbox, each kernel
  working in ``autograded/<student>/<assignment>/`` in the course folder, and the hidden tests decided in the kernel.
  The reader earns a classmate's points, the forger zeroes a graded classmate, the overwriter garbles a classmate's
  notebook, the patched grader, probe and judge and the faked checks module earn points for stubs, the shown points
  rewrites the results cell's points, and the stalling processes outlive their notebook.
* **our runner without the sandbox's isolation** (`unisolated`, as ``--unsafe-no-sandbox`` grades): the kernel can
  import the course's solutions, the judge and the held-out set, and the answer hunts earn points with them.
* **our runner with one safeguard off each** (`safeguards_off`): the caps on memory, tasks and output raised above
  what the attacks take, the observation read back by its name instead of through the grader's own descriptor, and a
  warm kernel for a submission that brings its own module. Each of those attacks then earns full marks or what it
  forged.
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
from submissions import Sample, full_marks, released_class, samples
from submissions.attacks import MARKER
from test_kernel_answers import without_isolation

from graders.check.kernel.startup import KERNEL_NAME
from graders.check.shared.observation import read as read_observation
from graders.runner import batch, jobs, verdict
from graders.runner.gradebook import course_config

pytestmark = pytest.mark.slow
A = "torch_pipeline"
CONTROL_MARKER = "course-attack-control-5c1e"  # not the bank's MARKER: the bank's tests look for that one's processes


def bank(assignment: str = A) -> dict[str, Sample]:
    """The assignment's bank by name, each sample's processes marked as this test's own."""
    return {s.name: dataclasses.replace(s, fills={c: src.replace(MARKER, CONTROL_MARKER) for c, src in s.fills.items()})
            for s in samples(assignment)}


def kill_marked() -> None:
    """Kill what the controls' attacks left behind (the forger would zero grades for ten minutes), and wait till it is gone."""
    deadline = time.monotonic() + 10
    while (left := marked_processes(CONTROL_MARKER)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.1)


def scores(course, assignment: str = A) -> dict[str, dict[str, float]]:
    """student -> grade id -> points, as the gradebook has them."""
    return {student: {gid: score for gid, (score, _) in cells.items()} for student, cells in batch.scores(course, assignment).items()}


# nbgrader out of the box ------------------------------------------------------------------------------------------
IN_THE_KERNEL = ("patches_the_grader", "patches_the_probe", "fakes_the_checks_module", "shows_full_points")


@pytest.fixture(scope="module")
def unprotected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unprotected")
    found = {}
    everyone = bank()
    course = released_class(tmp, A, [everyone[name] for name in ("reference", "reads_classmate", "forges_gradebook",
                                                                 "overwrites_classmates", "stalls_the_class", *IN_THE_KERNEL)])
    with pytest.MonkeyPatch.context() as patch:
        reference_notebook = course / "submitted" / "reference" / A / f"{A}.ipynb"
        found["reference submitted"] = reference_notebook.read_text()
        patch.chdir(course)
        config = course_config(course)
        config.Execute.kernel_name = KERNEL_NAME  # the course kernel, as students run it: no sandbox, the judge inside
        del config.Autograde["autograde_preprocessors"]  # nbgrader's own, its Execute among them
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        try:
            for student in ("reference", "reads_classmate", *IN_THE_KERNEL):
                api.autograde(A, student)
            found["before the forger"] = scores(course)
            api.autograde(A, "stalls_the_class")
            found["left running"] = processes_with(CONTROL_MARKER)
            api.autograde(A, "forges_gradebook")
            time.sleep(2)  # the forger left behind zeroes again every second
            found["reference after the forger"] = sum(scores(course)["reference"].values())
            api.autograde(A, "overwrites_classmates")
            found["reference submitted after"] = reference_notebook.read_text()
        finally:
            kill_marked()
    assert not processes_with(CONTROL_MARKER)
    return found


def test_the_reference_scores_full_marks_before_the_attacks(unprotected):
    assert unprotected["before the forger"]["reference"] == full_marks(A)


def test_without_the_sandbox_reading_a_classmate_earns_their_points(unprotected):
    assert sum(unprotected["before the forger"]["reads_classmate"].values()) == 16  # in the sandbox: 0


def test_without_the_sandbox_the_forger_zeroes_a_graded_classmate(unprotected):
    assert unprotected["reference after the forger"] == 0  # in the sandbox: the classmate keeps 16


def test_without_the_sandbox_the_overwriter_garbles_a_classmates_submission(unprotected):
    assert unprotected["reference submitted"].startswith("{")
    assert unprotected["reference submitted after"] == "this is not a notebook any more"


def test_without_the_sandbox_a_stalling_process_outlives_its_notebook(unprotected):
    """The daemon in a session of its own; the other dies with the kernel's process group. In the sandbox: none."""
    assert [line.split() for line in unprotected["left running"]] == [[CONTROL_MARKER, "3600"]], unprotected["left running"]


@pytest.mark.parametrize("name", IN_THE_KERNEL)
def test_with_the_verdict_in_the_kernel_a_patch_earns_points_for_stubs(unprotected, name):
    """Decided in the kernel, the hidden tests are the submission's to rewrite: each patch earns every autograded point
    (the shown value, the results cell's), where the grading process's verdict gives it nothing of the kind."""
    earned = unprotected["before the forger"][name]
    if name == "shows_full_points":
        assert earned["results_tests"] == full_marks(A)["results_tests"], earned  # in the sandbox: 0
    else:
        assert earned == full_marks(A), earned  # in the sandbox: the stubs' 0 (fakes_the_checks_module: the download's 1)


# Our runner without the sandbox's isolation ------------------------------------------------------------------------
UNISOLATED = {  # what each hunt earns where the kernel can import the answers: every step it forges
    "calls_what_the_kernel_imports": {"load_and_preprocess_tests": 3, "build_model_tests": 2},
    "runs_the_reference_text": {"download_tests": 1, "results_tests": 3},
    "forges_with_a_patched_probe": {"load_and_preprocess_tests": 3, "build_model_tests": 2, "accuracy_tests": 1, "train_tests": 3},
    "looks_up_the_labels": {"results_tests": 3},
}
COMPARISON_UNISOLATED = {"kernel_helpers", "patched_probe"}


@pytest.fixture(scope="module")
def unisolated(tmp_path_factory):
    """The answer hunts graded by our runner as ``--unsafe-no-sandbox`` grades: bubblewrap reported missing."""
    earned = {}
    with pytest.MonkeyPatch.context() as patch:
        without_isolation(patch)
        for assignment, names in ((A, UNISOLATED), ("framework_comparison", COMPARISON_UNISOLATED)):
            everyone = bank(assignment)
            course = released_class(tmp_path_factory.mktemp(assignment), assignment, [everyone[n] for n in names])
            batch.autograde(course, assignment, list(names), jobs=2, unsafe_no_sandbox=True)
            earned |= scores(course, assignment)
    return earned


@pytest.mark.parametrize("name", sorted(UNISOLATED))
def test_where_the_kernel_can_import_the_answers_a_hunt_earns_them(unisolated, name):
    sample = bank()[name]
    earned = unisolated[name]
    assert {gid: earned[gid] for gid in UNISOLATED[name]} == UNISOLATED[name], earned
    assert all(sample.expected[gid] == 0 for gid in UNISOLATED[name]), sample.expected  # in the sandbox: nothing of it


@pytest.mark.parametrize("name", sorted(COMPARISON_UNISOLATED))
def test_where_the_kernel_can_import_the_judge_the_comparisons_helpers_earn_points(unisolated, name):
    sample = bank("framework_comparison")[name]
    assert sum(unisolated[name].values()) > sum(p or 0 for p in sample.expected.values()), (unisolated[name], sample.expected)


# Our runner, one safeguard off each --------------------------------------------------------------------------------
RAISED = """
c.SandboxProvisioner.memory_limit = 3 << 30  # the hog takes 2 GiB (the bank's courses give a kernel 1.5)
c.SandboxProvisioner.process_limit = 8192  # the fork bomb, 2048 processes
c.SandboxedExecute.output_limit = 256 << 20  # the flood, 32 MB
"""
SAFEGUARDS_OFF = ("memory_hog", "fork_bomb", "output_flood", "plants_observations", "brings_its_own_torch")


def read_by_name(monkeypatch) -> None:
    """The grader reads the observation back by its name in the kernel's folder, not through the descriptor it made."""
    made = {}
    create = verdict.GraderFiles.create

    def remembered(self, name):
        fd = create(self, name)
        made[fd] = (self.directory, name)
        return fd

    def by_name(fd):
        directory, name = made.pop(fd)
        return read_observation(directory, name)

    monkeypatch.setattr(verdict.GraderFiles, "create", remembered)
    monkeypatch.setattr(verdict, "read_open", by_name)


@pytest.fixture(scope="module")
def safeguards_off(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safeguards")
    everyone = bank()
    course = released_class(tmp, A, [everyone[name] for name in SAFEGUARDS_OFF])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(RAISED)
    with pytest.MonkeyPatch.context() as patch:
        read_by_name(patch)
        patch.setattr(jobs, "importable", lambda files: False)  # a warm kernel for every submission
        try:
            outcomes = {o.student: o for o in batch.autograde(course, A, list(SAFEGUARDS_OFF), jobs=2)}
        finally:
            kill_marked()
    return outcomes, scores(course)


@pytest.mark.parametrize("name", ["memory_hog", "fork_bomb", "output_flood", "brings_its_own_torch"])
def test_with_its_cap_off_an_attack_runs_to_the_end(safeguards_off, name):
    """Over the cap its sample in the bank is stopped at (or, for a module of its own, the fresh kernel that imports
    it): with the cap raised (a warm kernel), it runs to the end and earns full marks."""
    outcomes, earned = safeguards_off
    assert earned[name] == full_marks(A), (earned[name], outcomes[name].message)
    assert outcomes[name].message == "graded", outcomes[name].message
    assert bank()[name].expected != full_marks(A)


def test_read_back_by_name_a_planted_observation_is_believed(safeguards_off):
    """The planter's forged observation holds the course's data: read back by name, its download earns the point that
    the grader's own descriptor never gives it."""
    outcomes, earned = safeguards_off
    assert earned["plants_observations"]["download_tests"] == 1, (earned["plants_observations"], outcomes["plants_observations"].message)
    assert bank()["plants_observations"].expected["download_tests"] == 0


def test_every_hostile_sample_has_a_control():
    controlled = {"reference", "reads_classmate", "forges_gradebook", "overwrites_classmates", "stalls_the_class", *IN_THE_KERNEL,
                  *UNISOLATED, *COMPARISON_UNISOLATED, *SAFEGUARDS_OFF}
    every = {s.name for a in ("tf1_pipeline", "tf2_pipeline", A, "framework_comparison") for s in samples(a) if s.hostile}
    assert every - controlled == set()
