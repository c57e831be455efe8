"""Every route grades in a private, size-capped working folder: what a kernel leaves is never taken back (issue 20).

One class: an honest student (``ada``) and the hostile ones of tests/submissions/attacks.py's
issue 20 block: links, left in the kernel's working folder, to a classmate's submitted notebook, to the gradebook,
to the source notebook and the gradebook under page names (on the reference's steps 1-3, 6 points); two disk fillers
(its working folder, /tmp) in step 4, with a disk cap of 64 MiB; and the notebooks whose cells' nbgrader metadata was edited (`METADATA_ATTACKS`), which
stock nbgrader refuses or stops on without the course's `GradebookCells` (the controls: tests/test_every_student.py),
and which each route grades on their real answers, saying what it restored. The class is graded once by each route,
each in its own copy of the course: stock
``nbgrader autograde``, formgrader's *Autograde* (``NbGraderAPI.autograde``, in a subprocess run from the course
folder) and ``python -m graders autograde``; then stock ``nbgrader generate_feedback``. On every route every
student scores exactly what they earned, the fillers are stopped at the cap, every submitted file is unchanged,
the gradebook opens and holds every student, ``autograded/`` and ``feedback/`` hold no link and no filler's bytes,
feedback holds the pages only, and no folder or cgroup of a job is left.

The control: the same attacks graded in-process by stock nbgrader with the protection off (the kernel's working
folder is its autograded folder, bound in place of the private tmpfs: `sandbox.private_working_folder`; no disk
cap; `keep_pages` a no-op): each one succeeds there.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from submissions import Sample, full_marks, released_course
from submissions.attacks import METADATA_ATTACKS, A, disk_fillers, link_attacks

from graders.author import build
from graders.runner import gradebook, sandbox
from graders.runner.execute import stopped_notes
from graders.runner.gradebook import NBGRADER, Recorder, course_config
from graders.runner.provisioner import SandboxProvisioner

pytestmark = pytest.mark.slow
FILL_MIB, CAP = 96, "64 MiB"
HONEST = [Sample("ada", expected=full_marks(A))]
ATTACKERS = link_attacks("ada") + disk_fillers(FILL_MIB, CAP)
CLASS = HONEST + ATTACKERS + METADATA_ATTACKS  # the metadata edits: graded on their real answers
NOTE = f"{A}.ipynb: "
RESTORED = "changed; restored from the gradebook"
NOTES = {  # what each route says of each metadata edit: the runner in its report line, nbgrader in its log
    "results_as_solution": [f"{NOTE}cell results_tests: solution {RESTORED}"],
    "made_up_graded_cell": [f"{NOTE}cell number 30 (bonus_tests) is no cell of the assignment: ungraded"],
    "repeated_grade_id": [f"{NOTE}cell number 27 repeats grade id results_tests: ungraded (the last cell of that id is graded)"],
    "edited_cell_metadata": [
        f"{NOTE}cell {cell}: {what} {RESTORED}" for cell, what in
        [("download_tests", "schema_version"), ("train", "cell type (markdown)"), ("report_tests", "points"),
         ("results_tests", "cell type (raw)")]
    ],
}
ON_STEPS_1_TO_3 = ("made_up_graded_cell", "repeated_grade_id")  # steps 4-7 stubs
# What the runner's line then adds: the pipeline cell stops at step 4's stub (by pattern: the error is the notebook's)
STOPPED_AT_STEP_4 = (r"the whole pipeline stopped: .+\. Fix step 4 \(make_loss_and_optimizer\), step 5 \(accuracy\), "
                     r"step 6 \(train\) and step 7 \(report\), whose check failed above, then re-run this cell\.")
FORMGRADER = """
import sys
from pathlib import Path
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from graders.runner.gradebook import course_config

config = course_config(Path.cwd())
api = NbGraderAPI(CourseDirectory(config=config), config=config)
for student in sys.argv[2:]:  # as formgrader's Autograde button, one student per click
    done = api.autograde(sys.argv[1], student)
    print(student, done["success"], done["log"])
