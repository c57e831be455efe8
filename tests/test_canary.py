"""The canary (`graders.runner.canary`), for real: a grading environment that cannot grade writes no grade.

One course in tmp, with its own gradebook, graded once for real (ada hands in the reference answers: 16 / 16).
Then the grading environment is broken in the two ways the issue met, and the class is graded again:

* the mixed checkout: the course folder holds its own copy of the course's packages and ``python -m graders``
  runs there, while the grading kernel imports this checkout's (this venv's editable install);
* a grading kernel whose environment lacks the course's packages (a venv without the course installed, which
  the grading kernel spec names through JUPYTER_PATH): its setup cell fails with ModuleNotFoundError, the
  issue's ``No module named 'graders'``. Stock ``nbgrader autograde`` is run there too, and the doctor.

Each time the command exits non-zero with one line naming the cause, and the gradebook keeps its bytes.
How the canary names the cause is checked first, on executed notebooks made here (no kernel).
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from submissions import REPO, Sample, released_course
from traitlets.config import Config

from graders.author import build
from graders.check.kernel.startup import GRADING_KERNEL_NAME, kernel_json
from graders.runner import batch, canary
from graders.runner import setup_cell as rule
from graders.runner.gradebook import NBGRADER, Recorder

ASSIGNMENT = "torch_pipeline"
CHECKOUT_PACKAGES = ("course", "graders", "solutions")  # what a clone of the course holds
NOTHING_GRADED = f"no submission was graded. Run python -m graders doctor {ASSIGNMENT}."


def code(source: str, *outputs, **nbgrader):
    return new_code_cell(source, outputs=list(outputs), metadata={"nbgrader": {"locked": False, **nbgrader}})


def setup_cell(*outputs):
    return code("from graders.check.notebook import StepChecks", *outputs, locked=True, grade=False, solution=False)


def scored(*cells, setup=()) -> tuple[float, float, str | None]:
    return canary.score({"torch_pipeline": new_notebook(cells=[setup_cell(*setup), *cells])}, Config())


def graded_cell(name: str, points: float, *outputs):
    return code("check.hidden(...)", *outputs, grade=True, solution=False, grade_id=name, points=points, locked=True)


def test_the_canary_names_the_first_cell_that_failed_and_why():
    train = code("def train(): ...", grade=False, solution=True, grade_id="train")
    assert scored(train, graded_cell("train_tests", 3)) == (3, 3, None)
    cuda = new_output("error", ename="RuntimeError", evalue="CUDA error: no kernel image\nmore", traceback=[])
    name_error = new_output("error", ename="NameError", evalue="name 'train' is not defined", traceback=[])
    assert scored(code("def train(): ...", cuda, grade=False, solution=True, grade_id="train"), graded_cell("train_tests", 3, name_error)) == (
        0, 3, "cell train failed (RuntimeError: CUDA error: no kernel image)"
    )
    stderr = new_output("stream", name="stderr", text="\n✗ step 6 (train): loss rose\n")
    assert scored(train, graded_cell("train_tests", 3, stderr))[2] == "cell train_tests failed (it wrote to stderr: ✗ step 6 (train): loss rose)"
    partial = new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1)
    assert scored(graded_cell("results_tests", 3, partial)) == (1.5, 3, "cell results_tests earned 1.5 of 3 points")
    missing = new_output("error", ename="ModuleNotFoundError", evalue="No module named 'graders'", traceback=[])
    failed = scored(graded_cell("train_tests", 3, name_error), setup=[missing])
    assert failed == (0, 3, "the setup cell failed (ModuleNotFoundError: No module named 'graders')")
    answer = code("written", grade=True, solution=True, grade_id="q1", points=2)
    assert scored(answer) == (0, 0, None)  # a written answer is graded by hand: it does not count


def test_a_setup_cell_failing_on_an_import_stops_the_notebook():
    notebook = new_notebook(cells=[setup_cell(), graded_cell("train_tests", 3)])
    failed = {"content": {"status": "error", "ename": "ModuleNotFoundError", "evalue": "No module named 'graders'"}}
    with pytest.raises(rule.SetupFailed) as raised:
        rule.refuse_failed_setup(notebook, 0, failed)
    assert str(raised.value) == (
        "the grading environment is broken: the setup cell failed (ModuleNotFoundError: No module named 'graders'); "
        "nothing was recorded for this submission. Run python -m graders doctor."
    )
    assert str(pickle.loads(pickle.dumps(raised.value))) == str(raised.value)  # as it comes back from a cluster's worker
    rule.refuse_failed_setup(notebook, 1, failed)  # a test cell: the student's to fail
    rule.refuse_failed_setup(notebook, 0, {"content": {"status": "error", "ename": "ValueError", "evalue": "x"}})
    rule.refuse_failed_setup(notebook, 0, {"content": {"status": "ok"}})


@pytest.mark.parametrize("shadow", ["torch.py", "numpy.cpython-311-x86_64-linux-gnu.so", "graders/__init__.py"])
def test_a_setup_cell_failing_beside_a_submitted_module_is_the_submissions_doing(tmp_path, shadow):
    """A submission's own module stands first on its kernel's path (a torch.py that raises): its setup cell's failed
    import then scores what it earned, and is no environment failure that would leave it unrecorded."""
    notebook = new_notebook(cells=[setup_cell()])
    failed = {"content": {"status": "error", "ename": "ImportError", "evalue": "shadowed by the submission"}}
    (tmp_path / "data").mkdir()  # a plain folder and other files shadow nothing
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(rule.SetupFailed):
        rule.refuse_failed_setup(notebook, 0, failed, str(tmp_path))
    (tmp_path / shadow).parent.mkdir(exist_ok=True)
    (tmp_path / shadow).write_text("raise ImportError('shadowed by the submission')\n")
    assert rule.submitted_modules(str(tmp_path)) == [shadow.split("/")[0]]
    rule.refuse_failed_setup(notebook, 0, failed, str(tmp_path))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course in tmp whose gradebook holds ada's grades: the reference answers, 16 / 16."""
    course = released_course(tmp_path_factory.mktemp("canary") / "course", ASSIGNMENT)
    Sample("ada").submit(course, ASSIGNMENT)
    (outcome,) = batch.autograde(course, ASSIGNMENT)
    assert outcome.graded, outcome
    earned = batch.scores(course, ASSIGNMENT)["ada"]
    assert sum(score for score, _ in earned.values()) == 16, earned
    return course


def gradebook_bytes(course: Path) -> bytes:
    return (course / "gradebook.db").read_bytes()


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"more than one line on stderr:\n{done.stderr}"
    return lines[0]


def without_course_packages(root: Path) -> dict[str, str]:
    """The environment of a command whose grading kernel runs in a venv at `root` that lacks the course's
    packages: this venv's third-party packages (a .pth path line: this venv's editable install of the course
    does not come along) and no course install. The grading kernel spec that names it is found first
    through JUPYTER_PATH."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    staff = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site) / "staff-packages.pth").write_text("".join(f"{path}\n" for path in staff))
    spec = root / "jupyter" / "kernels" / GRADING_KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(kernel_json(str(python), grading=True)))
    return build.nbgrader_env() | {"JUPYTER_PATH": str(root / "jupyter")}


@pytest.mark.slow
def test_a_course_folder_holding_its_own_packages_grades_no_one(course):
    """The issue's mix-up: `python -m graders` imports the course folder's copy, the grading kernel the venv's."""
    for package in CHECKOUT_PACKAGES:
        shutil.copytree(REPO / package, course / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = gradebook_bytes(course)
    try:
        done = subprocess.run(  # typed in the course folder: its own graders runs, with the course there as root
            [sys.executable, "-m", "graders", "autograde", ASSIGNMENT],
            cwd=course, capture_output=True, text=True, env=build.nbgrader_env(), timeout=300,
        )
    finally:
        for package in CHECKOUT_PACKAGES:
            shutil.rmtree(course / package)
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_line(done)
    assert line.startswith("error: the grading environment is broken: the grading kernel ("), line
    assert f"imports course from {REPO / 'course'}, but this command from {course / 'course'};" in line, line
    assert line.endswith(NOTHING_GRADED), line
    assert gradebook_bytes(course) == before


@pytest.mark.slow
def test_a_grading_kernel_that_cannot_import_the_course_grades_no_one(course, tmp_path):
    env = without_course_packages(tmp_path)
    before, scores = gradebook_bytes(course), batch.scores(course, ASSIGNMENT)
    done = subprocess.run(
        [sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--root", str(course)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_line(done)
    cause = "the setup cell failed (ModuleNotFoundError: No module named 'graders')"
    assert line == f"error: the grading environment is broken: {cause}; {NOTHING_GRADED}", line
    assert done.stdout == ""
    assert gradebook_bytes(course) == before

    # Stock nbgrader (and formgrader's button) cannot run the canary first: the submission fails loudly instead.
    stock = subprocess.run(
        [*NBGRADER, "autograde", ASSIGNMENT, "--force", "--student", "ada"],
        cwd=course, capture_output=True, text=True, env=env, timeout=300,
    )
    assert stock.returncode != 0, stock.stdout + stock.stderr
    assert f"{cause}; nothing was recorded for this submission" in stock.stderr, stock.stderr
    assert "There was an error processing assignment 'torch_pipeline' for student 'ada'" in stock.stderr
    assert Recorder(course).scores(ASSIGNMENT) == scores
    assert gradebook_bytes(course) == before

    # The doctor runs the same canary, and says where the kernel's packages are not.
    doctor = subprocess.run(
        [sys.executable, "-m", "graders", "doctor", ASSIGNMENT, "--root", str(course)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    report = doctor.stdout.splitlines()
    packages = next(line for line in report if line.split()[1:3] == ["course", "packages"])
    assert packages.startswith("MISSING") and f"{tmp_path / 'venv' / 'bin' / 'python'}) cannot import course, graders" in packages
    reference = next(line for line in report if line.split()[1:3] == ["reference", "answers"])
    assert reference.startswith("MISSING") and reference.endswith(f"{ASSIGNMENT}: {cause}"), reference


@pytest.mark.slow
def test_the_reference_is_graded_only_when_no_submission_earns_full_marks(tmp_path, monkeypatch):
    """A class whose submission earns full marks has shown that the environment can grade: no canary. A class whose
    first results all fall short waits for it: the reference answers are graded before any of its grades is written."""
    course = released_course(tmp_path / "course", ASSIGNMENT)
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "exchange"))
    Sample("ada").submit(course, ASSIGNMENT)
    Sample("bea", base="release").submit(course, ASSIGNMENT)  # the release as handed out: nothing earned
    canaries, grade_reference = [], canary.grade_reference

    def counted(recorder, job, run):
        canaries.append(sorted(batch.scores(course, ASSIGNMENT)))  # who is in the gradebook when it runs
        return grade_reference(recorder, job, run)

    monkeypatch.setattr(canary, "grade_reference", counted)
    (ada,) = batch.autograde(course, ASSIGNMENT, ["ada"])
    assert (ada.message, canaries) == ("graded", [])
    (bea,) = batch.autograde(course, ASSIGNMENT, ["bea"])
    unfilled = "graded; the whole pipeline stopped: a function it needs is not written yet. Fill in the cells above, then re-run this cell."
    assert (bea.message, canaries) == (unfilled, [["ada"]])
    assert sum(score for score, _ in batch.scores(course, ASSIGNMENT)["ada"].values()) == 16
    assert sum(score for score, _ in batch.scores(course, ASSIGNMENT)["bea"].values()) == 0