"""
ROUTES = {
    "stock nbgrader": [*NBGRADER, "autograde", A, "--force"],
    "formgrader": [sys.executable, "-c", FORMGRADER, A, *(sample.name for sample in CLASS)],
    "python -m graders": [sys.executable, "-m", "graders", "autograde", A, "--root", "."],
}


def regular_files(folder: Path) -> dict[str, bytes]:
    """relative path -> bytes of every regular file under `folder`, found without following a link."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root, name)
            if stat.S_ISREG(path.lstat().st_mode):
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def links(folder: Path) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_symlink()]


def cgroups() -> set[Path]:
    try:
        _, parents = sandbox._cgroup_parents()
    except sandbox.SandboxUnavailable:
        return set()
    return {group for parent in parents for group in parent.glob(f"{sandbox.CGROUP_PREFIX}*")}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A released course (copied for each route) and the environment its graders run in."""
    root = tmp_path_factory.mktemp("wf")
    yield released_course(root / "template", A)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module", params=list(ROUTES))
def graded(request, template):
    """The class graded by one route, then its feedback made by stock nbgrader."""
    route = request.param
    course = template.parent / route.replace(" ", "-")
    shutil.copytree(template, course)
    for sample in CLASS:
        sample.submit(course, A)
    temp = template.parent / f"{course.name}-tmp"
    temp.mkdir()
    submitted = regular_files(course / "submitted")
    env = build.nbgrader_env() | {"COURSE_DISK_LIMIT": "64M", "TMPDIR": str(temp)}
    env["NBGRADER_EXCHANGE"] = str(template.parent / "exchange")
    before = cgroups()
    done = subprocess.run(ROUTES[route], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    feedback = [*NBGRADER, "generate_feedback", A, "--force"]
    feedback = subprocess.run(feedback, cwd=course, env=env, capture_output=True, text=True, timeout=600)
    return {
        "route": route, "course": course, "temp": temp, "submitted": submitted, "done": done, "feedback": feedback,
        "cgroups before": before,
    }


def said(graded) -> str:
    return "\n".join(part for run in (graded["done"], graded["feedback"]) for part in (run.stdout, run.stderr))


def test_every_student_scores_exactly_what_they_earned(graded):
    scores = Recorder(graded["course"]).scores(A)
    for sample in CLASS:
        got = {cell: score for cell, (score, _) in scores.get(sample.name, {}).items()}
        assert got == sample.expected, f"{graded['route']}: {sample.name} ({sample.about})\n{said(graded)[-3000:]}"


def test_every_route_says_what_it_restored(graded):
    """The runner's report line of each metadata edit names each cell restored; nbgrader's log (stock and formgrader's
    button) warns of each."""
    output = graded["done"].stdout + graded["done"].stderr
    for student, notes in NOTES.items():
        if graded["route"] == "python -m graders":
            line = next((line for line in output.splitlines() if line.startswith(f"{student} ")), "")
            ending = re.escape("graded; " + "; ".join(notes)) + (f"; {STOPPED_AT_STEP_4}" if student in ON_STEPS_1_TO_3 else "")
            assert re.search(f"{ending}$", line), (student, line)
        else:
            for note in notes:
                assert f"WARNING] {note}" in output, (graded["route"], student, note, output[-3000:])


def test_the_disk_fillers_are_stopped_at_the_cap(graded):
    for sample in ATTACKERS:
        path = graded["course"] / "autograded" / sample.name / A / f"{A}.ipynb"
        notes = stopped_notes(nbformat.read(path, as_version=4), f"{A}.ipynb")
        expected = [] if sample.outcome == "graded" else [sample.outcome]
        assert notes == expected, f"{graded['route']}: {sample.name}"


def test_every_submitted_file_is_unchanged(graded):
    assert regular_files(graded["course"] / "submitted") == graded["submitted"], graded["route"]
    assert links(graded["course"] / "submitted") == []


def test_the_gradebook_is_intact(graded):
    course = graded["course"]
    assert (course / "gradebook.db").read_bytes().startswith(b"SQLite format 3"), graded["route"]
    with Recorder(course).gradebook() as gb:
        assert {student.id for student in gb.students} == {sample.name for sample in CLASS}, graded["route"]


def test_autograded_and_feedback_hold_only_what_the_grader_made(graded):
    course = graded["course"]
    assert graded["feedback"].returncode == 0, said(graded)
    assert links(course / "autograded") == [] and links(course / "feedback") == [], graded["route"]
    for student, files in ((sample.name, regular_files(course / "autograded" / sample.name)) for sample in CLASS):
        assert not [name for name in files if "fill" in name or name.endswith(".html")], (graded["route"], student, sorted(files))
        assert sum(map(len, files.values())) < 4 << 20, (graded["route"], student, sorted(files))
    pages = set(regular_files(course / "feedback"))
    assert pages == {f"{sample.name}/{A}/{A}.html" for sample in CLASS}, (graded["route"], sorted(pages))


def test_nothing_of_a_job_is_left(graded):
    assert sorted(os.listdir(graded["temp"])) == [], graded["route"]
    # An empty cgroup made since is left over, unless it goes within seconds: a test beside this one (pytest-xdist)
    # grades at the same time, and its kernel's cgroup is empty for a moment before the kernel joins it.
    for _ in range(30):
        left = {group for group in cgroups() - graded["cgroups before"] if not sandbox._read(group / "cgroup.procs").strip()}
        if not left:
            break
        time.sleep(0.5)
    assert left == set(), graded["route"]


# The control: the protection off -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unprotected(template):
    """The attacks graded in-process by stock nbgrader, the kernel working in its autograded folder with no disk cap
    and feedback keeping whatever nbgrader copies; the links to the gradebook last (it breaks the gradebook)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = template.parent / "unprotected"
    shutil.copytree(template, course)
    for sample in CLASS:
        sample.submit(course, A)
    submitted = regular_files(course / "submitted")
    order = ["links_classmate", "links_feedback", "fills_working_folder", "fills_tmp", "links_gradebook"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NBGRADER_EXCHANGE", str(template.parent / "exchange"))
        patch.setenv("COURSE_DISK_LIMIT", "1G")
        patch.chdir(course)
        patch.setattr(SandboxProvisioner, "disk_used", lambda self: 0)
        patch.setattr(gradebook, "keep_pages", lambda *args: None)
        config = course_config(course)
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        scores = {}
        for student in order:
            original = course / "autograded" / student / A
            patch.setattr(sandbox, "private_working_folder", lambda workdir, size: ["--bind", str(original), str(workdir)])
            api.autograde(A, student)
            if student == "links_feedback":
                api.generate_feedback(A, student)
            if student != "links_gradebook":
                scores[student] = sum(score for score, _ in Recorder(course).scores(A)[student].values())
    return {"course": course, "submitted": submitted, "scores": scores}


def test_without_the_private_folder_a_link_makes_nbgrader_overwrite_a_classmates_submission(unprotected):
    path = f"ada/{A}/{A}.ipynb"
    assert regular_files(unprotected["course"] / "submitted")[path] != unprotected["submitted"][path]


def test_without_the_private_folder_a_link_makes_nbgrader_overwrite_the_gradebook(unprotected):
    assert not (unprotected["course"] / "gradebook.db").read_bytes().startswith(b"SQLite format 3")


def test_without_the_private_folder_feedback_hands_out_the_source_and_the_gradebook(unprotected):
    folder = unprotected["course"] / "feedback" / "links_feedback" / A
    assert b"BEGIN SOLUTION" in (folder / "answers.html").read_bytes()
    assert (folder / "grades.html").read_bytes().startswith(b"SQLite format 3")


def test_without_the_cap_the_fillers_write_what_they_like(unprotected):
    filled = unprotected["course"] / "autograded" / "fills_working_folder" / A / "fill.bin"
    assert filled.stat().st_size == FILL_MIB << 20  # left in autograded/, for feedback to copy
    assert unprotected["scores"]["fills_tmp"] == 16  # its /tmp took all it wrote: nothing stopped it


def test_the_doctor_removes_what_a_killed_grader_left(tmp_path, monkeypatch):
    """A kernel's folder, a job's folder and a cgroup of a grader that is gone are removed; those in use are kept."""
    from graders.runner.doctor import _leftovers

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    kernel, kernel_lock = sandbox.private_folder(sandbox.KERNEL_PREFIX)
    job, job_lock = sandbox.private_folder(sandbox.JOB_PREFIX)
    group = sandbox.Cgroup.create(sandbox.Limits(), sandbox.CGROUP_PREFIX + kernel.name.removeprefix(sandbox.KERNEL_PREFIX))
    in_use, in_use_lock = sandbox.private_folder(sandbox.KERNEL_PREFIX)
    try:
        os.close(kernel_lock)  # as the end of a killed grader releases them
        os.close(job_lock)
        finding = _leftovers()
        assert finding.status == "WARN" and "removed what an earlier grader that was killed left" in finding.found
        assert not kernel.exists() and not job.exists() and not any(folder.exists() for folder in group.dirs)
        assert in_use.exists() and str(in_use) not in finding.found
        assert _leftovers().status == "ok"
    finally:
        group.remove()
        os.close(in_use_lock)


def test_the_doctor_leaves_a_cgroup_that_a_grader_of_another_temp_folder_is_starting(tmp_path, monkeypatch):
    """Another grader, its TMPDIR elsewhere, has made a kernel's cgroup and not yet started the kernel in it: the
    cgroup is empty, and its kernel's folder is not in this temp folder. It is not a leftover (it was: the kernel
    then failed to start, "cgroup.procs: Directory nonexistent")."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "theirs"))
    (tmp_path / "theirs").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)
    kernel, kernel_lock = sandbox.private_folder(sandbox.KERNEL_PREFIX)
    group = sandbox.Cgroup.create(sandbox.Limits(), sandbox.CGROUP_PREFIX + kernel.name.removeprefix(sandbox.KERNEL_PREFIX))
    try:
        monkeypatch.setenv("TMPDIR", str(tmp_path))  # the doctor's own temp folder
        monkeypatch.setattr("tempfile.tempdir", None)
        assert not set(group.dirs) & set(sandbox.leftovers())
        assert all(folder.is_dir() for folder in group.dirs)
    finally:
        group.remove()
        os.close(kernel_lock)


def test_the_grader_reaches_the_folder_it_opened_whatever_the_kernel_moves(tmp_path):
    """The kernel moves its working folder away and puts a link to a host folder in its place: what the grader writes
    through `working_folder` still lands in the kernel's own folder. The control: the same path resolved through
    the sandbox's root, as a grader that looked it up again would, leads to the host folder."""
    from jupyter_client.manager import KernelManager

    from graders.check.kernel.startup import GRADING_KERNEL_NAME

    target = tmp_path / "host-folder"
    target.mkdir()
    manager = KernelManager(kernel_name=GRADING_KERNEL_NAME)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        folder = manager.provisioner.working_folder
        moved = f"{folder.parent}-moved"
        client.execute_interactive(
            f"import os\nos.rename({str(folder.parent)!r}, {moved!r})\nos.mkdir({str(folder.parent)!r})\n"
            f"os.symlink({str(target)!r}, {str(folder)!r})",
            timeout=60,
        )
        (folder / "from-the-grader").write_text("inputs")
        reply = client.execute_interactive(f"print(open({moved + '/work/from-the-grader'!r}).read())", timeout=60)
        assert reply["content"]["status"] == "ok" and not (target / "from-the-grader").exists()
        sandbox_root = Path(f"/proc/{manager.provisioner.process.pid}/task/{manager.provisioner.process.pid}/children")
        first = sandbox_root.read_text().split()[0]
        looked_up = Path(f"/proc/{first}/root{manager.provisioner.working_folder}")
        (looked_up / "looked-up").write_text("inputs")
        assert (target / "looked-up").exists()  # the control: a path looked up in the sandbox leaves it
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
